import type { Queue } from 'bullmq';
import type { Pool } from '../store/pool.js';
import { emitStaleDeals } from '../store/deals.js';
import type { LoadedConfig } from '../workflows/load.js';
import { enqueueEngineEvents, listenedEventTypes } from './event-dispatch.js';
import { jobIds, type JobData } from './queues.js';

/** How often open deals are checked for staleness (`rot_after`): a deal.stale fires at most this late. */
export const DEAL_STALE_CHECK_MS = 5 * 60_000;

/** Keeps one BullMQ job scheduler for the staleness check while some pipeline stage has a `rot_after`. */
export async function syncDealStaleCheck(config: LoadedConfig, queue: Queue<JobData>): Promise<void> {
  const rots = [...config.pipelines.values()].some((pipeline) =>
    pipeline.stages.some((stage) => stage.rotAfterMs !== undefined),
  );
  if (!rots) await queue.removeJobScheduler(jobIds.dealStaleCheck);
  else
    await queue.upsertJobScheduler(
      jobIds.dealStaleCheck,
      { every: DEAL_STALE_CHECK_MS },
      { name: 'deal-stale-check', data: { kind: 'deal-stale-check' } },
    );
}

/** Emits deal.stale for deals past their stage's `rot_after` (once per staleness, whoever checks) and queues them. */
export async function checkStaleDeals(
  pool: Pool,
  queue: Queue<JobData>,
  config: LoadedConfig,
  now: Date,
): Promise<number> {
  const events = await emitStaleDeals(pool, config.pipelines.values(), now, listenedEventTypes(config));
  await enqueueEngineEvents(queue, events);
  return events.length;
}
