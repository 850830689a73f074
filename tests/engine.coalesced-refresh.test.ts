import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

// A run refreshes its customer's traits once (#21): a step reading `$customer.traits` gets them current first, and a
// run with no such step leaves them current at its end.
const CONFIG = `
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
workflows:
  - id: order-created
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: timeline }
      - { id: hello, type: log, message: "hello {{ $customer.first_name }}" }
      - { id: count, type: log, message: "orders {{ $customer.traits.orders_count }}" }
  - id: order-paid
    trigger: { type: webhook, connector: shopify, event: order.paid }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

function shopifyOrder(id: number, total: number): string {
  const at = new Date(Date.UTC(2026, 10, id % 28)).toISOString();
  return JSON.stringify({
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${id}`,
    email: 'ines@coalesce.example',
    financial_status: 'paid',
    total_price: total.toFixed(2),
    current_total_price: total.toFixed(2),
    currency: 'EUR',
    created_at: at,
    updated_at: at,
    customer: { admin_graphql_api_id: 'gid://shopify/Customer/5', email: 'ines@coalesce.example', first_name: 'Ines' },
    line_items: [],
  });
}

describe('engine: one traits refresh per run', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const deliver = async (id: number, total: number, topic: string) => {
    const body = shopifyOrder(id, total);
    const response = await post(
      app,
      '/webhooks/shopify',
      body,
      shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, topic),
    );
    expect(response.status).toBe(202);
    await waitFor(
      'the run finished',
      async () =>
        (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'pending'")) === 0 &&
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status NOT IN ('succeeded', 'failed')")) === 0,
    );
  };
  const traits = async () =>
    (await db.pool.query<{ traits: Record<string, unknown> }>('SELECT traits FROM customers WHERE merged_into IS NULL'))
      .rows;
  const logged = async (step: string) =>
    (
      await db.pool.query<{ message: string }>(
        "SELECT output->>'message' AS message FROM run_steps WHERE step_id = $1 ORDER BY run_id",
        [step],
      )
    ).rows.map((row) => row.message);

  it('a step reading $customer.traits sees the run’s own changes; a run without one leaves them current at its end', async () => {
    await deliver(1, 100, 'orders/create');
    expect(await logged('count')).toEqual(['orders 1']);
    await deliver(2, 50, 'orders/paid'); // no step of this workflow reads traits
    expect(await traits()).toEqual([expect.objectContaining({ traits: expect.objectContaining({ orders_count: 2 }) })]);
    await deliver(3, 25, 'orders/create');
    expect(await logged('count')).toEqual(['orders 1', 'orders 3']);
    expect(await logged('hello')).toEqual(['hello Ines', 'hello Ines']);
    expect(await traits()).toEqual([
      expect.objectContaining({ traits: expect.objectContaining({ orders_count: 3, lifetime_value: 175 }) }),
    ]);
    // Every step is recorded, the rerunnable ones (upsert_customer, timeline) included.
    expect(await count(db.pool, "SELECT 1 FROM run_steps WHERE status = 'succeeded'")).toBe(5 + 3 + 5);
  });
});
