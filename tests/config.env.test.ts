import { readFileSync } from 'node:fs';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ENV_VARS, envExampleText, envReferenceMarkdown } from '../src/config/env.js';
import { startCrmflow } from '../src/runtime.js';
import { writeConfig } from './helpers/crmflow.js';

describe('configuration from the environment', () => {
  it('.env.example lists every variable crmflow reads, with its demo or default value', () => {
    expect(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')).toBe(envExampleText());
  });

  it('the README configuration reference is the one generated from the variable list (`crmflow env --markdown`)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = /<!-- env:start -->\n([\s\S]*?)\n<!-- env:end -->/.exec(readme)?.[1];
    expect(section).toBe(envReferenceMarkdown());
    for (const spec of ENV_VARS) expect(section).toContain(`\`${spec.name}\``);
  });

  it('refuses to start in production with an unset secret, naming it', async () => {
    const configPath = writeConfig(
      'connectors:\n  form: { secrets: { webhook_secret: "${FORM_WEBHOOK_SECRET}" } }\nworkflows: []\n',
    );
    await expect(
      startCrmflow({
        env: { NODE_ENV: 'production', CRMFLOW_CONFIG: configPath, CRMFLOW_API_TOKEN: 't' },
        roles: { api: false, worker: false, scheduler: false },
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/FORM_WEBHOOK_SECRET is not set \(required in production\)/);
    const noToken = writeConfig('workflows: []\n');
    await expect(
      startCrmflow({
        env: { NODE_ENV: 'production', CRMFLOW_CONFIG: noToken },
        roles: { api: false, worker: false, scheduler: false },
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/CRMFLOW_API_TOKEN is not set/);
  });
});
