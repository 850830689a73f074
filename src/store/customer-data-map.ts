import type { PoolClient } from './pool.js';

/**
 * Every table holding rows about a person, and what a merge, an export and an erasure do with them. A table added
 * later (consent, tasks…) is one entry here: merges, unmerges, `GET /api/customers/:id/export` and
 * `DELETE /api/customers/:id` pick it up.
 *
 * `rows` is an SQL condition on the table (aliased `t`) naming the person's rows, with `p.customers` (the customer
 * ids: the live one and those merged into it) and `p.inbox` (ids of the inbound events about them) in scope.
 */
export interface CustomerTable {
  table: string;
  rows: string;
  /** Rows carry `id` and `customer_id` and move to the kept customer on a merge (and back on an unmerge). */
  followsMerges?: boolean;
  /**
   * What erasure does: delete the rows, clear columns (an SQL `SET` list), or keep them with the reason why they hold
   * no personal data.
   */
  erase: { delete: true } | { set: string } | { keep: string };
}

const ADDRESSES = 'SELECT value FROM customer_identities WHERE customer_id = ANY(p.customers)';
const RUNS = 'SELECT id FROM workflow_runs WHERE customer_id = ANY(p.customers) OR inbox_event_id = ANY(p.inbox)';

export const CUSTOMER_TABLES: readonly CustomerTable[] = [
  {
    table: 'customers',
    rows: 't.id = ANY(p.customers)',
    erase: {
      set: `name = NULL, first_name = NULL, last_name = NULL, language = NULL, country = NULL, attributes = '{}', traits = '{}', segments_recheck_at = NULL, segment_flips = NULL, erased_at = now(), updated_at = now()`,
    },
  },
  {
    table: 'customer_identities',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { delete: true },
  },
  // Consent and messaging windows are kept per address, not per customer: found through the identities, so listed
  // after them (erasure walks this list backwards, identities last).
  ...['consents', 'consent_history', 'inbound_contacts'].map((table) => ({
    table,
    rows: `t.address IN (${ADDRESSES})`,
    erase: { delete: true } as const,
  })),
  {
    table: 'tasks',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { set: `title = '[erased]', notes = NULL` },
  },
  {
    table: 'cases',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { set: `subject = '[erased]'` },
  },
  {
    table: 'case_entries',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { set: `body = '[erased]', data = '{}'` },
  },
  {
    table: 'feedback',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { keep: 'a score and its message only' },
  },
  // Deals before their stage history: erasure walks this list backwards, so the history goes first.
  { table: 'deals', rows: 't.customer_id = ANY(p.customers)', followsMerges: true, erase: { delete: true } },
  {
    table: 'deal_stage_history',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { delete: true },
  },
  {
    table: 'score_history',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { keep: 'points and their source run only' },
  },
  { table: 'engine_events', rows: 't.customer_id = ANY(p.customers)', erase: { set: `data = '{}'` } },
  // Evaluated state, not moved by merges: a merge closes the merged customer's stays and re-evaluates the kept one.
  { table: 'segment_memberships', rows: 't.customer_id = ANY(p.customers)', erase: { delete: true } },
  { table: 'timeline_events', rows: 't.customer_id = ANY(p.customers)', followsMerges: true, erase: { delete: true } },
  {
    table: 'lead_assignments',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { keep: 'agent, pool and time only; counts toward agent load' },
  },
  {
    table: 'lifecycle_history',
    rows: 't.customer_id = ANY(p.customers)',
    followsMerges: true,
    erase: { keep: 'stage changes only' },
  },
  {
    table: 'outbound_messages',
    rows: `t.customer_id = ANY(p.customers) OR t.run_id IN (${RUNS})`,
    followsMerges: true,
    erase: { set: `recipient = '[erased]', subject = NULL, body = '[erased]', status_reason = NULL` },
  },
  {
    table: 'workflow_runs',
    rows: 't.customer_id = ANY(p.customers) OR t.inbox_event_id = ANY(p.inbox)',
    followsMerges: true,
    erase: { set: `trigger = '{}', payload = NULL, error = NULL` },
  },
  {
    table: 'run_steps',
    rows: `t.run_id IN (${RUNS})`,
    erase: { set: 'input = NULL, output = NULL, state = NULL, error = NULL' },
  },
  { table: 'inbox_event_identities', rows: 't.inbox_event_id = ANY(p.inbox)', erase: { delete: true } },
  { table: 'inbox_events', rows: 't.id = ANY(p.inbox)', erase: { set: `payload = '{"erased": true}'` } },
  {
    table: 'customer_merges',
    rows: 't.kept_id = ANY(p.customers) OR t.merged_id = ANY(p.customers)',
    erase: { set: `reason = '{}', before = NULL` },
  },
  {
    table: 'customer_merge_suggestions',
    rows: 't.customer_a = ANY(p.customers) OR t.customer_b = ANY(p.customers)',
    // An open suggestion about an erased person is closed: accepting it would merge an empty record.
    erase: {
      set: `reason = '{}', status = CASE WHEN status = 'open' THEN 'rejected' ELSE status END, decided_by = coalesce(decided_by, 'erasure'), decided_at = coalesce(decided_at, now())`,
    },
  },
  {
    table: 'audit_log',
    rows: `t.target = ANY(SELECT 'customer:' || c FROM unnest(p.customers) AS c)`,
    erase: { keep: 'append-only; entries name customers by id and never hold personal data' },
  },
];

export const MERGE_TABLES = CUSTOMER_TABLES.filter((table) => table.followsMerges).map((table) => table.table);

/** The person a customer id names: the live customer and those merged into it, and the inbound events about them. */
export interface Person {
  customers: number[];
  inbox: number[];
}

export async function findPerson(client: PoolClient, customerId: number): Promise<Person | undefined> {
  const { rows } = await client.query<{ id: number }>(
    `SELECT id FROM customers WHERE id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1)
     UNION SELECT id FROM customers WHERE merged_into = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1) ORDER BY id`,
    [customerId],
  );
  if (rows.length === 0) return undefined;
  const customers = rows.map((row) => row.id);
  // Events that ran for them, those whose recorded identities include one of theirs (any kind: a phone-only SMS, a
  // Gmail address written another way), and, for deliveries stored before identities were recorded, those whose
  // payload names one of their emails (a run that failed before it resolved the customer still stored the payload).
  const { rows: inbox } = await client.query<{ id: number }>(
    `SELECT inbox_event_id AS id FROM workflow_runs WHERE customer_id = ANY($1::bigint[]) AND inbox_event_id IS NOT NULL
     UNION
     SELECT ii.inbox_event_id FROM inbox_event_identities ii JOIN customer_identities ci USING (kind, value) WHERE ci.customer_id = ANY($1::bigint[])
     UNION
     SELECT i.id FROM inbox_events i, customer_identities ci
      WHERE ci.customer_id = ANY($1::bigint[]) AND ci.kind = 'email' AND position(ci.value IN lower(i.payload::text)) > 0
     ORDER BY id`,
    [customers],
  );
  return { customers, inbox: inbox.map((row) => row.id) };
}

const scope = `WITH p AS (SELECT $1::bigint[] AS customers, $2::bigint[] AS inbox)`;

/** Every row about the person, by table. */
export async function exportPerson(client: PoolClient, person: Person): Promise<Record<string, unknown[]>> {
  const document: Record<string, unknown[]> = {};
  for (const table of CUSTOMER_TABLES) {
    const { rows } = await client.query<{ row: unknown }>(
      `${scope} SELECT to_jsonb(t) AS row FROM ${table.table} t, p WHERE ${table.rows}`,
      [person.customers, person.inbox],
    );
    document[table.table] = rows.map((row) => row.row);
  }
  return document;
}

/** Erases or anonymises every row about the person, children before the rows they point at. Caller holds a transaction. */
export async function erasePerson(client: PoolClient, person: Person): Promise<Record<string, number>> {
  const touched: Record<string, number> = {};
  for (const table of [...CUSTOMER_TABLES].reverse()) {
    const erase = table.erase;
    if ('keep' in erase) continue;
    const sql =
      'delete' in erase
        ? `${scope} DELETE FROM ${table.table} t USING p WHERE ${table.rows}`
        : `${scope} UPDATE ${table.table} t SET ${erase.set} FROM p WHERE ${table.rows}`;
    touched[table.table] = (await client.query(sql, [person.customers, person.inbox])).rowCount ?? 0;
  }
  return touched;
}

/**
 * Roll-ups a trigger computes from a table above (migration 0021, for KPI reports): they follow that table's rows on
 * merges, unmerges and erasure by themselves and hold nothing its export lacks, so they are not listed above.
 */
export const DERIVED_CUSTOMER_TABLES: Readonly<Record<string, string>> = {
  purchases: 'timeline_events',
  report_customer_facts: 'timeline_events',
};
