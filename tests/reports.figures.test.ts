import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cohortReport, kpiReport, KPI_DEFINITIONS, spendInPeriod } from '../src/reports/kpis.js';
import type { GroupKey, ReportPeriod } from '../src/reports/facts.js';
import { autoReplySums, leadSums, purchaseSums, ratingSums } from '../src/store/reports.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

interface Lead {
  agent: string;
  lead_at: string;
  first_contact_at?: string;
  sla_due_at?: string;
}

/**
 * Leads as the roll-up holds them (the triggers that keep it are tested in reports.kpis.test.ts): one customer each,
 * owned by `agent`, from the form. Returns their ids.
 */
async function insertLeads(leads: readonly Lead[]): Promise<number[]> {
  const { rows } = await db.pool.query<{ id: number }>(
    `WITH lead AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS l(n int, agent text, lead_at timestamptz, first_contact_at timestamptz, sla_due_at timestamptz)),
     customer AS (INSERT INTO customers (name, owner_agent_id) SELECT 'Lead ' || n, agent FROM lead ORDER BY n RETURNING id, name),
     facts AS (
       INSERT INTO report_customer_facts (customer_id, lead_at, first_source, first_channel, first_contact_at, sla_due_at, owner_agent_id)
       SELECT c.id, l.lead_at, 'form', 'form', l.first_contact_at, l.sla_due_at, l.agent FROM lead l JOIN customer c ON c.name = 'Lead ' || l.n)
     SELECT id::int FROM customer ORDER BY id`,
    [JSON.stringify(leads.map((lead, n) => ({ n, ...lead })))],
  );
  return rows.map((row) => row.id);
}

/** The report of a period, its sums read from the database. */
async function report(period: ReportPeriod, by: GroupKey | null) {
  const keys = by === null ? [] : [by];
  const [leads, purchases, autoReplies, ratings] = await Promise.all([
    leadSums(db.pool, period, keys),
    purchaseSums(db.pool, period, keys),
    autoReplySums(db.pool, period, keys),
    ratingSums(db.pool, period, keys),
  ]);
  return kpiReport({ leads, purchases, autoReplies, ratings, churned: 0, by, spend: [], ...period });
}

const minutesAfter = (start: string, minutes: number) => new Date(Date.parse(start) + minutes * 60_000).toISOString();

describe('KPI figures', () => {
  it('takes percentiles by linear interpolation between the closest ranks', async () => {
    // speed to lead per agent over January's leads: each agent's leads contacted after the given minutes
    const start = '2026-01-10T09:00:00Z';
    const contactedAfter: Record<string, Array<number | null>> = {
      nobody: [null],
      one: [7],
      four: [10, 1, 4, 2],
      eleven: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      two: [0, 100],
    };
    await insertLeads(
      Object.entries(contactedAfter).flatMap(([agent, minutes]) =>
        minutes.map((after) => ({
          agent,
          lead_at: start,
          ...(after === null ? {} : { first_contact_at: minutesAfter(start, after) }),
        })),
      ),
    );
    const { groups } = await report({ from: '2026-01-01', to: '2026-01-31', timeZone: 'UTC' }, 'agent');
    const speed = Object.fromEntries(groups.map((group) => [group.key, group.speed_to_lead_minutes]));
    expect(speed.nobody!.median).toBeNull();
    expect(speed.one!.p90).toBe(7);
    expect(speed.four!.median).toBe(3); // (2 + 4) / 2
    expect(speed.eleven!.p90).toBe(10);
    expect(speed.two!.p90).toBe(90);
  });

  it('computes the same unrounded percentiles in the database as the JavaScript that did before', async () => {
    // the definition the figures were computed with in Node: rank fraction × (n − 1), interpolated between neighbours
    const previous = (values: number[], fraction: number) => {
      const sorted = Float64Array.from(values).sort();
      const position = fraction * (sorted.length - 1);
      const [low, high] = [Math.floor(position), Math.ceil(position)];
      return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
    };
    const start = '2026-02-03T08:00:00.123Z';
    // minutes with millisecond parts, in no order
    const minutes = Array.from({ length: 37 }, (_, i) => ((i * 7919) % 1000) + ((i * 104_729) % 60_000) / 60_000);
    await insertLeads(
      minutes.map((after) => ({ agent: 'many', lead_at: start, first_contact_at: minutesAfter(start, after) })),
    );
    const [whole] = await leadSums(db.pool, { from: '2026-02-01', to: '2026-02-28', timeZone: 'UTC' }, []);
    const exact = minutes.map(
      (after) => (Date.parse(minutesAfter(start, after)) - Date.parse(start)) / 60_000, // as Dates hold them
    );
    expect(whole!.speed_to_lead_minutes).toEqual([previous(exact, 0.5), previous(exact, 0.9)]);
  });

  it('prorates monthly spend by the days of each month inside the period', () => {
    const spend = spendInPeriod(
      [
        { month: '2026-02', source: 'ads', amount: 280, currency: 'USD' }, // 28 days: 10 a day
        { month: '2026-03', source: 'ads', amount: 310, currency: 'USD' }, // 31 days: 10 a day
        { month: '2026-03', source: 'ads', amount: 62, currency: 'EUR' },
        { month: '2026-05', source: 'ads', amount: 1000, currency: 'USD' },
      ],
      '2026-02-20',
      '2026-03-05',
    );
    expect(spend.get('ads')!.get('USD')).toBeCloseTo(9 * 10 + 5 * 10, 9);
    expect(spend.get('ads')!.get('EUR')).toBeCloseTo(10, 9);
  });

  it('counts only contacts by a person, and the share before the SLA was due', async () => {
    const lead = '2026-03-01T10:00:00Z';
    const [first, second] = await insertLeads([
      { agent: 'alice', lead_at: lead, first_contact_at: '2026-03-01T10:10:00Z', sla_due_at: '2026-03-01T12:00:00Z' },
      { agent: 'alice', lead_at: lead, first_contact_at: '2026-03-01T13:00:00Z', sla_due_at: '2026-03-01T12:00:00Z' },
      { agent: 'alice', lead_at: lead, sla_due_at: '2026-03-01T12:00:00Z' },
      { agent: 'alice', lead_at: lead },
    ]);
    // deliveries answered by their workflow's automated message after 2, 4 and 30 seconds
    await db.pool.query(
      `WITH reply AS (SELECT * FROM (VALUES (1, 2, 'email', 'form'), (2, 4, 'sms', 'twilio'), (3, 30, 'sms', 'twilio')) AS r(n, seconds, channel, connector)),
       inbox AS (
         INSERT INTO inbox_events (connector, type, external_id, occurred_at, payload)
         SELECT connector, 'message.received', 'reply-' || n, '2026-03-02T09:00:00Z'::timestamptz, '{}' FROM reply RETURNING id, external_id),
       run AS (
         INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, inbox_event_id)
         SELECT 'auto-reply', 'v1', 'inbox:' || i.id, i.id FROM inbox i RETURNING id, inbox_event_id)
       INSERT INTO outbound_messages (idempotency_key, run_id, channel, transport, recipient, body, status, created_at, sent_at)
       SELECT 'auto-' || r.n, run.id, r.channel, 'test', 'someone', 'Thanks', 'sent',
              '2026-03-02T09:00:00Z'::timestamptz + r.seconds * interval '1 second', '2026-03-02T09:00:00Z'::timestamptz + r.seconds * interval '1 second'
       FROM reply r JOIN inbox i ON i.external_id = 'reply-' || r.n JOIN run ON run.inbox_event_id = i.id`,
    );
    // ratings of the first two leads' messages: 5, 4, 3, 1 (1–5) and 10, 9, 9, 8, 7, 6, 0 (0–10)
    await db.pool.query(
      `WITH rating AS (
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[]) WITH ORDINALITY AS r(customer_id, kind, score, n)),
       message AS (
         INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, body, status)
         SELECT 'rated-' || n, customer_id, 'email', 'smtp', 'someone', 'Hi', 'sent' FROM rating RETURNING id, idempotency_key)
       INSERT INTO feedback (outbound_message_id, customer_id, kind, score, answered_at)
       SELECT m.id, r.customer_id, r.kind, r.score, '2026-03-03T12:00:00Z' FROM rating r JOIN message m ON m.idempotency_key = 'rated-' || r.n`,
      [
        [...Array(4).fill(first), ...Array(7).fill(second)],
        [...Array(4).fill('csat'), ...Array(7).fill('nps')],
        [5, 4, 3, 1, 10, 9, 9, 8, 7, 6, 0],
      ],
    );
    const result = await report({ from: '2026-03-01', to: '2026-03-31', timeZone: 'UTC' }, null);
    expect(result.speed_to_lead_minutes).toEqual({ median: 95, p90: 163 }); // 10 and 180 minutes: 10 + 0.9 × 170
    expect(result.speed_to_lead_within_sla).toBe(0.3333); // 1 of the 3 leads with an SLA
    expect(result.auto_reply_seconds).toEqual({ median: 4, p90: 24.8 }); // 4 + 0.8 × 26
    expect(result.customers_won).toBe(0);
    expect(result.lead_conversion_rate).toBe(0);
    expect(result.sales_cycle_days).toEqual({ median: null, p90: null });
    expect(result.repeat_purchase_rate).toBeNull();
    expect(result.cost_per_lead).toBeNull();
    expect(result.csat).toBe(0.5); // 5 and 4 of 5, 4, 3, 1
    expect(result.nps).toBe(14.3); // (3 promoters − 2 detractors) ÷ 7 × 100
  });

  it('lays cohorts out as a triangle up to the current month', () => {
    const report = cohortReport(
      [
        { cohort: '2026-01', size: 4, offset: 0, buyers: 4 },
        { cohort: '2026-01', size: 4, offset: 2, buyers: 1 },
        { cohort: '2026-03', size: 2, offset: 0, buyers: 2 },
      ],
      { from: '2026-01-01', to: '2026-03-31', timeZone: 'UTC' },
      new Date('2026-04-15T00:00:00Z'),
    );
    expect(report.cohorts).toEqual([
      { cohort: '2026-01', size: 4, retention: [0, 0.25, 0] },
      { cohort: '2026-03', size: 2, retention: [0] },
    ]);
  });
});

describe('KPI definitions', () => {
  it('are written in the README word for word, one row per figure', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('<!-- kpi-definitions:start -->'),
      readme.indexOf('<!-- kpi-definitions:end -->'),
    );
    for (const [figure, definition] of Object.entries(KPI_DEFINITIONS))
      expect(table).toContain(`| \`${figure}\` | ${definition} |`);
  });
});
