import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { feedbackToken } from '../src/customers/feedback-token.js';
import { waitFor } from './helpers/wait.js';
import { mergeLiveCustomers } from '../src/store/customers.js';
import { withTransaction } from '../src/store/pool.js';
import { PERSON_CONTACT_TYPES } from '../src/store/timeline.js';
import { deliverKpiMonth, KPI_MONTH_CONFIG } from './fixtures/kpi-month.js';

let db: TestDatabase;
let app: Crmflow;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestCrmflow(
    testEnv({ databaseUrl: db.url, configPath: writeConfig(KPI_MONTH_CONFIG), prefix: testPrefix() }),
  );
  await deliverKpiMonth(app, db.pool);
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
    expect(source['google-ads']).toMatchObject({
      leads: 3,
      customers_won: 1,
      lead_conversion_rate: 0.3333,
      cost_per_lead: { USD: 103.33 },
      customer_acquisition_cost: { USD: 310 },
    });
    expect(source.facebook).toMatchObject({
      leads: 1,
      customers_won: 1,
      lead_conversion_rate: 1,
      sales_cycle_days: { median: 0.5, p90: 0.5 },
      cost_per_lead: null,
    });
    // dee's February lead and eve's orders: buyers of the month, not leads of it
    expect(source.website).toMatchObject({ leads: 0, lead_conversion_rate: null, average_order_value: { USD: 80 } });
    expect(source.shopify).toMatchObject({
      leads: 0,
      repeat_purchase_rate: 1,
      lifetime_value: { USD: { mean: 100, median: 100 } },
    });

    const byAgent = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=agent')).body;
    const agent = Object.fromEntries(byAgent.groups.map((group: { key: string | null }) => [group.key, group]));
    expect(agent.alice).toMatchObject({ leads: 3, customers_won: 1, speed_to_lead_minutes: { median: 30, p90: 30 } });
    expect(agent.bob).toMatchObject({ leads: 1, customers_won: 1, speed_to_lead_minutes: { median: 120, p90: 120 } });
  });

  it('reads periods in the reports time zone and answers a period without data with nulls', async () => {
    const { body } = await api(app, '/api/reports/kpis?from=2025-03-01&to=2025-03-31');
    expect(body).toMatchObject({
      leads: 0,
      customers_won: 0,
      lead_conversion_rate: null,
      sales_cycle_days: { median: null, p90: null },
      repeat_purchase_rate: null,
      average_order_value: {},
      cost_per_lead: null,
    });
    // one day: only ana's lead (03-02) and dee's order (03-03) sit in 2026-03-02..03
    const days = (await api(app, '/api/reports/kpis?from=2026-03-02&to=2026-03-03')).body;
    expect(days).toMatchObject({
      leads: 1,
      customers_won: 1,
      average_order_value: { USD: 80 },
      cost_per_lead: { USD: 20 },
    }); // 310 × 2/31 ÷ 1
  });

  it('refuses a malformed period or grouping with 400 and a reason', async () => {
    for (const query of [
      'from=2026-03-01',
      'from=2026-02-30&to=2026-03-01',
      'from=2026-03-02&to=2026-03-01',
      'from=2020-01-01&to=2026-01-01',
      'from=2026-03-01&to=2026-03-31&by=planet',
    ]) {
      const { status, body } = await api(app, `/api/reports/kpis?${query}`);
      expect(status, query).toBe(400);
      expect(body.error.message).toMatch(/from|to|3 years|by must/);
    }
  });

  it('exports the figures and groups as CSV', async () => {
    const response = await fetch(`${app.url}/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=source`, {
      headers: { authorization: 'Bearer test-api-token', accept: 'text/csv' },
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...lines] = (await response.text()).trim().split('\r\n');
    const columns = header!.split(',');
    const all = Object.fromEntries(lines[0]!.split(',').map((value, i) => [columns[i], value]));
    expect(all).toMatchObject({
      group: 'all',
      leads: '4',
      customers_won: '2',
      lead_conversion_rate: '0.5',
      'average_order_value.USD': '80',
      'lifetime_value.USD.mean': '93.33',
    });
    expect(lines.map((line) => line.split(',')[0]).sort()).toEqual([
      'all',
      'facebook',
      'google-ads',
      'shopify',
      'website',
    ]);
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

describe('customer satisfaction', () => {
  /** A one-click rating link of a person's message, as crmflow signs it, clicked by the customer. */
  async function rate(email: string, score: number, secret = SECRETS.CRMFLOW_SECRET_KEY!): Promise<number> {
    const token = feedbackToken(secret, {
      message: `person-${email}`,
      caseId: null,
      kind: 'csat',
      score,
      expires: Math.floor(Date.now() / 1000) + 3600,
    });
    return (await fetch(`${app.url}/feedback/${token}`, { method: 'POST' })).status;
  }

  it('counts one answer per message (a second click changes it), by the agent and channel of what was rated', async () => {
    expect(await rate('ana@example.com', 5)).toBe(200);
    expect(await rate('ana@example.com', 4)).toBe(200); // changes ana's answer: still one rating
    expect(await rate('cy@example.com', 2)).toBe(200);
    expect(await rate('cy@example.com', 2)).toBe(200); // the same click again
    expect(await rate('cy@example.com', 5, 'not-the-key')).toBe(404); // forged: changes nothing
    const today = new Date().toISOString().slice(0, 10);
    const all = (await api(app, `/api/reports/kpis?from=${today}&to=${today}`)).body;
    expect(all.csat).toBe(0.5); // ana 4, cy 2
    const byAgent = (await api(app, `/api/reports/kpis?from=${today}&to=${today}&by=agent`)).body;
    const agent = Object.fromEntries(byAgent.groups.map((group: { key: string }) => [group.key, group]));
    expect([agent.alice.csat, agent.bob.csat]).toEqual([1, 0]);
    const byChannel = (await api(app, `/api/reports/kpis?from=${today}&to=${today}&by=channel`)).body;
    expect(byChannel.groups.find((group: { key: string }) => group.key === 'email')).toMatchObject({ csat: 0.5 });
    // answered today, not in March; no 0–10 ratings at all
    expect((await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31')).body).toMatchObject({
      csat: null,
      nps: null,
    });
  });
});

describe('the report roll-ups', () => {
  /** The roll-ups and the same facts recomputed from scratch from the rows they summarize. */
  async function rollupsAndScratch(): Promise<{ rollup: unknown[]; scratch: unknown[] }> {
    const rollup = await db.pool.query(
      `SELECT customer_id, lead_at, first_source, first_purchase_at, purchase_count, last_purchase_at,
              first_contact_at, first_contact_agent, first_pool, sla_due_at
       FROM report_customer_facts ORDER BY customer_id`,
    );
    const scratch = await db.pool.query(
      `WITH facts AS (
         SELECT t.customer_id,
                min(t.occurred_at) FILTER (WHERE crmflow_is_lead_event(t.type)) AS lead_at,
                (array_agg(t.source ORDER BY t.occurred_at, t.id))[1] AS first_source,
                min(t.occurred_at) FILTER (WHERE t.amount > 0) AS first_purchase_at,
                count(*) FILTER (WHERE t.amount > 0)::int AS purchase_count,
                max(t.occurred_at) FILTER (WHERE t.amount > 0) AS last_purchase_at
         FROM timeline_events t GROUP BY t.customer_id)
       SELECT f.*, contact.at AS first_contact_at, contact.agent AS first_contact_agent, assignment.pool AS first_pool,
              assignment.due_at AS sla_due_at
       FROM facts f
       LEFT JOIN LATERAL (
         SELECT at, agent FROM (
           SELECT m.sent_at AS at, m.agent_id AS agent FROM outbound_messages m
           WHERE m.customer_id = f.customer_id AND m.agent_id IS NOT NULL AND m.status = 'sent'
           UNION ALL
           SELECT t.occurred_at, t.data->>'agent_id' FROM timeline_events t
           WHERE t.customer_id = f.customer_id AND t.data->>'agent_id' IS NOT NULL AND t.type = ANY($1::text[])) c
         WHERE c.at >= f.lead_at ORDER BY c.at LIMIT 1) contact ON true
       LEFT JOIN LATERAL (
         SELECT a.pool, s.due_at FROM lead_assignments a LEFT JOIN lead_slas s ON s.assignment_id = a.id
         WHERE a.customer_id = f.customer_id ORDER BY a.assigned_at, a.id LIMIT 1) assignment ON true
       ORDER BY f.customer_id`,
      [[...PERSON_CONTACT_TYPES]],
    );
    return { rollup: rollup.rows, scratch: scratch.rows };
  }

  const customerOf = async (email: string) =>
    (await api(app, `/api/customers?email=${email}`)).body.customers[0].id as number;

  it('equal a from-scratch recomputation over the timeline, messages and assignments', async () => {
    const { rollup, scratch } = await rollupsAndScratch();
    expect(rollup).toEqual(scratch);
    // the comparison covers real values: ana and cy were contacted by a person, every lead was assigned to a pool
    const contacted = rollup.filter((row) => (row as { first_contact_at: Date | null }).first_contact_at !== null);
    expect(contacted).toHaveLength(2);
    expect(rollup.filter((row) => (row as { first_pool: string | null }).first_pool !== null)).toHaveLength(5);
    const purchases = await db.pool.query(`SELECT count(*)::int AS n, sum(amount)::float8 AS total FROM purchases`);
    expect(purchases.rows[0]).toEqual({ n: 6, total: 530 }); // 100 + 50 + 200 + 80 + 40 + 60; fay's refunded order is none
  });

  it('follow a merge and its unmerge', async () => {
    const before = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=pool')).body;
    const [ana, cy] = [await customerOf('ana@example.com'), await customerOf('cy@example.com')];
    const merged = await withTransaction(db.pool, (client) =>
      mergeLiveCustomers(client, ana, cy, { event: 'test', why: 'same person' }),
    );
    const whileMerged = await rollupsAndScratch();
    expect(whileMerged.rollup).toEqual(whileMerged.scratch);
    // one lead now, the earlier of the two (ana's), contacted by alice after 30 minutes
    expect(
      whileMerged.rollup.find((row) => (row as { customer_id: number }).customer_id === merged.keptId),
    ).toMatchObject({
      first_contact_agent: 'alice',
      purchase_count: 3,
    });
    const unmerged = await api(app, `/api/customers/${merged.keptId}/unmerge`, {
      method: 'POST',
      body: JSON.stringify({ merge_id: merged.mergeId }),
      headers: { 'content-type': 'application/json' },
    });
    expect(unmerged.status).toBe(200);
    const after = await rollupsAndScratch();
    expect(after.rollup).toEqual(after.scratch);
    expect((await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=pool')).body).toEqual(before);
  });

  it('forget an erased customer', async () => {
    const ben = (await api(app, '/api/customers?email=ben@example.com')).body.customers[0];
    expect((await api(app, `/api/customers/${ben.id}`, { method: 'DELETE' })).status).toBe(200);
    const { body } = await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31');
    expect(body).toMatchObject({ leads: 3, customers_won: 2, lead_conversion_rate: 0.6667 });
  });
  it('follow the lead source and owner set on the customer afterwards, as the reports group by them', async () => {
    const fay = await customerOf('fay@example.com');
    await db.pool.query(
      `UPDATE customers SET attributes = attributes || '{"lead_source": "radio"}', owner_agent_id = 'carol' WHERE id = $1`,
      [fay],
    );
    // the roll-up's copy of each customer's keys equals the customer's own
    const { rows } = await db.pool.query(
      `SELECT f.customer_id FROM report_customer_facts f JOIN customers c ON c.id = f.customer_id
       WHERE (f.lead_source, f.owner_agent_id, f.live) IS DISTINCT FROM
             (nullif(c.attributes->>'lead_source', ''), c.owner_agent_id, c.merged_into IS NULL AND c.erased_at IS NULL)`,
    );
    expect(rows).toEqual([]);
    const bySource = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=source')).body;
    expect(bySource.groups.find((group: { key: string }) => group.key === 'radio')).toMatchObject({ leads: 1 });
    const byAgent = (await api(app, '/api/reports/kpis?from=2026-03-01&to=2026-03-31&by=agent')).body;
    expect(byAgent.groups.find((group: { key: string }) => group.key === 'carol')).toMatchObject({ leads: 1 });
  });
});

describe('GET /metrics', () => {
  it('exposes leads today and the 30-day conversion, and leaves out a speed to lead nobody has made yet', async () => {
    const body = JSON.stringify({
      submission_id: 'today-1',
      name: 'Tia Today',
      email: 'tia@example.com',
      source: 'website',
      submitted_at: new Date().toISOString(),
    });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    await waitFor(
      'the lead of today on the record',
      async () => (await api(app, '/api/customers?email=tia@example.com')).body.customers.length === 1,
    );
    const metrics = await (
      await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${SECRETS.CRMFLOW_METRICS_TOKEN}` } })
    ).text();
    expect(metrics).toContain('crmflow_report_leads{window="today"} 1');
    expect(metrics).toContain('crmflow_report_lead_conversion_rate{window="30d"} 0');
    expect(metrics).not.toMatch(/crmflow_report_speed_to_lead_median_minutes\{/);
  });
});
