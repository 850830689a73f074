import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const BASE = `
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
workflows:
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: on-entry
    trigger: { type: event, on: segment.entered }
    steps: [{ type: log, message: "{{ segment }}" }]
`;

describe('segments: backfill at start-up of a new, edited or removed segment', () => {
  let db: TestDatabase;
  let app: Crmflow | undefined;
  const prefix = testPrefix();
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const start = async (segments: string) => {
    await app?.close();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(`${BASE}${segments}`), prefix }),
    );
    await app.segments!.backfill;
  };
  const stays = async (segment: string) =>
    (
      await db.pool.query<{
        customer_id: number;
        exited_at: Date | null;
        entered_by: string;
        exited_by: string | null;
      }>(
        'SELECT customer_id, exited_at, entered_by, exited_by FROM segment_memberships WHERE segment_id = $1 ORDER BY customer_id, id',
        [segment],
      )
    ).rows;
  const entered = (segment: string) =>
    count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.entered' AND data->>'segment' = $1", [segment]);

  it('computes existing customers without events unless on_backfill: emit; an edit recomputes, a removal closes', async () => {
    await start('');
    for (let i = 0; i < 6; i++) {
      const body = JSON.stringify({
        admin_graphql_api_id: `gid://shopify/Order/${8000 + i}`,
        name: `#${8000 + i}`,
        email: `b${i}@backfill.example`,
        financial_status: 'paid',
        total_price: String(200 * i),
        current_total_price: String(200 * i),
        currency: 'EUR',
        created_at: '2026-05-01T10:00:00Z',
        customer: { admin_graphql_api_id: `gid://shopify/Customer/${8000 + i}`, email: `b${i}@backfill.example` },
        line_items: [],
      });
      expect(
        (await post(app!, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
      ).toBe(202);
    }
    await waitFor(
      'six customers with traits',
      async () => (await count(db.pool, "SELECT 1 FROM customers WHERE traits ? 'orders_count'")) === 6,
    );

    // Spent 600 or more: customers 3, 4, 5.
    await start(`segments:
  - { id: quiet, when: "$customer.traits.lifetime_value >= 600" }
  - { id: loud, when: "$customer.traits.lifetime_value >= 600", on_backfill: emit }
`);
    expect((await stays('quiet')).map((stay) => [stay.entered_by, stay.exited_at])).toEqual([
      ['backfill', null],
      ['backfill', null],
      ['backfill', null],
    ]);
    expect(await stays('loud')).toHaveLength(3);
    expect(await entered('quiet')).toBe(0);
    expect(await entered('loud')).toBe(3);
    await waitFor(
      'the on-entry runs',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'on-entry' AND status = 'succeeded'")) ===
        3,
    );

    // The same definitions again: nothing is recomputed or fired.
    await start(`segments:
  - { id: quiet, when: "$customer.traits.lifetime_value >= 600" }
  - { id: loud, when: "$customer.traits.lifetime_value >= 600", on_backfill: emit }
`);
    expect(await entered('loud')).toBe(3);

    // `quiet` edited to 800 or more (customers 4 and 5), `loud` removed.
    await start(`segments:
  - { id: quiet, when: "$customer.traits.lifetime_value >= 800" }
`);
    const quiet = await stays('quiet');
    expect(quiet.filter((stay) => stay.exited_at === null)).toHaveLength(2);
    expect(quiet.filter((stay) => stay.exited_at !== null).map((stay) => stay.exited_by)).toEqual(['backfill']);
    expect((await stays('loud')).map((stay) => stay.exited_by)).toEqual(['removed', 'removed', 'removed']);
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.exited'")).toBe(0);
    expect((await db.pool.query('SELECT id, version FROM segment_definitions')).rows).toEqual([
      { id: 'quiet', version: expect.any(String) },
    ]);
  }, 120_000);
});
