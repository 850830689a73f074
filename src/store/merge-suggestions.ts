import { comparableName, jaroWinkler } from '../customers/jaro-winkler.js';
import { CustomerChangeError, mergeLiveCustomers } from './customers.js';
import { withTransaction, type Pool } from './pool.js';

/** Email local parts that name a role, not a person: two people at different companies both write from info@. */
const ROLE_LOCAL_PARTS = [
  'info',
  'contact',
  'sales',
  'hello',
  'admin',
  'office',
  'mail',
  'support',
  'orders',
  'billing',
  'team',
  'shop',
];

export interface DuplicateFinderOptions {
  /** Lowest name similarity suggested (0..1). */
  minScore: number;
  /** Candidate pairs read per query. Default 500. */
  batchSize?: number;
  /** Most candidate pairs examined per run, so one run stays bounded. Default 20 000. */
  maxPairs?: number;
}

interface Candidate {
  a: number;
  b: number;
  name_a: string;
  name_b: string;
  shared: Array<{ kind: 'email_local_part' | 'phone_suffix'; value: string }>;
}

/**
 * Finds likely duplicates no rule merged: live customers that share an email local part (ana.souza@ at two domains)
 * or the last 7 digits of a phone, whose names are alike (Jaro–Winkler of the names, words sorted). Each becomes an
 * open suggestion with its score and evidence; pairs already suggested, accepted or rejected are never suggested again.
 */
export async function suggestDuplicates(
  pool: Pool,
  options: DuplicateFinderOptions,
): Promise<{ examined: number; suggested: number }> {
  const batchSize = options.batchSize ?? 500;
  const maxPairs = options.maxPairs ?? 20_000;
  let after: [number, number] = [0, 0];
  let examined = 0;
  let suggested = 0;
  while (examined < maxPairs) {
    const { rows } = await pool.query<Candidate>(
      `WITH keys AS (
         SELECT customer_id AS id, 'email_local_part' AS kind, split_part(value, '@', 1) AS key FROM customer_identities
          WHERE kind = 'email' AND length(split_part(value, '@', 1)) >= 3 AND split_part(value, '@', 1) <> ALL($4::text[])
         UNION
         SELECT customer_id, 'phone_suffix', right(value, 7) FROM customer_identities WHERE kind = 'phone' AND length(value) >= 8
       )
       SELECT ka.id AS a, kb.id AS b, ca.name AS name_a, cb.name AS name_b,
              json_agg(DISTINCT jsonb_build_object('kind', ka.kind, 'value', ka.key)) AS shared
         FROM keys ka JOIN keys kb ON kb.kind = ka.kind AND kb.key = ka.key AND kb.id > ka.id
         JOIN customers ca ON ca.id = ka.id AND ca.merged_into IS NULL AND ca.name IS NOT NULL
         JOIN customers cb ON cb.id = kb.id AND cb.merged_into IS NULL AND cb.name IS NOT NULL
        WHERE (ka.id, kb.id) > ($1::bigint, $2::bigint)
          AND NOT EXISTS (SELECT 1 FROM customer_merge_suggestions s WHERE s.customer_a = ka.id AND s.customer_b = kb.id)
        GROUP BY ka.id, kb.id, ca.name, cb.name ORDER BY ka.id, kb.id LIMIT $3`,
      [after[0], after[1], Math.min(batchSize, maxPairs - examined), ROLE_LOCAL_PARTS],
    );
    if (rows.length === 0) break;
    examined += rows.length;
    after = [rows.at(-1)!.a, rows.at(-1)!.b];
    const scored = rows
      .map((row) => ({
        ...row,
        score: Math.round(jaroWinkler(comparableName(row.name_a), comparableName(row.name_b)) * 1000) / 1000,
      }))
      .filter((row) => row.score >= options.minScore);
    if (scored.length === 0) continue;
    const { rowCount } = await pool.query(
      `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason, score)
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[], $4::float8[]) ON CONFLICT (customer_a, customer_b) DO NOTHING`,
      [
        scored.map((row) => row.a),
        scored.map((row) => row.b),
        scored.map((row) =>
          JSON.stringify({
            why: 'similar names with a shared email local part or phone suffix',
            names: [row.name_a, row.name_b],
            name_similarity: row.score,
            shared: row.shared,
          }),
        ),
        scored.map((row) => row.score),
      ],
    );
    suggested += rowCount ?? 0;
  }
  return { examined, suggested };
}

export const SUGGESTION_STATUSES = ['open', 'accepted', 'rejected'] as const;
export type SuggestionStatus = (typeof SUGGESTION_STATUSES)[number];

export interface SuggestionRow {
  id: number;
  customer_a: number;
  customer_b: number;
  score: number | null;
  reason: Record<string, unknown>;
  status: SuggestionStatus;
  created_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
}

const SUGGESTION_COLUMNS = 'id, customer_a, customer_b, score, reason, status, created_at, decided_by, decided_at';

/** Newest first; `before` is an id (keyset pagination). */
export async function listSuggestions(
  pool: Pool,
  options: { status: string; before?: number; limit: number },
): Promise<SuggestionRow[]> {
  const { rows } = await pool.query<SuggestionRow>(
    `SELECT ${SUGGESTION_COLUMNS} FROM customer_merge_suggestions
      WHERE status = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [options.status, options.before ?? null, options.limit],
  );
  return rows;
}

/**
 * Accepts (merges the two customers) or rejects (remembered: the pair is never suggested or merged by a rule again)
 * an open suggestion, in one transaction.
 */
export async function decideSuggestion(
  pool: Pool,
  id: number,
  decision: 'accepted' | 'rejected',
  actor: string,
): Promise<SuggestionRow & { merge_id?: number; kept_id?: number }> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<SuggestionRow>(
      `SELECT ${SUGGESTION_COLUMNS} FROM customer_merge_suggestions WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const suggestion = rows[0];
    if (!suggestion) throw new CustomerChangeError('not_found', `no merge suggestion ${id}`);
    if (suggestion.status !== 'open')
      throw new CustomerChangeError('conflict', `merge suggestion ${id} was already ${suggestion.status}`);
    const merged =
      decision === 'accepted'
        ? await mergeLiveCustomers(client, suggestion.customer_a, suggestion.customer_b, {
            event: `suggestion:${id}`,
            why: `accepted suggestion by ${actor}`,
          })
        : undefined;
    const { rows: decided } = await client.query<SuggestionRow>(
      `UPDATE customer_merge_suggestions SET status = $2, decided_by = $3, decided_at = now() WHERE id = $1 RETURNING ${SUGGESTION_COLUMNS}`,
      [id, decision, actor],
    );
    return { ...decided[0]!, ...(merged ? { merge_id: merged.mergeId, kept_id: merged.keptId } : {}) };
  });
}

/**
 * Suggests (once per pair) that the sender of a reply is the customer our answered email went to, when identity
 * resolution made them two customers (a reply from another address). Merged customers count as who they are now.
 */
export async function suggestReplyMerge(
  pool: Pool,
  sender: number,
  addressee: number,
  reason: Record<string, unknown>,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `INSERT INTO customer_merge_suggestions (customer_a, customer_b, reason)
     SELECT least(a.live, b.live), greatest(a.live, b.live), $3
     FROM (SELECT coalesce(merged_into, id) AS live FROM customers WHERE id = $1) a, (SELECT coalesce(merged_into, id) AS live FROM customers WHERE id = $2) b
     WHERE a.live <> b.live
     ON CONFLICT (customer_a, customer_b) DO NOTHING`,
    [sender, addressee, JSON.stringify(reason)],
  );
  return rowCount === 1;
}
