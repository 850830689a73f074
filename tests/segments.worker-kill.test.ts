import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
segments:
  - id: vip
    when: "$customer.traits.lifetime_value >= 1000"
workflows:
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: vip-welcome
    trigger: { type: event, on: segment.entered, when: "segment = 'vip'" }
    steps: [{ type: log, message: "VIP {{ $customer.id }}" }]
`;

const PEOPLE = 80;
/** Three orders each (400, 350, 300: the third, whichever it is, crosses 1,000), the third also delivered a second time. */
const ORDERS = [400, 350, 300];

function orderBody(person: number, n: number): string {
  return JSON.stringify({
    admin_graphql_api_id: `gid://shopify/Order/${person * 10 + n}`,
    name: `#${person * 10 + n}`,
    email: `p${person}@kill.example`,
    financial_status: 'paid',
    total_price: ORDERS[n]!.toFixed(2),
    current_total_price: ORDERS[n]!.toFixed(2),
    currency: 'EUR',
    created_at: new Date(Date.parse('2026-06-01T00:00:00Z') + n * 86_400_000).toISOString(),
    customer: { admin_graphql_api_id: `gid://shopify/Customer/${9000 + person}`, email: `p${person}@kill.example` },
    line_items: [],
  });
}

/** The workers' last warnings and errors (pino level ≥ 40), for the message of a timeout. */
const warnings: string[] = [];

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)), 'worker'], {
    env: { ...process.env, ...env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!/"level":(4|5|6)\d/.test(line)) return;
    warnings.push(line.slice(0, 300));
    if (warnings.length > 8) warnings.shift();
  });
  return child;
}

/** Counts by status of what the wait depends on, and the last run errors: what a timeout needs to be understood. */
async function describeState(db: TestDatabase): Promise<string> {
  const rows = async (sql: string) => JSON.stringify((await db.pool.query(sql)).rows);
  return [
    `runs ${await rows('SELECT workflow, status, attempts, count(*)::int AS n FROM workflow_runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3')}`,
    `inbox ${await rows('SELECT status, count(*)::int AS n FROM inbox_events GROUP BY 1')}`,
    `engine events ${await rows('SELECT type, status, count(*)::int AS n FROM engine_events GROUP BY 1, 2')}`,
    `vip members ${await count(db.pool, "SELECT 1 FROM segment_memberships WHERE segment_id = 'vip'")}`,
    `worker warnings ${JSON.stringify(warnings)}`,
    `errors ${await rows('SELECT id, workflow, status, error FROM workflow_runs WHERE error IS NOT NULL ORDER BY id DESC LIMIT 5')}`,
  ].join('; ');
}

describe('kill -9 of a worker mid-run: every customer crossing 1,000 enters vip once and its workflow runs once', () => {
  let db: TestDatabase;
  let api: Crmflow;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      extra: { CRMFLOW_LOCK_MS: '2000', WORKER_CONCURRENCY: '16' },
    });
    api = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await api?.close();
    await db?.drop();
  });

  it('exactly once across the crash and the redelivery', async () => {
    for (let person = 0; person < PEOPLE; person++) {
      for (const n of [0, 1, 2, 2]) {
        const body = orderBody(person, n);
        expect(
          (await post(api, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
        ).toBe(202);
      }
    }
    const first = startWorkerProcess(env);
    children.push(first);
    await waitFor(
      'the first worker mid-way',
      async () => (await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.entered'")) >= PEOPLE / 4,
      60_000,
      20,
    );
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect(
      await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'vip-welcome' AND status = 'succeeded'"),
    ).toBeLessThan(PEOPLE);

    const second = startWorkerProcess(env);
    children.push(second);
    await waitFor(
      async () => `every vip-welcome run; the state then: ${await describeState(db)}`,
      async () => {
        await api.reconcile();
        return (
          (await count(
            db.pool,
            "SELECT 1 FROM workflow_runs WHERE workflow = 'vip-welcome' AND status = 'succeeded'",
          )) >= PEOPLE &&
          (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'pending'")) === 0 &&
          (await count(db.pool, "SELECT 1 FROM engine_events WHERE status = 'pending'")) === 0
        );
      },
      200_000,
      500,
    );
    second.kill('SIGTERM');

    expect(
      await count(
        db.pool,
        "SELECT 1 FROM customers WHERE merged_into IS NULL AND (traits->>'lifetime_value')::numeric = 1050 AND (traits->>'orders_count')::int = 3",
      ),
    ).toBe(PEOPLE);
    expect(await count(db.pool, "SELECT 1 FROM segment_memberships WHERE segment_id = 'vip'")).toBe(PEOPLE);
    expect(
      await count(db.pool, "SELECT 1 FROM segment_memberships WHERE segment_id = 'vip' AND exited_at IS NULL"),
    ).toBe(PEOPLE);
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.entered'")).toBe(PEOPLE);
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'vip-welcome'")).toBe(PEOPLE);
  }, 300_000);
});
