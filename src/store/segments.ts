import type { Pool, PoolClient } from './pool.js';

/** What moved a customer into or out of a segment (kept on the membership history). */
export type MembershipCause = 'change' | 'sweep' | 'backfill' | 'merge' | 'removed';

export interface MembershipChange {
  membershipId: number;
  customerId: number;
  segmentId: string;
  change: 'entered' | 'exited';
}

/** The segments customer `customerId` is in now. */
export async function currentSegments(db: Pool | PoolClient, customerId: number): Promise<string[]> {
  const { rows } = await db.query<{ segment_id: string }>(
    'SELECT segment_id FROM segment_memberships WHERE customer_id = $1 AND exited_at IS NULL ORDER BY segment_id',
    [customerId],
  );
  return rows.map((row) => row.segment_id);
}

/** The stays to open (`enter`) and close (`exit`) for one customer. */
export interface MembershipDiff {
  customerId: number;
  enter: string[];
  exit: string[];
}

/** Flattened into the (customer, segment) pairs of one side of the diffs, for unnest. */
const pairs = (diffs: MembershipDiff[], side: 'enter' | 'exit'): [number[], string[]] => {
  const customers: number[] = [];
  const segments: string[] = [];
  for (const diff of diffs)
    for (const segment of diff[side]) {
      customers.push(diff.customerId);
      segments.push(segment);
    }
  return [customers, segments];
};

/**
 * Opens the stays in `enter` and closes the open stays in `exit` of every diff, at `at`, in one statement each.
 * Idempotent by the unique open stay: a segment entered already (or left already) changes nothing and is not returned,
 * so each change is reported exactly once. By customer, exits before entries.
 */
export async function applyMembership(
  client: PoolClient,
  diffs: MembershipDiff[],
  at: Date,
  cause: MembershipCause,
): Promise<MembershipChange[]> {
  const changes: MembershipChange[] = [];
  const collect = (
    rows: Array<{ id: number; customer_id: number; segment_id: string }>,
    change: 'entered' | 'exited',
  ) =>
    changes.push(
      ...rows.map((row) => ({ membershipId: row.id, customerId: row.customer_id, segmentId: row.segment_id, change })),
    );
  const [exitCustomers, exitSegments] = pairs(diffs, 'exit');
  if (exitCustomers.length > 0)
    collect(
      (
        await client.query(
          `UPDATE segment_memberships m SET exited_at = $3, exited_by = $4
           FROM unnest($1::bigint[], $2::text[]) AS u(customer_id, segment_id)
           WHERE m.customer_id = u.customer_id AND m.segment_id = u.segment_id AND m.exited_at IS NULL
           RETURNING m.id, m.customer_id, m.segment_id`,
          [exitCustomers, exitSegments, at, cause],
        )
      ).rows,
      'exited',
    );
  const [enterCustomers, enterSegments] = pairs(diffs, 'enter');
  if (enterCustomers.length > 0)
    collect(
      (
        await client.query(
          `INSERT INTO segment_memberships (segment_id, customer_id, entered_at, entered_by)
           SELECT u.segment_id, u.customer_id, $3, $4 FROM unnest($1::bigint[], $2::text[]) AS u(customer_id, segment_id)
           ON CONFLICT (segment_id, customer_id) WHERE exited_at IS NULL DO NOTHING RETURNING id, customer_id, segment_id`,
          [enterCustomers, enterSegments, at, cause],
        )
      ).rows,
      'entered',
    );
  // A stable sort: each customer's exits stay before their entries.
  return changes.sort((a, b) => a.customerId - b.customerId);
}

/** When a time-based segment condition next changes its answer, as found for inputs hashed to `inputs`. */
export interface SegmentFlip {
  /** The definition version it was found with. */
  version: string;
  inputs: string;
  member: boolean;
  /** Epoch milliseconds. */
  at: number;
}

/** A customer's traits as computed, with when its time-based segment conditions must next be checked. */
export interface EvaluatedTraits {
  customerId: number;
  traits: Record<string, unknown>;
  /** -Infinity: at the next sweep (stored as `-infinity`). */
  recheckAt: Date | number | null;
  /** Per time-based condition, when it flips (see SegmentFlip). */
  flips: Record<string, SegmentFlip> | null;
}

/** Stores customers' traits and re-check times, in one statement; rows that would not change are not written. */
export async function saveTraits(client: PoolClient, evaluated: EvaluatedTraits[]): Promise<void> {
  await client.query(
    `UPDATE customers c SET traits = u.traits, segments_recheck_at = u.recheck_at, segment_flips = u.flips
     FROM unnest($1::bigint[], $2::jsonb[], $3::timestamptz[], $4::jsonb[]) AS u(id, traits, recheck_at, flips)
     WHERE c.id = u.id AND (c.traits IS DISTINCT FROM u.traits OR c.segments_recheck_at IS DISTINCT FROM u.recheck_at
       OR c.segment_flips IS DISTINCT FROM u.flips)`,
    [
      evaluated.map((row) => row.customerId),
      evaluated.map((row) => JSON.stringify(row.traits)),
      evaluated.map((row) => row.recheckAt),
      evaluated.map((row) => (row.flips === null ? null : JSON.stringify(row.flips))),
    ],
  );
}

/**
 * Asks the next sweep to recompute these customers' traits and segments (a change made outside the engine: a merge or
 * unmerge by hand, a task completed through the API).
 */
export async function markForRecheck(db: Pool | PoolClient, customerIds: number[]): Promise<void> {
  await db.query(`UPDATE customers SET segments_recheck_at = '-infinity' WHERE id = ANY($1::bigint[])`, [customerIds]);
}

export async function postponeRecheck(db: Pool | PoolClient, customerId: number, until: Date): Promise<void> {
  await db.query('UPDATE customers SET segments_recheck_at = $2 WHERE id = $1', [customerId, until]);
}

/** Live customers whose time-based segment conditions are due for a check at `now`, soonest first. */
export async function dueForRecheck(pool: Pool, now: Date, limit: number): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM customers WHERE segments_recheck_at <= $1 AND merged_into IS NULL ORDER BY segments_recheck_at LIMIT $2`,
    [now, limit],
  );
  return rows.map((row) => row.id);
}

/** One page of live customer ids after `afterId`, for a backfill. */
export async function customerIdsAfter(pool: Pool, afterId: number, limit: number): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    'SELECT id FROM customers WHERE id > $1 AND merged_into IS NULL AND erased_at IS NULL ORDER BY id LIMIT $2',
    [afterId, limit],
  );
  return rows.map((row) => row.id);
}

export interface StoredDefinition {
  version: string;
  backfilledAt: Date | null;
  /** The traits definition the backfill ran with (null: backfilled before it was kept). */
  traitsVersion: string | null;
}

/** The stored definition versions, by segment id. */
export async function storedDefinitions(pool: Pool): Promise<Map<string, StoredDefinition>> {
  const { rows } = await pool.query<{
    id: string;
    version: string;
    backfilled_at: Date | null;
    traits_version: string | null;
  }>('SELECT id, version, backfilled_at, traits_version FROM segment_definitions');
  return new Map(
    rows.map((row) => [
      row.id,
      { version: row.version, backfilledAt: row.backfilled_at, traitsVersion: row.traits_version },
    ]),
  );
}

export async function markBackfilled(
  pool: Pool,
  segmentIds: string[],
  versions: string[],
  traitsVersion: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO segment_definitions (id, version, backfilled_at, traits_version)
     SELECT id, version, now(), $3 FROM unnest($1::text[], $2::text[]) AS u(id, version)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, backfilled_at = now(), traits_version = $3`,
    [segmentIds, versions, traitsVersion],
  );
}

/** Closes the stays in segments no longer declared (no events: nobody listens to a segment that is gone). */
export async function retireSegments(pool: Pool, declared: string[], at: Date): Promise<number> {
  const { rowCount } = await pool.query(
    `UPDATE segment_memberships SET exited_at = $2, exited_by = 'removed' WHERE exited_at IS NULL AND NOT (segment_id = ANY($1::text[]))`,
    [declared, at],
  );
  await pool.query('DELETE FROM segment_definitions WHERE NOT (id = ANY($1::text[]))', [declared]);
  return rowCount ?? 0;
}

export interface SegmentStats {
  id: string;
  members: number;
  entered_30d: number;
  exited_30d: number;
}

/** Size and movements of the last 30 days of each segment. */
export async function segmentStats(pool: Pool, ids: string[], now: Date): Promise<Map<string, SegmentStats>> {
  const { rows } = await pool.query<SegmentStats>(
    `SELECT s AS id,
       (SELECT count(*) FROM segment_memberships WHERE segment_id = s AND exited_at IS NULL)::int AS members,
       (SELECT count(*) FROM segment_memberships WHERE segment_id = s AND entered_at > $2::timestamptz - interval '30 days')::int AS entered_30d,
       (SELECT count(*) FROM segment_memberships WHERE segment_id = s AND exited_at > $2::timestamptz - interval '30 days')::int AS exited_30d
     FROM unnest($1::text[]) AS s`,
    [ids, now],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

export interface SegmentMember {
  id: number;
  name: string | null;
  email: string | null;
  lifecycle_stage: string;
  owner_agent_id: string | null;
  entered_at: string;
  traits: Record<string, unknown>;
}

/** One page of a segment's members by customer id (keyset: after the last id of the previous page). */
export async function listSegmentMembers(
  pool: Pool,
  segmentId: string,
  afterId: number,
  limit: number,
): Promise<SegmentMember[]> {
  const { rows } = await pool.query<SegmentMember>(
    `SELECT c.id, c.name, (SELECT value FROM customer_identities WHERE customer_id = c.id AND kind = 'email' ORDER BY id LIMIT 1) AS email,
            c.lifecycle_stage, c.owner_agent_id, to_json(m.entered_at)#>>'{}' AS entered_at, c.traits
     FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
     WHERE m.segment_id = $1 AND m.exited_at IS NULL AND m.customer_id > $2
     ORDER BY m.customer_id LIMIT $3`,
    [segmentId, afterId, limit],
  );
  return rows;
}

/** A stay of a customer in a segment (membership history). */
export interface SegmentStay {
  segment_id: string;
  entered_at: Date;
  exited_at: Date | null;
  entered_by: MembershipCause;
  exited_by: MembershipCause | null;
}

/** The customer's membership history, newest first. */
export async function membershipHistory(pool: Pool, customerId: number): Promise<SegmentStay[]> {
  const { rows } = await pool.query<SegmentStay>(
    'SELECT segment_id, entered_at, exited_at, entered_by, exited_by FROM segment_memberships WHERE customer_id = $1 ORDER BY entered_at DESC, id DESC LIMIT 200',
    [customerId],
  );
  return rows;
}
