import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { runRecordsPruned } from '../observability/metrics.js';
import type { Pool } from '../store/pool.js';
import { pruneRunRecords, type PruneTotals } from '../store/retention.js';
import { jobIds, type JobData } from './queues.js';

/** When the daily retention pass runs (UTC): a quiet hour for most teams. */
export const RUN_RETENTION_PATTERN = '0 3 * * *';

const DAY_MS = 86_400_000;

/**
 * Keeps one BullMQ job scheduler for run retention while it is on (`CRMFLOW_RUN_RETENTION_DAYS`): one pass a day
 * across all processes, carrying the number of days so the worker needs no setting of its own.
 */
export async function syncRunRetention(queue: Queue<JobData>, olderThanDays: number | undefined): Promise<void> {
  if (olderThanDays === undefined) await queue.removeJobScheduler(jobIds.runRetention);
  else
    await queue.upsertJobScheduler(
      jobIds.runRetention,
      { pattern: RUN_RETENTION_PATTERN, tz: 'UTC' },
      { name: 'prune-runs', data: { kind: 'prune-runs', olderThanDays } },
    );
}

export interface RetentionPass {
  olderThanDays: number;
  now: Date;
  dryRun?: boolean;
}

/**
 * One retention pass (the daily job's and `crmflow runs prune`'s): step records and payloads of runs finished more
 * than `olderThanDays` before `now` go, in batches, with progress in the log and the counter
 * `crmflow_run_records_pruned_total`.
 */
export async function pruneOldRunRecords(
  pool: Pool,
  logger: Pick<Logger, 'info'>,
  pass: RetentionPass,
): Promise<PruneTotals & { finishedBefore: Date }> {
  const finishedBefore = new Date(pass.now.getTime() - pass.olderThanDays * DAY_MS);
  const counted: PruneTotals = { runs: 0, steps: 0, events: 0 };
  const totals = await pruneRunRecords(pool, {
    finishedBefore,
    now: pass.now,
    dryRun: pass.dryRun,
    onBatch: (sofar) => {
      if (!pass.dryRun)
        for (const what of ['runs', 'steps', 'events'] as const)
          runRecordsPruned.inc({ what }, sofar[what] - counted[what]);
      Object.assign(counted, sofar);
      logger.info(
        { ...sofar, finished_before: finishedBefore, dry_run: pass.dryRun ?? false },
        'run retention: batch done',
      );
    },
  });
  logger.info(
    { ...totals, finished_before: finishedBefore, dry_run: pass.dryRun ?? false },
    'run retention: step records and payloads of old finished runs removed',
  );
  return { ...totals, finishedBefore };
}
