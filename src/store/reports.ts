import type {
  AutoReplySums,
  CohortCell,
  FunnelStage,
  GroupKey,
  LeadSums,
  PurchaseSums,
  RatingSums,
  ReportPeriod,
} from '../reports/facts.js';
import { withTransaction, type Pool } from './pool.js';

/** The period's first and first-after instants: written out where the planner should see them (a CTE hides them). */
const LO = `(($1::date)::timestamp AT TIME ZONE $3)`;
const HI = `(($2::date + 1)::timestamp AT TIME ZONE $3)`;
const BOUNDS = `${LO} AS lo, ${HI} AS hi`;

/**
 * A report statement given room to sort a year of facts in memory (the default work_mem spills them to disk) and
 * without JIT compilation (a year's row estimates cross its threshold, as the churn's per-customer look-ups do for any
 * period, and compiling cost more than it saved: 30 ms of a 40 ms churn count), in a transaction of its own so the
 * settings end with it.
 */
async function reportQuery<T extends object>(pool: Pool, text: string, values: unknown[]): Promise<T[]> {
  return withTransaction(pool, async (client) => {
    await client.query("SET LOCAL work_mem = '32MB'; SET LOCAL jit = off");
    return (await client.query<T>(text, values)).rows;
  });
}

/** What a set of figures is grouped by: a key of the customer, or (leads only) the local week of the lead event. */
type GroupingKey = GroupKey | 'week';

/**
 * A time as whole epoch milliseconds, as a JavaScript Date holds it (truncated): the figures computed from times below
 * are the same float8 arithmetic on the same values as the JavaScript that computed them before (src/reports/kpis.ts).
 */
const ms = (column: string) => `trunc(extract(epoch FROM ${column}) * 1000)::float8`;

/** Median and 90th percentile by linear interpolation between the closest ranks, as `percentile` did in JavaScript. */
const SPREAD = `percentile_cont('{0.5,0.9}'::float8[]) WITHIN GROUP`;

/**
 * The grouping sets of a query over rows with columns source, channel, agent, pool (and week): the whole period, then
 * one set per key asked. `by` and `key` name the set and its group (`by` null: the whole period).
 */
function groupingSets(by: readonly GroupingKey[]): { sets: string; columns: string } {
  if (by.length === 0) return { sets: '()', columns: 'NULL::text AS by, NULL::text AS key' };
  const which = (then: (key: GroupingKey) => string) =>
    `CASE ${by.map((key) => `WHEN grouping(${key}) = 0 THEN ${then(key)}`).join(' ')} END`;
  return {
    sets: ['()', ...by.map((key) => `(${key})`)].join(', '),
    columns: `${which((key) => `'${key}'`)} AS by, ${which((key) => (key === 'week' ? `to_char(week, 'YYYY-MM-DD')` : `${key}::text`))} AS key`,
  };
}

/**
 * The keys a customer is grouped by, all kept on the roll-up `f` (migration 0025): their lead source (else first
 * source), first channel, owner agent and first pool.
 */
const CUSTOMER_KEYS = `coalesce(f.lead_source, f.first_source) AS source, f.first_channel AS channel, f.owner_agent_id AS agent,
  f.first_pool AS pool`;

/**
 * A lead of the period, on the roll-up `f` with the period's `bounds` `b`: someone whose first purchase came before any
 * lead event was never a lead.
 */
const PERIOD_LEAD = `f.lead_at >= b.lo AND f.lead_at < b.hi AND (f.first_purchase_at IS NULL OR f.first_purchase_at >= f.lead_at)`;

/**
 * The lead figures of the period's leads (first lead event in the period), whole and per group, computed where the
 * rows are: all read from the roll-up `report_customer_facts` (first contact by a person, first pool and its SLA, first
 * purchase, the customer's keys; migrations 0021, 0022, 0025). `weekly` adds a set per local week (starting on Monday) of the lead event.
 */
export async function leadSums(
  pool: Pool,
  period: ReportPeriod,
  by: readonly GroupKey[],
  weekly = false,
): Promise<LeadSums[]> {
  const { sets, columns } = groupingSets(weekly ? [...by, 'week'] : by);
  // a date, formatted once per week rather than once per lead
  const week = weekly ? `, date_trunc('week', f.lead_at AT TIME ZONE $3)::date AS week` : '';
  return reportQuery<LeadSums>(
    pool,
    `WITH bounds AS (SELECT ${BOUNDS}),
     lead AS (
       SELECT ${CUSTOMER_KEYS}${week}, ${ms('f.lead_at')} AS lead_at, ${ms('f.first_purchase_at')} AS purchase_at,
              ${ms('f.first_contact_at')} AS contact_at, ${ms('f.sla_due_at')} AS sla_due_at
       FROM bounds b, report_customer_facts f
       WHERE ${PERIOD_LEAD} AND f.live)
     SELECT ${columns}, count(*)::int AS leads, count(purchase_at)::int AS won,
            ${SPREAD} (ORDER BY (contact_at - lead_at) / 60000) FILTER (WHERE contact_at IS NOT NULL) AS speed_to_lead_minutes,
            count(sla_due_at)::int AS with_sla, (count(*) FILTER (WHERE contact_at <= sla_due_at))::int AS within_sla,
            ${SPREAD} (ORDER BY (purchase_at - lead_at) / 86400000) FILTER (WHERE purchase_at IS NOT NULL) AS sales_cycle_days
     FROM lead GROUP BY GROUPING SETS (${sets})`,
    [period.from, period.to, period.timeZone],
  );
}

/**
 * The purchase figures of the customers who bought in the period, from every purchase of theirs up to its end (earlier
 * ones for repeat and lifetime), whole and per group: one `buyers` row per set, and one `orders` (the period's
 * purchases) and one `lifetime` (each customer's total) row per set and currency. Amounts are added up as float8 in
 * the order of (customer, time), as the JavaScript that computed them before did; `rank` orders the currencies as it
 * met them. The purchases stay narrow (no keys) until they are summed per customer: a year holds 90,000 of them.
 */
export async function purchaseSums(pool: Pool, period: ReportPeriod, by: readonly GroupKey[]): Promise<PurchaseSums[]> {
  const { sets, columns } = groupingSets(by);
  const withCurrency = ['()', ...by.map((key) => `(${key})`)]
    .map((set) => (set === '()' ? '(currency)' : `(${set.slice(1, -1)}, currency)`))
    .join(', ');
  return reportQuery<PurchaseSums>(
    pool,
    `WITH buyer_id AS (SELECT DISTINCT q.customer_id FROM purchases q WHERE q.occurred_at >= ${LO} AND q.occurred_at < ${HI}),
     bought AS (
       SELECT p.customer_id, p.amount::float8 AS amount, p.currency, p.occurred_at >= ${LO} AS in_period,
              row_number() OVER (ORDER BY p.customer_id, p.occurred_at, p.timeline_id) AS seq
       FROM purchases p WHERE p.occurred_at < ${HI} AND p.customer_id IN (SELECT customer_id FROM buyer_id)),
     -- each buyer's row of the roll-up by its key (every buyer has one: a purchase is a timeline entry), not a scan of
     -- every customer's row for a month's few thousand buyers
     buyer AS (
       SELECT f.customer_id, f.source, f.channel, f.agent, f.pool FROM buyer_id b,
         LATERAL (SELECT f.customer_id, ${CUSTOMER_KEYS} FROM report_customer_facts f
                  WHERE f.customer_id = b.customer_id AND f.live OFFSET 0) f),
     lifetime AS (
       SELECT customer_id, currency, sum(amount ORDER BY seq) AS total, min(seq) AS seq FROM bought
       WHERE amount IS NOT NULL AND currency IS NOT NULL GROUP BY customer_id, currency)
     SELECT ${columns}, 'buyers' AS kind, NULL AS currency, count(*)::int AS n,
            (count(*) FILTER (WHERE n >= 2))::float8 AS total, NULL::float8 AS median, NULL::int AS rank
     FROM buyer JOIN (SELECT customer_id, count(*) AS n FROM bought GROUP BY customer_id) counted USING (customer_id)
     GROUP BY GROUPING SETS (${sets})
     UNION ALL
     SELECT ${columns}, 'orders', currency, count(*)::int, sum(amount ORDER BY seq), NULL, min(seq)::int
     FROM bought JOIN buyer USING (customer_id)
     WHERE in_period AND amount IS NOT NULL AND currency IS NOT NULL GROUP BY GROUPING SETS (${withCurrency})
     UNION ALL
     SELECT ${columns}, 'lifetime', currency, count(*)::int, sum(total ORDER BY customer_id),
            percentile_cont(0.5) WITHIN GROUP (ORDER BY total), min(seq)::int
     FROM lifetime JOIN buyer USING (customer_id) GROUP BY GROUPING SETS (${withCurrency})`,
    [period.from, period.to, period.timeZone],
  );
}

/**
 * Seconds from an inbound delivery (its vendor time) to the first automated message a run started by it sent, median
 * and p90, whole and per group (an auto reply has no pool: grouped by pool, it sits in the null group). Deliveries in
 * the period, answered up to 7 days after its end; messages a person sent do not count.
 */
export async function autoReplySums(
  pool: Pool,
  period: ReportPeriod,
  by: readonly GroupKey[],
): Promise<AutoReplySums[]> {
  const { sets, columns } = groupingSets(by);
  const { rows } = await pool.query<AutoReplySums>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     reply AS (
       SELECT DISTINCT ON (i.id) extract(epoch FROM (coalesce(m.sent_at, m.created_at) - i.occurred_at))::float8 AS seconds,
              m.channel, i.connector AS source, c.owner_agent_id AS agent, NULL::text AS pool
       FROM bounds b
       JOIN outbound_messages m ON m.agent_id IS NULL AND m.run_id IS NOT NULL AND m.created_at >= b.lo AND m.created_at < b.hi + interval '7 days'
       JOIN workflow_runs r ON r.id = m.run_id
       JOIN inbox_events i ON i.id = r.inbox_event_id AND i.occurred_at >= b.lo AND i.occurred_at < b.hi
       LEFT JOIN customers c ON c.id = m.customer_id
       WHERE m.status = 'sent'
       ORDER BY i.id, coalesce(m.sent_at, m.created_at))
     SELECT ${columns}, ${SPREAD} (ORDER BY seconds) AS seconds FROM reply GROUP BY GROUPING SETS (${sets})`,
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
  const rows = await reportQuery<{ n: number }>(
    pool,
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
  const rows = await reportQuery<FunnelStage>(
    pool,
    `WITH bounds AS (SELECT ${BOUNDS}),
     leads AS (SELECT f.customer_id FROM report_customer_facts f, bounds b WHERE ${PERIOD_LEAD}),
     h AS (
       SELECT l.customer_id, l.to_stage AS stage, l.changed_at,
              lead(l.changed_at) OVER (PARTITION BY l.customer_id ORDER BY l.changed_at, l.id) AS left_at
       FROM leads JOIN lifecycle_history l USING (customer_id)
       UNION ALL
       -- the time as a lead, for those whose history has no lead row: from the customer's creation to their first
       -- change (each lead's history summed once, joined, rather than looked up twice per lead); each lead's customer
       -- looked up by its key, not a hash of every customer the planner prefers for a month's 8,000 leads
       SELECT c.id, 'lead', c.created_at, changes.left_at
       FROM leads, LATERAL (SELECT c.id, c.created_at FROM customers c WHERE c.id = leads.customer_id OFFSET 0) c
         LEFT JOIN (SELECT l.customer_id, min(l.changed_at) FILTER (WHERE l.to_stage <> 'lead') AS left_at,
                           bool_or(l.to_stage = 'lead') AS was_lead
                    FROM lifecycle_history l WHERE l.customer_id IN (SELECT customer_id FROM leads)
                    GROUP BY l.customer_id) changes ON changes.customer_id = c.id
       WHERE changes.was_lead IS NOT TRUE)
     SELECT stage, count(DISTINCT customer_id)::int AS customers,
            round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM left_at - changed_at)) FILTER (WHERE left_at IS NOT NULL) / 86400)::numeric, 2)::float8 AS median_days
     FROM h GROUP BY stage`,
    [period.from, period.to, period.timeZone],
  );
  const order = ['lead', 'opportunity', 'customer', 'churned'];
  return rows.sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage));
}

/**
 * Ratings answered in the period, counted whole and per group. `channel` is the channel the rated message went out on,
 * `agent` the owner of the case it was about (else the customer's owner); source and pool are the customer's.
 */
export async function ratingSums(pool: Pool, period: ReportPeriod, by: readonly GroupKey[]): Promise<RatingSums[]> {
  const { sets, columns } = groupingSets(by);
  const { rows } = await pool.query<RatingSums>(
    `WITH bounds AS (SELECT ${BOUNDS}),
     rating AS (
       SELECT coalesce(nullif(c.attributes->>'lead_source', ''), rf.first_source) AS source, m.channel,
              coalesce(cs.owner_agent_id, c.owner_agent_id) AS agent, rf.first_pool AS pool, f.kind, f.score
       FROM bounds b, feedback f JOIN outbound_messages m ON m.id = f.outbound_message_id LEFT JOIN cases cs ON cs.id = f.case_id
         JOIN customers c ON c.id = f.customer_id LEFT JOIN report_customer_facts rf ON rf.customer_id = c.id
       WHERE f.answered_at >= b.lo AND f.answered_at < b.hi AND c.merged_into IS NULL AND c.erased_at IS NULL)
     SELECT ${columns}, (count(*) FILTER (WHERE kind = 'csat'))::int AS csat,
            (count(*) FILTER (WHERE kind = 'csat' AND score >= 4))::int AS csat_good,
            (count(*) FILTER (WHERE kind = 'nps'))::int AS nps,
            (count(*) FILTER (WHERE kind = 'nps' AND score >= 9))::int AS promoters,
            (count(*) FILTER (WHERE kind = 'nps' AND score <= 6))::int AS detractors
     FROM rating GROUP BY GROUPING SETS (${sets})`,
    [period.from, period.to, period.timeZone],
  );
  return rows;
}
