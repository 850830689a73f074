import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { listStalePendingEvents, setInboxStatus } from '../store/inbox.js';
import type { Pool } from '../store/pool.js';
import { listDueWaitingRuns } from '../store/runs.js';
import { listDueSlas } from '../store/slas.js';
import type { CaseTargetChecks } from './case-services.js';
import { engineEventSource, type StoredEventSource } from './event-dispatch.js';
import { enqueueAt, enqueueInboxEvents, jobIds, jobPresence, type JobData } from './queues.js';
import { reconcileTaskJobs } from './task-jobs.js';

/** Every this many periodic turns, a full pass (see startReconciler). */
const FULL_PASS_EVERY = 60;

export interface ReconcilerOptions {
  /** How often to look; 0: only when `runOnce` is called. Default 5000 ms. */
  intervalMs?: number;
  /** Events pending longer than this are (re-)enqueued. Default 15000 ms. */
  graceMs?: number;
  /** The clock deciding whether a waiting run or an SLA is due; default the system clock. */
  now?: () => Date;
  /** Re-adds the lost checks of overdue case targets. */
  cases?: Pick<CaseTargetChecks, 'reconcile'>;
}

/**
 * Enqueues inbox events that were stored but never made it into Redis (Redis was down at ingest, or lost its data).
 * Events whose job is still queued or running are left alone; an event whose job failed for good while the database
 * was unreachable (so it could not be marked) is marked failed now. Engine events are reconciled the same way; waiting
 * runs, lead SLAs and task due times whose time has come but whose delayed job is gone get it back. Safe to run in
 * every process (jobs have deterministic ids), but the periodic pass is done by one process per interval.
 *
 * A backlog of stored events is walked in full only by a full pass: at a process's first turn, whenever Redis has lost
 * its data since the last pass (a marker key is gone), and every FULL_PASS_EVERY turns (a job that failed for good
 * while the database was away). The turns between check only the events that became stale since, so a flash sale's
 * backlog costs one walk, not one every few seconds.
 */
export function startReconciler(
  pool: Pool,
  queue: Queue<JobData>,
  redis: Redis,
  logger: Logger,
  options: ReconcilerOptions = {},
): { stop: () => void; runOnce: () => Promise<number> } {
  const graceMs = options.graceMs ?? 15_000;
  const inbox: StoredEventSource = {
    listStale: (afterId) => listStalePendingEvents(pool, graceMs, 1000, afterId),
    jobId: jobIds.event,
    enqueue: (ids) => enqueueInboxEvents(queue, ids),
    markFailed: (id) => setInboxStatus(pool, id, 'failed'),
  };
  const engineEvents = engineEventSource(pool, queue, graceMs);
  // Per source, the highest id a pass has checked; a full pass starts again from 0.
  const checked = new Map<StoredEventSource, number>();
  const marker = queue.toKey('reconciler-marker');
  let turns = 0;
  let running = false;
  const runOnce = async (full = true): Promise<number> => {
    if (running) return 0;
    running = true;
    try {
      // SET NX succeeds when the marker is missing: Redis is new or lost its data, and with it jobs.
      const redisLostData = (await redis.set(marker, '1', 'NX')) === 'OK';
      const due = turns++ % FULL_PASS_EVERY === 0;
      if (full || redisLostData || due) checked.clear();
      let total = 0;
      for (const source of [inbox, engineEvents]) {
        const { enqueued, lastId } = await requeueLostJobs(redis, queue, source, checked.get(source) ?? 0);
        checked.set(source, lastId);
        total += enqueued;
      }
      total += await reconcileTaskJobs(pool, queue, redis, graceMs);
      if (total > 0) logger.info({ events: total }, 'reconciler enqueued stored events');
      const timed =
        (await enqueueLostTimedJobs(pool, queue, redis, options.now?.() ?? new Date())) +
        ((await options.cases?.reconcile(redis)) ?? 0);
      if (timed > 0) logger.info({ jobs: timed }, 'reconciler re-added lost resume and SLA jobs');
      return total + timed;
    } catch (error) {
      logger.warn({ err: error }, 'reconciler could not run (will retry)');
      return 0;
    } finally {
      running = false;
    }
  };
  const intervalMs = options.intervalMs ?? 5000;
  if (intervalMs <= 0) return { stop: () => {}, runOnce };
  const turn = queue.toKey('reconciler-turn');
  const timer = setInterval(() => {
    // The first process to ask this interval takes the turn; the key expires before the next one.
    void redis
      .set(turn, String(process.pid), 'PX', Math.max(1, intervalMs - 100), 'NX')
      .then((taken) => (taken ? runOnce(false) : 0))
      .catch((error: unknown) => logger.warn({ err: error }, 'reconciler could not run (will retry)'));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}

/** Due waiting runs and SLAs whose job Redis does not know (lost, or never added): added now. */
async function enqueueLostTimedJobs(pool: Pool, queue: Queue<JobData>, redis: Redis, now: Date): Promise<number> {
  let added = 0;
  const addMissing = async (items: Array<{ data: JobData; jobId: string; at: Date }>) => {
    const states = await jobPresence(
      redis,
      queue,
      items.map((item) => item.jobId),
    );
    for (const [i, item] of items.entries()) {
      if (states[i] !== 'missing') continue;
      await enqueueAt(queue, item.data, item.jobId, item.at, now);
      added++;
    }
  };
  for (let afterId = 0; ;) {
    const runs = await listDueWaitingRuns(pool, now, 1000, afterId);
    if (runs.length === 0) break;
    await addMissing(
      runs.map((run) => ({
        data: { kind: 'resume', runId: run.id },
        jobId: jobIds.resume(run.id, run.resumeAt),
        at: run.resumeAt,
      })),
    );
    afterId = runs.at(-1)!.id;
  }
  for (let afterId = 0; ;) {
    const slas = await listDueSlas(pool, now, 1000, afterId);
    if (slas.length === 0) break;
    await addMissing(
      slas.map((sla) => ({
        data: { kind: 'sla', assignmentId: sla.assignmentId },
        jobId: jobIds.sla(sla.assignmentId),
        at: sla.dueAt,
      })),
    );
    afterId = slas.at(-1)!.assignmentId;
  }
  return added;
}

/**
 * Enqueues the stale pending events after `fromId` whose job Redis does not have, and marks those whose job failed for
 * good. Returns how many it enqueued and the highest id it checked.
 */
async function requeueLostJobs(
  redis: Redis,
  queue: Queue<JobData>,
  source: StoredEventSource,
  fromId: number,
): Promise<{ enqueued: number; lastId: number }> {
  let enqueued = 0;
  for (let afterId = fromId; ;) {
    const ids = await source.listStale(afterId);
    if (ids.length === 0) return { enqueued, lastId: afterId };
    const states = await jobPresence(redis, queue, ids.map(source.jobId));
    const missing = ids.filter((_, i) => states[i] === 'missing');
    await source.enqueue(missing);
    for (const id of ids.filter((_, i) => states[i] === 'failed')) await source.markFailed(id);
    enqueued += missing.length;
    afterId = ids.at(-1)!;
  }
}
