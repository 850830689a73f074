import type { Pool } from './pool.js';
import type { RunStatus } from './runs.js';

/** Runs that are over (failed ones only once no automatic attempt is left: those retrying are `queued`). */
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'filtered', 'failed', 'cancelled'];

/** Runs examined per transaction by default: each batch holds its row locks for a moment only. */
export const PRUNE_BATCH_SIZE = 1000;

export interface PruneRunRecordsOptions {
  /** Runs that finished before this lose their step records and stored payloads. */
  finishedBefore: Date;
  /** When the records go, as the runs and events will say. */
  now: Date;
  /** Runs examined per transaction. Default {@link PRUNE_BATCH_SIZE}. */
  batchSize?: number;
  /** Count the runs and step records that would go; change nothing (stored events are then not counted). */
  dryRun?: boolean;
  /** Called after each batch with the totals so far. */
  onBatch?: (totals: PruneTotals) => void;
}

export interface PruneTotals {
  /** Runs whose step records and payload went (or would go). */
  runs: number;
  /** Step records deleted (or that would be). */
  steps: number;
  /** Stored events whose payload went (0 in a dry run). */
  events: number;
}

/**
 * Removes the step records and stored payloads of runs finished before `finishedBefore`; the run rows stay, marked
 * `steps_pruned_at`. A stored event's payload goes with the last run that kept its records: none of its runs may still
 * need it (unfinished, recent, or with records). Queued, running and waiting runs keep everything.
 *
 * Candidates are found by walking the step records' primary key in run order, so runs pruned on earlier days are never
 * read again; runs are created in id order, so the walk stops at the first run created after the boundary. Each batch
 * is one statement (one short transaction).
 */
export async function pruneRunRecords(pool: Pool, options: PruneRunRecordsOptions): Promise<PruneTotals> {
  const batchSize = options.batchSize ?? PRUNE_BATCH_SIZE;
  const totals: PruneTotals = { runs: 0, steps: 0, events: 0 };
  let after = 0;
  for (;;) {
    const { rows } = await pool.query<{ id: number; old: boolean; due: boolean }>(
      // The ids as an array: each run is then read through the primary key (a join may hash the whole table instead).
      `SELECT id, created_at < $2 AS old,
              (status = ANY($3::text[]) AND finished_at < $2 AND steps_pruned_at IS NULL) AS due
       FROM workflow_runs
       WHERE id = ANY(ARRAY(SELECT DISTINCT run_id FROM run_steps WHERE run_id > $1 ORDER BY run_id LIMIT $4))
       ORDER BY id`,
      [after, options.finishedBefore, FINISHED_RUN_STATUSES, batchSize],
    );
    const due = rows.filter((row) => row.due).map((row) => Number(row.id));
    if (due.length > 0) {
      const batch = options.dryRun ? await countDue(pool, due) : await pruneBatch(pool, due, options);
      totals.runs += batch.runs;
      totals.steps += batch.steps;
      totals.events += batch.events;
      options.onBatch?.({ ...totals });
    }
    const last = rows.at(-1);
    if (!last || rows.length < batchSize || rows.some((row) => !row.old)) return totals;
    after = Number(last.id);
  }
}

async function countDue(pool: Pool, runIds: number[]): Promise<PruneTotals> {
  const { rows } = await pool.query<{ steps: number }>(
    'SELECT count(*)::int AS steps FROM run_steps WHERE run_id = ANY($1::bigint[])',
    [runIds],
  );
  return { runs: runIds.length, steps: rows[0]!.steps, events: 0 };
}

async function pruneBatch(pool: Pool, runIds: number[], options: PruneRunRecordsOptions): Promise<PruneTotals> {
  // The conditions are checked again: a run may have been retried or cancelled since it was selected. The statement
  // sees the runs as they were before it, so those it prunes are named explicitly in the events' check.
  const { rows } = await pool.query<PruneTotals>(
    `WITH pruned AS (
       UPDATE workflow_runs SET steps_pruned_at = $3, payload = NULL
       WHERE id = ANY($1::bigint[]) AND status = ANY($4::text[]) AND finished_at < $2 AND steps_pruned_at IS NULL
       RETURNING id, inbox_event_id),
     steps AS (DELETE FROM run_steps WHERE run_id IN (SELECT id FROM pruned) RETURNING 1),
     events AS (
       UPDATE inbox_events i SET payload = NULL, payload_pruned_at = $3
       WHERE i.id IN (SELECT inbox_event_id FROM pruned) AND i.payload_pruned_at IS NULL AND i.status <> 'pending'
         AND NOT EXISTS (
           SELECT 1 FROM workflow_runs r
           WHERE r.inbox_event_id = i.id AND r.steps_pruned_at IS NULL AND r.id NOT IN (SELECT id FROM pruned)
             -- a run that ended before the boundary without recording a step has nothing to keep
             AND NOT (r.status = ANY($4::text[]) AND r.finished_at < $2
                      AND NOT EXISTS (SELECT 1 FROM run_steps s WHERE s.run_id = r.id)))
       RETURNING 1)
     SELECT (SELECT count(*) FROM pruned)::int AS runs, (SELECT count(*) FROM steps)::int AS steps,
            (SELECT count(*) FROM events)::int AS events`,
    [runIds, options.finishedBefore, options.now, FINISHED_RUN_STATUSES],
  );
  return rows[0]!;
}
