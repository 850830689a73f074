import type { CustomerSummary } from '../customers/record.js';
import { customerConsent } from './consents.js';
import type { Pool } from './pool.js';
import { currentSegments, membershipHistory } from './segments.js';

/** The columns of a CustomerSummary, for a query over `customers c`. */
export const SUMMARY_COLUMNS = `c.id, c.name, c.first_name, c.last_name, c.language, c.country, c.lifecycle_stage, c.score, c.owner_agent_id,
  c.attributes, c.traits, c.created_at, c.updated_at,
  (SELECT value FROM customer_identities WHERE customer_id = c.id AND kind = 'email' ORDER BY id LIMIT 1) AS email,
  (SELECT value FROM customer_identities WHERE customer_id = c.id AND kind = 'phone' ORDER BY id LIMIT 1) AS phone,
  coalesce((SELECT json_agg(json_build_object('kind', kind, 'value', value) ORDER BY id) FROM customer_identities WHERE customer_id = c.id), '[]') AS identities`;

/** The live customer for an id, following merges (a merged customer's id keeps resolving). */
export async function loadCustomerSummary(pool: Pool, id: number): Promise<CustomerSummary | undefined> {
  const { rows } = await pool.query<CustomerSummary>(
    `SELECT ${SUMMARY_COLUMNS} FROM customers c
     WHERE c.id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1)`,
    [id],
  );
  return rows[0];
}

export interface CustomerSearch {
  email?: string;
  phone?: string;
  /** Name prefix, email, phone or vendor id. */
  q?: string;
  limit: number;
}

export async function findCustomers(pool: Pool, search: CustomerSearch): Promise<CustomerSummary[]> {
  const { rows } = await pool.query<CustomerSummary>(
    `SELECT ${SUMMARY_COLUMNS} FROM customers c
     WHERE c.merged_into IS NULL AND c.erased_at IS NULL
       AND ($1::text IS NULL OR c.id IN (SELECT customer_id FROM customer_identities WHERE kind = 'email' AND value = $1))
       AND ($2::text IS NULL OR c.id IN (SELECT customer_id FROM customer_identities WHERE kind = 'phone' AND value = $2))
       AND ($3::text IS NULL OR lower(c.name) LIKE lower($3) || '%'
            OR c.id IN (SELECT customer_id FROM customer_identities WHERE value = $3 OR value = lower($3)))
     ORDER BY c.id DESC LIMIT $4`,
    [search.email ?? null, search.phone ?? null, search.q ?? null, search.limit],
  );
  return rows;
}

/** Everything the API shows about one customer: profile, score, identities, owner, merges, timeline, messages, tasks, consent. */
export async function loadCustomerDetail(pool: Pool, id: number): Promise<Record<string, unknown> | undefined> {
  const summary = await loadCustomerSummary(pool, id);
  if (!summary) return undefined;
  const [identities, timeline, assignments, merges, lifecycle, messages, tasks, scores] = await Promise.all([
    pool.query(`SELECT kind, value, source, created_at FROM customer_identities WHERE customer_id = $1 ORDER BY id`, [
      summary.id,
    ]),
    pool.query(
      `SELECT id, source, external_id, type, occurred_at, summary, data FROM timeline_events WHERE customer_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT 200`,
      [summary.id],
    ),
    pool.query(
      `SELECT agent_id, pool, strategy, reason, assigned_at FROM lead_assignments WHERE customer_id = $1 ORDER BY id DESC`,
      [summary.id],
    ),
    pool.query(
      `SELECT id, kept_id, merged_id, reason->'linked_by' AS linked_by, reason->>'event' AS event, reason->>'why' AS why, reason, merged_at, unmerged_at, unmerged_by
       FROM customer_merges WHERE kept_id = $1 OR merged_id = $1 ORDER BY id`,
      [summary.id],
    ),
    pool.query(
      `SELECT from_stage, to_stage, source, changed_at FROM lifecycle_history WHERE customer_id = $1 ORDER BY id`,
      [summary.id],
    ),
    pool.query(
      `SELECT id, channel, transport, recipient, subject, status, status_reason, created_at, sent_at, agent_id FROM outbound_messages WHERE customer_id = $1 ORDER BY id DESC LIMIT 100`,
      [summary.id],
    ),
    pool.query(
      `SELECT id, agent_id, title, notes, status, due_at, overdue_at, created_at, completed_at FROM tasks WHERE customer_id = $1 ORDER BY id DESC LIMIT 100`,
      [summary.id],
    ),
    pool.query(
      `SELECT delta, score, source, changed_at FROM score_history WHERE customer_id = $1 ORDER BY id DESC LIMIT 100`,
      [summary.id],
    ),
  ]);
  const consent = await customerConsent(pool, summary.id);
  const [segments, segmentHistory] = await Promise.all([
    currentSegments(pool, summary.id),
    membershipHistory(pool, summary.id),
  ]);
  return {
    ...summary,
    ...(summary.id !== id ? { resolved_from: id } : {}),
    identities: identities.rows,
    timeline: timeline.rows,
    assignments: assignments.rows,
    merges: merges.rows,
    lifecycle_history: lifecycle.rows,
    messages: messages.rows,
    tasks: tasks.rows,
    score_history: scores.rows,
    segments,
    segment_history: segmentHistory,
    ...consent,
  };
}

/**
 * Ids of the customer a value names (a customer id, or an identity value such as an email, phone or vendor id),
 * followed through merges, with the ids merged into it: runs keep the customer id they had when they ran.
 */
export async function customerIdsFor(pool: Pool, search: { id?: number; values: string[] }): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    // UNIONs, not ORs: each branch has its index (customer_identities_value_idx, customers_merged_into_idx).
    `WITH hit AS (
       SELECT coalesce(merged_into, id) AS id FROM customers WHERE id = $1::bigint
       UNION
       SELECT coalesce(c.merged_into, c.id) FROM customer_identities i JOIN customers c ON c.id = i.customer_id
       WHERE i.value = ANY($2::text[])
     )
     SELECT id FROM hit UNION SELECT id FROM customers WHERE merged_into IN (SELECT id FROM hit) ORDER BY id`,
    [search.id ?? null, search.values],
  );
  return rows.map((row) => row.id);
}
