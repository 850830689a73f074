import { withTransaction, type Pool } from './pool.js';

/** Remembers the customer's latest inbound message per channel and address (never moves back in time). */
export async function noteInbound(pool: Pool, channel: string, address: string, at: Date): Promise<void> {
  await pool.query(
    `INSERT INTO inbound_contacts (channel, address, last_inbound_at) VALUES ($1, $2, $3)
     ON CONFLICT (channel, address) DO UPDATE SET last_inbound_at = greatest(inbound_contacts.last_inbound_at, excluded.last_inbound_at)`,
    [channel, address, at],
  );
}

export async function lastInbound(pool: Pool, channel: string, address: string): Promise<Date | undefined> {
  const { rows } = await pool.query<{ at: Date }>(
    'SELECT last_inbound_at AS at FROM inbound_contacts WHERE channel = $1 AND address = $2',
    [channel, address],
  );
  return rows[0]?.at;
}

/** At most `max` replies per `windowMs` in `scope`. */
export interface ReplyLimit {
  scope: string;
  max: number;
  windowMs: number;
}

export type Allowance = { allowed: true } | { allowed: false; limit: ReplyLimit; since: Date };

/**
 * Lets one reply through every limit, or names the first limit it would exceed (and when that window's first reply
 * went). Concurrency-safe: each scope is locked (a transaction advisory lock, taken in a fixed order) while it is
 * counted and written, so two workers can never both take the last place. A retried reply that was let through
 * before is let through again. Rows older than `retentionMs` (longer than any window) are pruned from the scopes.
 */
export async function claimAllowance(
  pool: Pool,
  idempotencyKey: string,
  limits: ReplyLimit[],
  retentionMs: number,
): Promise<Allowance> {
  const ordered = [...limits].sort((a, b) => a.scope.localeCompare(b.scope));
  return withTransaction(pool, async (client) => {
    for (const limit of ordered)
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7))', [limit.scope]);
    await client.query(
      `DELETE FROM reply_allowances WHERE scope = ANY($1::text[]) AND granted_at < now() - make_interval(secs => $2::double precision / 1000)`,
      [ordered.map((limit) => limit.scope), retentionMs],
    );
    for (const limit of ordered) {
      const { rows } = await client.query<{ mine: boolean; granted_at: Date }>(
        `SELECT idempotency_key = $2 AS mine, granted_at FROM reply_allowances
         WHERE scope = $1 AND (idempotency_key = $2 OR granted_at > now() - make_interval(secs => $3::double precision / 1000))
         ORDER BY granted_at`,
        [limit.scope, idempotencyKey, limit.windowMs],
      );
      if (rows.some((row) => row.mine)) continue;
      if (rows.length >= limit.max) return { allowed: false, limit, since: rows[0]!.granted_at };
    }
    for (const limit of ordered) {
      await client.query(
        'INSERT INTO reply_allowances (scope, idempotency_key) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [limit.scope, idempotencyKey],
      );
    }
    return { allowed: true };
  });
}
