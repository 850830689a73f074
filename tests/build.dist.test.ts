import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { FORM_CONNECTOR } from './helpers/engine.js';
import { freePort } from './helpers/net.js';
import { formHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Production runs compiled JavaScript: the build (`npm run build`: tsc, then the run-time files beside the modules)
 * gives a tree that starts and works with no TypeScript and no tsx. Built into a folder of its own inside the
 * repository (so node_modules resolves), never over a developer's dist/.
 */
describe('the production build', () => {
  let out: string;
  let db: TestDatabase;
  const children: ChildProcess[] = [];

  beforeAll(() => {
    out = mkdtempSync(join(ROOT, '.dist-test-'));
    const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', out], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    execFileSync(process.execPath, ['scripts/copy-assets.mjs', out], { cwd: ROOT, stdio: 'inherit' });
  }, 240_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await db?.drop();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('holds the compiled modules and every file they read at run time', () => {
    for (const file of [
      'cli/main.js',
      'runtime.js',
      'store/migrations/0001_init.sql',
      'connectors/form/mappings/lead.jsonata',
      'connectors/form/samples/lead_submitted.json',
      'connectors/form/mapping-cases.yaml',
      'dashboard/public/dashboard.css',
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    expect(existsSync(join(out, 'cli/main.ts'))).toBe(false);
  });

  it('runs the mapping tests (mappings, samples and cases found from the build)', () => {
    const output = execFileSync(process.execPath, [join(out, 'cli/main.js'), 'test', 'workflows.yaml'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    expect(output).toMatch(/passed/);
  }, 60_000);

  it('starts the API from the build (migrations from the build), takes a webhook, and a worker runs it', async () => {
    db = await createTestDatabase();
    const config = `version: 1\n${FORM_CONNECTOR}\nworkflows:\n  - id: lead\n    trigger: { type: webhook, connector: form, event: lead.submitted }\n    steps: [{ type: map }, { type: upsert_customer }]\n`;
    const port = await freePort();
    const env = {
      ...process.env,
      ...testEnv({ databaseUrl: db.url, configPath: writeConfig(config), prefix: testPrefix() }),
      PORT: String(port),
      CI: 'true',
    };
    children.push(
      spawn(process.execPath, [join(out, 'cli/main.js'), 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] }),
    );
    await waitFor(
      'the API built to JavaScript to be ready',
      () =>
        fetch(`http://127.0.0.1:${port}/readyz`).then(
          (response) => response.ok,
          () => false,
        ),
      60_000,
      200,
    );
    const body = JSON.stringify({ submission_id: 'dist-1', name: 'Ana Build', email: 'ana@dist.example' });
    expect(
      (
        await fetch(`http://127.0.0.1:${port}/webhooks/form`, {
          method: 'POST',
          body,
          headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
        })
      ).status,
    ).toBe(202);
    await waitFor(
      'the run',
      async () => (await db.pool.query("SELECT 1 FROM workflow_runs WHERE status = 'succeeded'")).rowCount === 1,
      30_000,
    );
  }, 120_000);
});
