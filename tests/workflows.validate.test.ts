import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue, loadConfigText } from '../src/workflows/load.js';
import { writeConfig } from './helpers/crmflow.js';

const ENV = { SHOPIFY_WEBHOOK_SECRET: 's1', FORM_WEBHOOK_SECRET: 's2', NODE_ENV: 'production' };

function issuesOf(text: string, env: Record<string, string> = ENV): string[] {
  try {
    loadConfigText(text, 'workflows.yaml', { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
}

const BROKEN = `version: 1
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
  form:
    secrets:
      webhook_secret: \${NOT_SET_ANYWHERE}
agents:
  - { id: alice, name: Alice }
pools:
  sales: { agents: [alice, zed] }
workflows:
  - id: orders
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps:
      - type: mapp
      - type: reply
        pol: sales
      - type: assign_lead
        pool: nosuchpool
      - type: filter
        when: "total_price >"
  - id: nightly
    trigger: { type: schedule, cron: "61 * * * *" }
    steps:
      - type: log
        message: "tick {{ $event. }}"
`;

describe('workflows.yaml validation', () => {
  it('reports every problem as file:line:col message', () => {
    const issues = issuesOf(BROKEN);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^workflows\.yaml:8:23 environment variable NOT_SET_ANYWHERE is not set/),
        'workflows.yaml:12:28 unknown agent "zed" in pool sales',
        expect.stringMatching(/^workflows\.yaml:17:15 unknown step type "mapp"; expected one of: map, filter/),
        'workflows.yaml:18:9 missing field `channel`',
        'workflows.yaml:18:9 missing field `body`',
        'workflows.yaml:19:9 field `pol` not recognised',
        'workflows.yaml:21:15 unknown agent pool "nosuchpool"; declared pools: sales',
        expect.stringMatching(/^workflows\.yaml:23:15 JSONata syntax error/),
        'workflows.yaml:25:38 invalid cron expression "61 * * * *"',
        expect.stringMatching(/^workflows\.yaml:28:18 in template: JSONata syntax error/),
      ]),
    );
    expect(issues).toHaveLength(10);
  });

  it('reports YAML syntax errors with their position', () => {
    expect(issuesOf('workflows:\n  - id: a\n   bad: [\n')[0]).toMatch(/^workflows\.yaml:3:\d+ /);
  });

  it('rejects unknown top-level keys, connectors and event types', () => {
    const config = `connectors:
  shopify: { secrets: { webhook_secret: x } }
  hubspot: { secrets: {} }
workflows:
  - id: a
    trigger: { type: webhook, connector: shopify, event: order.teleported }
    steps: [{ type: map }]
`;
    // A structural error (unknown top-level key) stops there; the rest is checked once the structure is right.
    expect(issuesOf(`connectorz: {}\n${config}`)).toEqual(['workflows.yaml:1:1 field `connectorz` not recognised']);
    const second = issuesOf(config);
    expect(second).toEqual([
      expect.stringMatching(/^workflows\.yaml:3:3 unknown connector "hubspot"/),
      expect.stringMatching(/^workflows\.yaml:6:58 connector shopify has no event "order\.teleported"/),
    ]);
  });

  it('uses demo values for unset secrets outside production, with a warning, and never for unknown variables', () => {
    const text =
      'connectors:\n  shopify: { secrets: { webhook_secret: "${SHOPIFY_WEBHOOK_SECRET}" } }\nworkflows: []\n';
    const loaded = loadConfigText(text, 'workflows.yaml', { env: {} });
    expect(loaded.connectors.get('shopify')!.secrets.webhook_secret).toBe('demo-shopify-secret');
    expect(loaded.demoSecrets).toEqual(['SHOPIFY_WEBHOOK_SECRET']);
    expect(loaded.connectors.get('shopify')!.demoSecrets).toEqual(['SHOPIFY_WEBHOOK_SECRET']);
    expect(loaded.warnings).toEqual([
      expect.stringContaining('SHOPIFY_WEBHOOK_SECRET is not set: using its DEMO value'),
    ]);
    expect(issuesOf(text, { NODE_ENV: 'production' })).toEqual([
      'workflows.yaml:2:41 environment variable SHOPIFY_WEBHOOK_SECRET is not set (required in production)',
    ]);
  });

  it('catches an unknown phone region and holidays that are not dates', () => {
    const text = `identity: { default_region: XX }
connectors:
  form: { secrets: { webhook_secret: x }, default_region: ZZ }
business_hours:
  support: { time_zone: America/New_York, open: { mon-fri: "09:00-18:00" }, holidays: [2026-12-25, 2026-13-45, "2026-02-30"] }
workflows: []
`;
    expect(issuesOf(text)).toEqual([
      'workflows.yaml:1:29 unknown region "XX": use an ISO 3166 alpha-2 code with phone numbers, e.g. US, GB, DE',
      'workflows.yaml:3:59 unknown region "ZZ": use an ISO 3166 alpha-2 code with phone numbers, e.g. US, GB, DE',
      'workflows.yaml:5:100 holiday "2026-13-45" is not a date (YYYY-MM-DD)',
      'workflows.yaml:5:112 holiday "2026-02-30" is not a date (YYYY-MM-DD)',
    ]);
  });

  it("reports a step's JSONata syntax errors along with its other errors, and a bad duration once, in words", () => {
    const text = `connectors:
  form: { secrets: { webhook_secret: x } }
workflows:
  - id: w
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: map, expr: "(( broken", extra: 1 }
      - { type: filter, when: "$x", if: "$$(", bogus: 2 }
      - { type: wait, for: 2 days }
`;
    const issues = issuesOf(text);
    expect(issues).toEqual(
      expect.arrayContaining([
        'workflows.yaml:7:41 field `extra` not recognised',
        expect.stringMatching(/^workflows\.yaml:7:28 JSONata syntax error/),
        'workflows.yaml:8:48 field `bogus` not recognised',
        expect.stringMatching(/^workflows\.yaml:8:41 JSONata syntax error/),
        'workflows.yaml:9:28 `for` "2 days" is not valid: How long to wait: 30s, 10m, 2h, 2d.',
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('refuses alias bombs', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...'bcdefghij'
        .split('')
        .map(
          (c, i) =>
            `${c}: &${c} [*${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}, *${'abcdefghij'[i]}]`,
        ),
    ].join('\n');
    expect(issuesOf(bomb)[0]).toMatch(/^workflows\.yaml:1:1 .*alias/i);
  });

  it('accepts the shipped example (demo mode, as a newcomer runs it)', () => {
    const { status, stdout } = spawnSync(
      process.execPath,
      [
        fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)),
        'validate',
        fileURLToPath(new URL('../workflows.yaml', import.meta.url)),
      ],
      {
        env: { PATH: process.env.PATH },
        encoding: 'utf8',
      },
    );
    expect(stdout).toMatch(/workflows\.yaml: ok \(\d+ workflows/);
    expect(status).toBe(0);
  });

  it('`crmflow validate` prints every error and exits 1', () => {
    const path = writeConfig(BROKEN);
    const { status, stderr } = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)), 'validate', path],
      {
        env: { ...process.env, ...ENV },
        encoding: 'utf8',
      },
    );
    expect(status).toBe(1);
    expect(stderr.split('\n').filter((line) => /^workflows\.yaml:\d+:\d+ /.test(line))).toHaveLength(10);
    expect(stderr).toContain('10 problems in');
  });
});
