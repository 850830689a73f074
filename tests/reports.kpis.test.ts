import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureJson } from './helpers/vendor-api.js';
import { formHeaders, shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

/**
 * A hand-computed month (March 2026, UTC):
 * - ana: google-ads form lead 03-02 10:00 → paid order 03-05 10:00, 100 USD (cycle 3 d); another 04-10, 50 USD (after March)
 * - ben: google-ads form lead 03-10, never buys
 * - cy:  facebook form lead 03-20 12:00 → paid order 03-21 00:00, 200 EUR (cycle 0.5 d)
 * - dee: website form lead 02-25 (February: not a March lead) → paid order 03-03, 80 USD
 * - eve: no lead event; orders 01-15 (40 USD) and 03-15 (60 USD): a repeat buyer, never a lead
 * - fay: google-ads form lead 03-25 → a refunded order 03-26 (not a purchase)
 */
const CONFIG = `
version: 1
connectors:
  shopify: { secrets: { webhook_secret: "\${SHOPIFY_WEBHOOK_SECRET}" } }
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
agents:
  - { id: alice, name: Alice }
  - { id: bob, name: Bob }
pools:
  sales: { agents: [alice, bob] }
  social: { agents: [bob] }
reports:
  time_zone: UTC
  marketing_spend:
    - { month: 2026-03, source: google-ads, amount: 310, currency: USD }
    - { month: 2026-02, source: google-ads, amount: 999, currency: USD }
workflows:
  - id: lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: timeline }
      - type: assign_lead
        pool: sales
        rules:
          - { when: "$record.attributes.lead_source = 'facebook'", pool: social }
          - { when: "$record.attributes.lead_source = 'google-ads'", agent: alice }
  - id: order
    trigger: { type: webhook, connector: shopify, event: [order.created, order.updated] }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

let db: TestDatabase;
let app: Crmflow;

function lead(id: string, email: string, source: string, at: string): Promise<unknown> {
  const body = JSON.stringify({ submission_id: id, name: `${id} Person`, email, source, submitted_at: at });
  return post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
}

function order(id: string, email: string, at: string, total: string, currency: string, financial = 'paid', topic = 'orders/create'): Promise<unknown> {
  const sample = fixtureJson('shopify', 'orders_create.json');
  const body = JSON.stringify({
    ...sample,
    id: Number(id),
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${id}`,
    email,
    contact_email: email,
    phone: null,
    customer: null,
    created_at: at,
    updated_at: topic === 'orders/create' ? at : new Date(Date.parse(at) + 3_600_000).toISOString(),
    financial_status: financial,
    total_price: total,
    currency,
  });
  return post(app, '/webhooks/shopify', body, { ...shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, topic), 'x-shopify-webhook-id': `${id}-${topic}` });
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestCrmflow(testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }));
  // Out of order (orders before the leads they convert) and each delivered twice.
  const deliveries = [
    () => order('9001', 'ana@example.com', '2026-03-05T10:00:00Z', '100.00', 'USD'),
    () => order('9002', 'ana@example.com', '2026-04-10T10:00:00Z', '50.00', 'USD'),
    () => order('9003', 'cy@example.com', '2026-03-21T00:00:00Z', '200.00', 'EUR'),
    () => order('9004', 'dee@example.com', '2026-03-03T09:00:00Z', '80.00', 'USD'),
    () => order('9005', 'eve@example.com', '2026-01-15T09:00:00Z', '40.00', 'USD'),
    () => order('9006', 'eve@example.com', '2026-03-15T09:00:00Z', '60.00', 'USD'),
    () => order('9007', 'fay@example.com', '2026-03-26T09:00:00Z', '70.00', 'USD', 'refunded', 'orders/updated'),
    () => lead('ana', 'ana@example.com', 'google-ads', '2026-03-02T10:00:00Z'),
    () => lead('ben', 'ben@example.com', 'google-ads', '2026-03-10T09:00:00Z'),
    () => lead('cy', 'cy@example.com', 'facebook', '2026-03-20T12:00:00Z'),
    () => lead('dee', 'dee@example.com', 'website', '2026-02-25T09:00:00Z'),
    () => lead('fay', 'fay@example.com', 'google-ads', '2026-03-25T09:00:00Z'),
  ];
  for (const deliver of [...deliveries, ...deliveries.reverse()]) await deliver();
  await waitFor('all twelve runs', async () => {
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM workflow_runs WHERE status IN ('succeeded', 'filtered', 'failed')`);
    return rows[0]!.n === 12;
  }, 60_000);
  // Two people answered by hand (the agent-reply operation records these): ana after 30 minutes, cy after 2 hours.
  await db.pool.query(
    `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, body, status, created_at, sent_at, agent_id)
     SELECT 'person-' || i.value, i.customer_id, 'email', 'smtp', i.value, 'Hi', 'sent', at::timestamptz, at::timestamptz, agent
     FROM (VALUES ('ana@example.com', '2026-03-02T10:30:00Z', 'alice'), ('cy@example.com', '2026-03-20T14:00:00Z', 'bob')) AS v(email, at, agent)
     JOIN customer_identities i ON i.kind = 'email' AND i.value = v.email`,
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

describe('GET /api/reports/kpis', () => {
  it('gives every figure of the hand-computed month, whatever the order and repetition of deliveries', async () => {
    const { status, body } = await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      from: '2026-03-01',
      to: '2026-03-31',
      time_zone: 'UTC',
      leads: 4, // ana, ben, cy, fay
      customers_won: 2, // ana, cy
      lead_conversion_rate: 0.5,
      speed_to_lead_minutes: { median: 75, p90: 111 }, // 30 and 120 minutes
      sales_cycle_days: { median: 1.75, p90: 2.75 }, // 3 and 0.5 days
      repeat_purchase_rate: 0.25, // of ana, cy, dee, eve only eve had bought twice by March 31
      average_order_value: { USD: 80, EUR: 200 }, // (100 + 80 + 60) / 3; 200
      lifetime_value: { USD: { mean: 93.33, median: 100 }, EUR: { mean: 200, median: 200 } }, // ana 100, dee 80, eve 100
      cost_per_lead: { USD: 77.5 }, // 310 / 4 (February's spend is outside the period)
      customer_acquisition_cost: { USD: 155 }, // 310 / 2
      churned: 0,
      by: null,
      groups: [],
    });
    // nothing was answered automatically in this month: unknown, not 0
    expect(body.auto_reply_seconds).toEqual({ median: null, p90: null });
  });

  it('breaks the month down by lead source and by owner agent', async () => {
    const bySource = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=source')).body;
    const source = Object.fromEntries(bySource.groups.map((group: { key: string }) => [group.key, group]));
    expect(Object.keys(source).sort()).toEqual(['facebook', 'google-ads', 'shopify', 'website']);
    expect(source['google-ads']).toMatchObject({ leads: 3, customers_won: 1, lead_conversion_rate: 0.3333, cost_per_lead: { USD: 103.33 }, customer_acquisition_cost: { USD: 310 } });
    expect(source.facebook).toMatchObject({ leads: 1, customers_won: 1, lead_conversion_rate: 1, sales_cycle_days: { median: 0.5, p90: 0.5 }, cost_per_lead: null });
    // dee's February lead and eve's orders: buyers of the month, not leads of it
    expect(source.website).toMatchObject({ leads: 0, lead_conversion_rate: null, average_order_value: { USD: 80 } });
    expect(source.shopify).toMatchObject({ leads: 0, repeat_purchase_rate: 1, lifetime_value: { USD: { mean: 100, median: 100 } } });

    const byAgent = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=agent')).body;
    const agent = Object.fromEntries(byAgent.groups.map((group: { key: string | null }) => [group.key, group]));
    expect(agent.alice).toMatchObject({ leads: 3, customers_won: 1, speed_to_lead_minutes: { median: 30, p90: 30 } });
    expect(agent.bob).toMatchObject({ leads: 1, customers_won: 1, speed_to_lead_minutes: { median: 120, p90: 120 } });
  });

  it('reads periods in the reports time zone and answers a period without data with nulls', async () => {
    const { body } = await api(app, '/api/reports/kpis?from=2025-03-01&to=2025-03-31');
    expect(body).toMatchObject({ leads: 0, customers_won: 0, lead_conversion_rate: null, sales_cycle_days: { median: null, p90: null }, repeat_purchase_rate: null, average_order_value: {}, cost_per_lead: null });
    // one day: only ana's lead (03-02) and dee's order (03-03) sit in 2026-03-02..03
    const days = (await api(app, '/api/reports/kpis?from=2026-03-02&to=2026-03-03')).body;
    expect(days).toMatchObject({ leads: 1, customers_won: 1, average_order_value: { USD: 80 }, cost_per_lead: { USD: 20 } }); // 310 × 2/31 ÷ 1
  });

  it('refuses a malformed period or grouping with 400 and a reason', async () => {
    for (const query of ['from=2026-03-01', 'from=2026-02-30&to=2026-03-01', 'from=2026-03-02&to=2026-03-01', 'from=2020-01-01&to=2026-01-01', 'from=2026-03-01&to=2026-03-31&by=planet']) {
      const { status, body } = await api(app, `/api/reports/kpis?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.message).toMatch(/from|to|3 years|by must/);
    }
  });

  it('exports the figures and groups as CSV', async () => {
    const response = await fetch(`${app.url}/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=source`, { headers: { authorization: 'Bearer test-api-token', accept: 'text/csv' } });
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...lines] = (await response.text()).trim().split('\r\n');
    const columns = header!.split(',');
    const all = Object.fromEntries(lines[0]!.split(',').map((value, i) => [columns[i], value]));
    expect(all).toMatchObject({ group: 'all', leads: '4', customers_won: '2', lead_conversion_rate: '0.5', 'average_order_value.USD': '80', 'lifetime_value.USD.mean': '93.33' });
    expect(lines.map((line) => line.split(',')[0]).sort()).toEqual(['all', 'facebook', 'google-ads', 'shopify', 'website']);
  });
});

describe('GET /api/reports/cohorts', () => {
  it('gives each first-purchase month its size and the share who bought again in each later month', async () => {
    const { status, body } = await api(app, '/api/reports/cohorts?from=2026-01-01&to=2026-03-31');
    expect(status).toBe(200);
    const cohorts = Object.fromEntries(body.cohorts.map((cohort: { cohort: string }) => [cohort.cohort, cohort]));
    // January: eve, who bought again in March (month 2); March: ana, cy, dee — ana bought again in April (month 1)
    expect(cohorts['2026-01']).toMatchObject({ size: 1 });
    expect(cohorts['2026-01'].retention.slice(0, 3)).toEqual([0, 1, 0]);
    expect(cohorts['2026-03']).toMatchObject({ size: 3 });
    expect(cohorts['2026-03'].retention.slice(0, 2)).toEqual([0.3333, 0]);
    expect(cohorts['2026-02']).toBeUndefined();
  });
});
