import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import {
  api,
  post,
  SECRETS,
  startTestCrmflow,
  TEST_TOKEN,
  testEnv,
  testPrefix,
  writeConfig,
} from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const DAY = 86_400_000;

const CONFIG = `
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
segments:
  - id: vip
    name: Spent 1,000 or more
    when: "$customer.traits.lifetime_value >= 1000"
  - id: scored
    when: "score >= 100"
  - id: lapsing
    name: Past their usual rhythm
    when: "$customer.traits.orders_count >= 2 and $daysSince($customer.traits.last_order_at) > 1.5 * $customer.traits.average_days_between_orders"
workflows:
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: [order.created, order.updated, order.paid] }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: vip-welcome
    trigger: { type: event, on: segment.entered, when: "segment = 'vip'" }
    steps:
      - { type: log, message: "VIP {{ $customer.id }} at {{ $customer.traits.lifetime_value }}" }
      - { type: score, rules: [{ when: "true", add: 100 }] }
  - id: vip-left
    trigger: { type: event, on: segment.exited, when: "segment = 'vip'" }
    steps: [{ type: log, message: "no longer VIP" }]
  - id: win-back
    trigger: { type: event, on: segment.entered, when: "segment = 'lapsing'" }
    steps: [{ type: log, message: "lapsing {{ $customer.id }}" }]
`;

interface Order {
  id: number;
  customer: number;
  email: string;
  total: number;
  kept?: number;
  status?: string;
  createdAt: Date;
  updatedAt?: Date;
}

/** A Shopify order webhook body with the fields the default mapping reads. */
function shopifyOrder(order: Order): string {
  return JSON.stringify({
    admin_graphql_api_id: `gid://shopify/Order/${order.id}`,
    name: `#${order.id}`,
    email: order.email,
    financial_status: order.status ?? 'paid',
    total_price: order.total.toFixed(2),
    current_total_price: (order.kept ?? order.total).toFixed(2),
    currency: 'EUR',
    created_at: order.createdAt.toISOString(),
    updated_at: (order.updatedAt ?? order.createdAt).toISOString(),
    customer: {
      admin_graphql_api_id: `gid://shopify/Customer/${order.customer}`,
      email: order.email,
      first_name: 'Vera',
    },
    line_items: [],
  });
}

describe('segments: membership kept current by changes and by the sweep', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let offset = 0;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
      undefined,
      () => new Date(Date.now() + offset),
    );
    await app.segments!.backfill;
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const deliver = async (order: Order, topic = 'orders/create') => {
    const body = shopifyOrder(order);
    const response = await post(
      app,
      '/webhooks/shopify',
      body,
      shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, topic),
    );
    expect(response.status).toBe(202);
  };
  const settled = () =>
    waitFor(
      'every run and engine event settled',
      async () =>
        (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'pending'")) === 0 &&
        (await count(db.pool, "SELECT 1 FROM engine_events WHERE status = 'pending'")) === 0 &&
        (await count(
          db.pool,
          "SELECT 1 FROM workflow_runs WHERE status NOT IN ('succeeded', 'failed', 'filtered')",
        )) === 0,
    );
  const customerOf = async (email: string) =>
    (
      await db.pool.query<{ id: number; traits: Record<string, unknown> }>(
        "SELECT c.id, c.traits FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE i.kind = 'email' AND i.value = $1 AND c.merged_into IS NULL",
        [email],
      )
    ).rows[0]!;
  const runsOf = (workflow: string) =>
    count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = $1 AND status = 'succeeded'", [workflow]);
  const stays = async (customerId: number, segment: string) =>
    (
      await db.pool.query(
        'SELECT entered_at, exited_at, entered_by, exited_by FROM segment_memberships WHERE customer_id = $1 AND segment_id = $2 ORDER BY id',
        [customerId, segment],
      )
    ).rows;

  it('three orders crossing 1,000 enter vip once and run its workflow once, even with the third order delivered twice; a refund below leaves once', async () => {
    const base = new Date(Date.now() - 20 * DAY);
    const orders: Order[] = [400, 350, 300].map((total, i) => ({
      id: 1001 + i,
      customer: 77,
      email: 'vera@vip.example',
      total,
      createdAt: new Date(base.getTime() + i * 10 * DAY),
    }));
    await deliver(orders[0]!);
    await deliver(orders[1]!);
    await settled();
    const vera = await customerOf('vera@vip.example');
    expect(vera.traits).toMatchObject({ orders_count: 2, lifetime_value: 750, currency: 'EUR' });
    expect(await stays(vera.id, 'vip')).toEqual([]);

    await deliver(orders[2]!);
    await deliver(orders[2]!); // the same delivery again
    await deliver(orders[2]!, 'orders/paid'); // and the same order under another topic
    await settled();
    expect((await customerOf('vera@vip.example')).traits).toMatchObject({
      orders_count: 3,
      lifetime_value: 1050,
      average_order_value: 350,
    });
    expect(await stays(vera.id, 'vip')).toEqual([expect.objectContaining({ entered_by: 'change', exited_at: null })]);
    expect(
      await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.entered' AND data->>'segment' = 'vip'"),
    ).toBe(1);
    expect(await runsOf('vip-welcome')).toBe(1);
    const detail = await api(app, `/api/customers/${vera.id}`);
    expect(detail.body).toMatchObject({
      segments: ['scored', 'vip'],
      traits: { lifetime_value: 1050, orders_count: 3 },
    });
    // The score step of the vip workflow is a change too: it moved Vera into `scored`, once.
    expect(await stays(vera.id, 'scored')).toEqual([
      expect.objectContaining({ entered_by: 'change', exited_at: null }),
    ]);
    const list = await api(app, '/api/segments');
    expect(list.body.segments).toContainEqual(
      expect.objectContaining({
        id: 'vip',
        name: 'Spent 1,000 or more',
        members: 1,
        entered_30d: 1,
        exited_30d: 0,
        time_based: false,
      }),
    );
    expect((await api(app, '/api/segments/vip/members?limit=1')).body).toEqual({
      customers: [expect.objectContaining({ id: vera.id, email: 'vera@vip.example' })],
      next_after: vera.id,
    });
    expect((await api(app, `/api/segments/vip/members?after=${vera.id}`)).body).toEqual({
      customers: [],
      next_after: null,
    });
    const csv = await fetch(`${app.url}/api/segments/vip/members`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}`, accept: 'text/csv' },
    });
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await csv.text()).split('\r\n')).toEqual([
      'id,name,email,lifecycle_stage,owner_agent_id,entered_at',
      expect.stringMatching(new RegExp(`^${vera.id},Vera,vera@vip.example,customer,,`)),
      '',
    ]);
    expect((await api(app, '/api/segments/nope/members')).status).toBe(404);
    expect((await api(app, '/api/segments/vip/members?after=-1')).status).toBe(400);

    // The dashboard: the Segments page, the members page and the customer page.
    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TEST_TOKEN, next: '/segments' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = async (path: string) => (await fetch(`${app.url}${path}`, { headers: { cookie } })).text();
    expect(await page('/segments')).toMatch(
      /<a href="\/segments\/vip"><strong>Spent 1,000 or more<\/strong><\/a>[\s\S]*?<td class="num">1<\/td>\s*<td class="num">1<\/td>\s*<td class="num">0<\/td>/,
    );
    expect(await page('/segments/vip')).toContain(`<a href="/customers/${vera.id}">Vera</a>`);
    expect(await page(`/customers/${vera.id}`)).toMatch(
      /<a class="status status-succeeded" href="\/segments\/vip">Spent 1,000 or more<\/a>[\s\S]*<dt>lifetime_value<\/dt><dd>1050<\/dd>/,
    );

    // 250 of the third order refunded (a newer version of it): 800 in all, below 1,000. Delivered twice too.
    const refund = {
      ...orders[2]!,
      status: 'partially_refunded',
      kept: 50,
      updatedAt: new Date(orders[2]!.createdAt.getTime() + DAY),
    };
    await deliver(refund, 'orders/updated');
    await deliver(refund, 'orders/updated');
    await settled();
    expect((await customerOf('vera@vip.example')).traits).toMatchObject({ orders_count: 3, lifetime_value: 800 });
    expect(await stays(vera.id, 'vip')).toEqual([
      expect.objectContaining({ exited_by: 'change', exited_at: expect.any(Date) }),
    ]);
    expect(
      await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'segment.exited' AND data->>'segment' = 'vip'"),
    ).toBe(1);
    expect(await runsOf('vip-left')).toBe(1);
    expect(await runsOf('vip-welcome')).toBe(1);
  });

  it('enters lapsing by the sweep once the clock passes 1.5 × their own rhythm, not before, touching only due customers', async () => {
    // Orders 30 days apart, the last 40 days ago: lapsing 45 days after it, 5 days from now.
    const last = Date.now() - 40 * DAY;
    // Newest first (arrival order does not matter): never past 1.5 × the rhythm on the way.
    for (const [i, days] of [0, 30, 60].entries()) {
      await deliver({
        id: 2001 + i,
        customer: 88,
        email: 'lou@lapse.example',
        total: 20,
        createdAt: new Date(last - days * DAY),
      });
      await settled(); // one at a time: the two older orders alone would be a lapse
    }
    const lou = await customerOf('lou@lapse.example');
    expect(lou.traits).toMatchObject({ orders_count: 3, average_days_between_orders: 30 });
    const { rows } = await db.pool.query<{ at: Date }>(
      'SELECT segments_recheck_at AS at FROM customers WHERE id = $1',
      [lou.id],
    );
    expect(Math.abs(rows[0]!.at.getTime() - (last + 45 * DAY))).toBeLessThanOrEqual(60_000);

    await app.segments!.sweep();
    offset = 4 * DAY;
    expect(await app.segments!.sweep()).toBe(0); // nobody is due: nothing is read
    await settled();
    expect(await stays(lou.id, 'lapsing')).toEqual([]);

    offset = 6 * DAY;
    expect(await app.segments!.sweep()).toBeGreaterThanOrEqual(1);
    expect(await app.segments!.sweep()).toBe(0);
    await settled();
    expect(await stays(lou.id, 'lapsing')).toEqual([expect.objectContaining({ entered_by: 'sweep', exited_at: null })]);
    expect(await runsOf('win-back')).toBe(1);

    // A new order ends the lapse (a change, not the sweep).
    offset = 0;
    await deliver({ id: 2004, customer: 88, email: 'lou@lapse.example', total: 20, createdAt: new Date() });
    await settled();
    expect(await stays(lou.id, 'lapsing')).toEqual([expect.objectContaining({ exited_by: 'change' })]);
  });

  it('a merge recomputes traits and membership; an unmerge is recomputed by the sweep; erasure removes the history', async () => {
    const at = new Date(Date.now() - 10 * DAY);
    await deliver({ id: 3001, customer: 301, email: 'mae@one.example', total: 600, createdAt: at });
    await deliver({
      id: 3002,
      customer: 302,
      email: 'mae@two.example',
      total: 500,
      createdAt: new Date(at.getTime() + DAY),
    });
    await settled();
    const first = await customerOf('mae@one.example');
    const second = await customerOf('mae@two.example');
    expect(first.id).not.toBe(second.id);
    expect(await stays(first.id, 'vip')).toEqual([]);

    // An order of Shopify customer 301 with the second email links both: one customer with 1,101.
    await deliver({
      id: 3003,
      customer: 301,
      email: 'mae@two.example',
      total: 1,
      createdAt: new Date(at.getTime() + 2 * DAY),
    });
    await settled();
    const merged = await customerOf('mae@two.example');
    expect(merged.id).toBe(first.id);
    expect(merged.traits).toMatchObject({ orders_count: 3, lifetime_value: 1101, first_order_at: at.toISOString() });
    expect(await stays(first.id, 'vip')).toHaveLength(1);
    expect(await runsOf('vip-welcome')).toBe(2);

    const unmerged = await api(app, `/api/customers/${first.id}/unmerge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: second.id }),
    });
    expect(unmerged.status).toBe(200);
    await app.segments!.sweep();
    await settled();
    expect((await customerOf('mae@one.example')).traits).toMatchObject({ orders_count: 2, lifetime_value: 601 });
    expect((await customerOf('mae@two.example')).traits).toMatchObject({ orders_count: 1, lifetime_value: 500 });
    expect(await stays(first.id, 'vip')).toEqual([expect.objectContaining({ exited_by: 'sweep' })]);

    expect((await api(app, `/api/customers/${first.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(await count(db.pool, 'SELECT 1 FROM segment_memberships WHERE customer_id = $1', [first.id])).toBe(0);
    expect((await db.pool.query('SELECT traits FROM customers WHERE id = $1', [first.id])).rows[0].traits).toEqual({});
  });
});
