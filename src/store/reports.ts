import type {
  AutoReplyFact,
  CohortCell,
  FunnelStage,
  LeadFact,
  PurchaseFact,
  RatingFact,
  ReportPeriod,
} from '../reports/facts.js';
import type { Pool } from './pool.js';

const BOUNDS = `(($1::date)::timestamp AT TIME ZONE $3) AS lo, (($2::date + 1)::timestamp AT TIME ZONE $3) AS hi`;

/**
 * A time as epoch milliseconds (the precision of a Date): node-pg parses a timestamptz from text at a few microseconds
 * each, which over a period's tens of thousands of facts cost more than the query.
 */
const ms = (column: string) => `(extract(epoch FROM ${column}) * 1000)::float8`;
type Times<T, K extends keyof T> = Omit<T, K> & { [Key in K]: null extends T[Key] ? number | null : number };
const dateOf = (epochMs: number | null) => (epochMs === null ? null : new Date(epochMs));

/**
 * Keys of the customers in `ids` (a CTE with an array `list`), as a CTE body named `keys`. The lead source is read
 * from the customer (it can change without a timeline entry); the first source, channel and pool from the roll-up.
 */
const KEYS = `
  SELECT c.id AS customer_id,
         coalesce(nullif(c.attributes->>'lead_source', ''), f.first_source) AS source,
         f.first_channel AS channel,
         c.owner_agent_id AS agent,
         f.first_pool AS pool
  FROM ids, customers c LEFT JOIN report_customer_facts f ON f.customer_id = c.id
  WHERE c.id = ANY(ids.list) AND c.merged_into IS NULL AND c.erased_at IS NULL`;

/**
 * A lead of the period, on the roll-up `f` with the period's `bounds` `b`: someone whose first purchase came before any
 * lead event was never a lead.
 */
const PERIOD_LEAD = `f.lead_at >= b.lo AND f.lead_at < b.hi AND (f.first_purchase_at IS NULL OR f.first_purchase_at >= f.lead_at)`;

/**
 * Customers whose first lead event happened in the period, and what followed it: all read from the roll-up
 * `report_customer_facts` (first contact by a person, first pool and its SLA, first purchase; migrations 0021, 0022).
 */
export async function leadFacts(pool: Pool, period: ReportPeriod): Promise<LeadFact[]> {
  const { rows } = await pool.query<
    Times<LeadFact, 'lead_at' | 'first_purchase_at' | 'first_contact_at' | 'sla_due_at'>
  >(
    `WITH bounds AS (SELECT ${BOUNDS})
     SELECT c.id AS customer_id, coalesce(nullif(c.attributes->>'lead_source', ''), f.first_source) AS source,
            f.first_channel AS channel, c.owner_agent_id AS agent, f.first_pool AS pool, ${ms('f.lead_at')} AS lead_at,
            ${ms('f.first_purchase_at')} AS first_purchase_at, ${ms('f.first_contact_at')} AS first_contact_at,
            f.first_contact_agent, ${ms('f.sla_due_at')} AS sla_due_at
     FROM bounds b, report_customer_facts f JOIN customers c ON c.id = f.customer_id
     WHERE ${PERIOD_LEAD} AND c.merged_into IS NULL AND c.erased_at IS NULL
     ORDER BY f.customer_id`,
    [period.from, period.to, period.timeZone],
  );
  return rows.map((row) => ({
    ...row,
    lead_at: new Date(row.lead_at),
    first_purchase_at: dateOf(row.first_purchase_at),
    first_contact_at: dateOf(row.first_contact_at),
    sla_due_at: dateOf(row.sla_due_at),
  }));
}

/** Every purchase of the customers who bought in the period, up to its end (earlier ones for repeat and lifetime). */
export async function purchaseFacts(pool: Pool, period: ReportPeriod): Promise<PurchaseFact[]> {
  const { rows } = await pool.query<Times<PurchaseFact, 'occurred_at'> & { amount: string | null }>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     ids AS (SELECT array_agg(DISTINCT p.customer_id) AS list FROM purchases p, bounds b WHERE p.occurred_at >= b.lo AND p.occurred_at < b.hi),
     keys AS (${KEYS})
     SELECT k.*, ${ms('p.occurred_at')} AS occurred_at, p.amount, p.currency, p.occurred_at >= b.lo AS in_period
     FROM keys k JOIN purchases p ON p.customer_id = k.customer_id, bounds b
     WHERE p.occurred_at < b.hi
     ORDER BY p.customer_id, p.occurred_at`,
    [period.from, period.to, period.timeZone],
  );
  return rows.map((row) => ({
    ...row,
    occurred_at: new Date(row.occurred_at),
    amount: row.amount === null ? null : Number(row.amount),
  }));
}

/**
 * Seconds from an inbound delivery (its vendor time) to the first automated message a run started by it sent.
 * Deliveries in the period, answered up to 7 days after its end; messages a person sent do not count.
 */
export async function autoReplyFacts(pool: Pool, period: ReportPeriod): Promise<AutoReplyFact[]> {
  const { rows } = await pool.query<AutoReplyFact>(
    `WITH bounds AS (SELECT ${BOUNDS})
     SELECT DISTINCT ON (i.id) extract(epoch FROM (coalesce(m.sent_at, m.created_at) - i.occurred_at))::float8 AS seconds,
            m.channel, i.connector AS source, c.owner_agent_id AS agent
     FROM bounds b
     JOIN outbound_messages m ON m.agent_id IS NULL AND m.run_id IS NOT NULL AND m.created_at >= b.lo AND m.created_at < b.hi + interval '7 days'
     JOIN workflow_runs r ON r.id = m.run_id
     JOIN inbox_events i ON i.id = r.inbox_event_id AND i.occurred_at >= b.lo AND i.occurred_at < b.hi
     LEFT JOIN customers c ON c.id = m.customer_id
     WHERE m.status = 'sent'
     ORDER BY i.id, coalesce(m.sent_at, m.created_at)`,
    [period.from, period.to, period.timeZone],
  );
  return rows;
}

/**
 * Live customers counted as churned at the end of the period: in the `churned` stage, or past their own buying rhythm
 * (two or more purchases, and more than 1.5 × their average days between purchases since the last one). The rhythm is
 * read from the roll-up: a facts row is a live customer's (merges move every timeline entry away, erasure deletes them).
 */
export async function churnedCount(pool: Pool, period: ReportPeriod): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     rhythm AS (
       -- customers whose purchases all came before the end: the roll-up's counts are theirs at the end
       SELECT f.customer_id FROM report_customer_facts f, bounds b
       WHERE f.purchase_count >= 2 AND f.last_purchase_at < b.hi
         AND b.hi - f.last_purchase_at > 1.5 * (f.last_purchase_at - f.first_purchase_at) / (f.purchase_count - 1)
       UNION ALL
       -- those who bought again since: their purchases up to the end
       SELECT since.customer_id FROM bounds b,
         (SELECT DISTINCT p.customer_id FROM purchases p, bounds b WHERE p.occurred_at >= b.hi) since,
         LATERAL (SELECT count(*) AS n, min(p.occurred_at) AS first, max(p.occurred_at) AS last FROM purchases p
                  WHERE p.customer_id = since.customer_id AND p.occurred_at < b.hi) s
       WHERE s.n >= 2 AND b.hi - s.last > 1.5 * (s.last - s.first) / (s.n - 1)),
     stage AS (SELECT id AS customer_id FROM customers WHERE lifecycle_stage = 'churned' AND merged_into IS NULL AND erased_at IS NULL)
     SELECT count(*)::int AS n FROM (SELECT customer_id FROM rhythm UNION SELECT customer_id FROM stage) AS churned`,
    [period.from, period.to, period.timeZone],
  );
  return rows[0]!.n;
}

/** Customers by local month of first purchase (cohorts starting in the period) × who bought again in each later month. */
export async function cohortCells(pool: Pool, period: ReportPeriod): Promise<CohortCell[]> {
  const { rows } = await pool.query<CohortCell>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     -- a facts row is a live customer's (see churnedCount)
     firsts AS (
       SELECT f.customer_id, f.purchase_count, date_trunc('month', f.first_purchase_at AT TIME ZONE $3) AS cohort
       FROM report_customer_facts f, bounds b
       WHERE f.first_purchase_at >= date_trunc('month', b.lo AT TIME ZONE $3) AT TIME ZONE $3 AND f.first_purchase_at < b.hi),
     cohorts AS (SELECT cohort, count(*)::int AS size FROM firsts GROUP BY cohort),
     -- only repeat buyers have later months: their purchases after the first month
     months AS (
       SELECT DISTINCT f.customer_id, f.cohort, date_trunc('month', p.occurred_at AT TIME ZONE $3) AS month
       FROM firsts f JOIN purchases p ON p.customer_id = f.customer_id AND p.occurred_at >= (f.cohort + interval '1 month') AT TIME ZONE $3
       WHERE f.purchase_count >= 2)
     SELECT to_char(c.cohort, 'YYYY-MM') AS cohort, c.size,
            ((extract(year FROM m.month) - extract(year FROM c.cohort)) * 12 + extract(month FROM m.month) - extract(month FROM c.cohort))::int AS "offset",
            count(*)::int AS buyers
     FROM cohorts c JOIN months m ON m.cohort = c.cohort
     GROUP BY c.cohort, c.size, m.month
     UNION ALL
     SELECT to_char(cohort, 'YYYY-MM'), size, 0, size FROM cohorts
     ORDER BY 1, 3`,
    [period.from, period.to, period.timeZone],
  );
  return rows;
}

/**
 * The lifecycle funnel of the period's leads from their stage history. Stage times are crmflow's own records of each
 * change (the stage is crmflow's), unlike the other figures, which are vendor times. Every customer starts as a lead.
 * A facts row is a live customer's (see churnedCount).
 */
export async function lifecycleFunnel(pool: Pool, period: ReportPeriod): Promise<FunnelStage[]> {
  const { rows } = await pool.query<FunnelStage>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     leads AS (SELECT f.customer_id FROM report_customer_facts f, bounds b WHERE ${PERIOD_LEAD}),
     h AS (
       SELECT l.customer_id, l.to_stage AS stage, l.changed_at,
              lead(l.changed_at) OVER (PARTITION BY l.customer_id ORDER BY l.changed_at, l.id) AS left_at
       FROM leads JOIN lifecycle_history l USING (customer_id)
       UNION ALL
       -- the time as a lead: from the customer's creation to their first change
       SELECT c.id, 'lead', c.created_at, (SELECT min(changed_at) FROM lifecycle_history l WHERE l.customer_id = c.id AND l.to_stage <> 'lead')
       FROM leads JOIN customers c ON c.id = leads.customer_id
       WHERE NOT EXISTS (SELECT 1 FROM lifecycle_history l WHERE l.customer_id = c.id AND l.to_stage = 'lead'))
     SELECT stage, count(DISTINCT customer_id)::int AS customers,
            round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - changed_at)) FILTER (WHERE left_at IS NOT NULL) / 86400)::numeric, 2)::float8 AS median_days
     FROM h GROUP BY stage`,
    [period.from, period.to, period.timeZone],
  );
  const order = ['lead', 'opportunity', 'customer', 'churned'];
  return rows.sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage));
}

/**
 * Ratings answered in the period. `channel` is the channel the rated message went out on, `agent` the owner of the
 * case it was about (else the customer's owner); source and pool are the customer's.
 */
export async function ratingFacts(pool: Pool, period: ReportPeriod): Promise<RatingFact[]> {
  const { rows } = await pool.query<RatingFact>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     rated AS (
       SELECT f.customer_id, f.kind, f.score, m.channel, cs.owner_agent_id AS case_owner
       FROM feedback f JOIN outbound_messages m ON m.id = f.outbound_message_id LEFT JOIN cases cs ON cs.id = f.case_id, bounds b
       WHERE f.answered_at >= b.lo AND f.answered_at < b.hi),
     ids AS (SELECT array_agg(DISTINCT customer_id) AS list FROM rated),
     keys AS (${KEYS})
     SELECT k.customer_id, k.source, k.pool, r.channel, coalesce(r.case_owner, k.agent) AS agent, r.kind, r.score
     FROM rated r JOIN keys k USING (customer_id)`,
    [period.from, period.to, period.timeZone],
  );
  return rows;
}
