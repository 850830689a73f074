import { getMessage, type MessageRow } from './messages.js';
import type { Pool } from './pool.js';

/**
 * Runs that need a person: a reply whose delivery is unknown (`uncertain`: the vendor timed out or reset after the
 * send) ended the run's step as done, but nobody knows whether the customer got it, and it is never resent by itself.
 */
export const NEEDS_PERSON_SQL = (run: string) =>
  `EXISTS (SELECT 1 FROM outbound_messages m WHERE m.status = 'uncertain' AND m.run_id = ${run})`;

/** How many runs have an uncertain reply. */
export async function countRunsNeedingPerson(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(DISTINCT run_id)::int AS n FROM outbound_messages WHERE status = 'uncertain' AND run_id IS NOT NULL",
  );
  return rows[0]!.n;
}

/** Which of `runIds` have an uncertain reply. */
export async function runsNeedingPerson(pool: Pool, runIds: readonly number[]): Promise<Set<number>> {
  if (runIds.length === 0) return new Set();
  const { rows } = await pool.query<{ run_id: number }>(
    "SELECT DISTINCT run_id FROM outbound_messages WHERE status = 'uncertain' AND run_id = ANY($1::bigint[])",
    [runIds],
  );
  return new Set(rows.map((row) => Number(row.run_id)));
}

/** The run's uncertain replies, oldest first. */
export async function uncertainMessagesOfRun(pool: Pool, runId: number): Promise<MessageRow[]> {
  const { rows } = await pool.query<{ id: number }>(
    "SELECT id FROM outbound_messages WHERE status = 'uncertain' AND run_id = $1 ORDER BY id",
    [runId],
  );
  const messages = await Promise.all(rows.map((row) => getMessage(pool, Number(row.id))));
  return messages.filter((message): message is MessageRow => message !== undefined);
}
