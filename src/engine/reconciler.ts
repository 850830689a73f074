import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { listStalePendingEvents, setInboxStatus } from '../store/inbox.js';
import type { Pool } from '../store/pool.js';
import { listDueWaitingRuns } from '../store/runs.js';
import { listDueSlas } from '../store/slas.js';
import { engineEventSource } from './event-dispatch.js';
import { enqueueAt, enqueueInboxEvents, jobIds, jobPresence, type JobData } from './queues.js';
import { reconcileTaskJobs } from './task-jobs.js';

export interface ReconcilerOptions {
  /** How often to look; 0: only when `runOnce` is called. Default 5000 ms. */
  intervalMs?: number;
  /** Events pending longer than this are (re-)enqueued. Default 15000 ms. */
  graceMs?: number;
  /** The clock deciding whether a waiting run or an SLA is due; default the system clock. */
  now?: () => Date;
}

/**
 * Enqueues inbox events that were stored but never made it into Redis (Redis was down at ingest, or lost its data).
 * Events whose job is still queued or running are left alone; an event whose job failed for good while the database
 * was unreachable (so it could not be marked) is marked failed now. Engine events are reconciled the same way; waiting
 * runs, lead SLAs and task due times whose time has come but whose delayed job is gone get it back. Safe to run in
 * every process (jobs have deterministic ids), but the periodic pass is done by one process per interval: with a large
 * backlog, a pass reads every stale event, and N processes doing it N times would only slow the work down.
 */
export function startReconciler(pool: Pool, queue: Queue<JobData>, redis: Redis, logger: Logger, options: ReconcilerOptions = {}): { stop: () => void; runOnce: () => Promise<number> } {
  const graceMs = options.graceMs ?? 15_000;
  let running = false;
  const runOnce = async (): Promise<number> => {
    if (running) return 0;
    running = true;
    try {
      let total = await requeueLostJobs(redis, queue, {
        listStale: (afterId) => listStalePendingEvents(pool, graceMs, 1000, afterId),
        jobId: jobIds.event,
        enqueue: (ids) => enqueueInboxEvents(queue, ids),
        markFailed: (id) => setInboxStatus(pool, id, 'failed'),
      });
      total += (await requeueLostJobs(redis, queue, engineEventSource(pool, queue, graceMs))) + (await reconcileTaskJobs(pool, queue, redis, graceMs));
      if (total > 0) logger.info({ events: total }, 'reconciler enqueued stored events');
      const timed = await enqueueLostTimedJobs(pool, queue, redis, options.now?.() ?? new Date());
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
      .then((taken) => (taken ? runOnce() : 0))
      .catch((error: unknown) => logger.warn({ err: error }, 'reconciler could not run (will retry)'));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}

/** Due waiting runs and SLAs whose job Redis does not know (lost, or never added): added now. */
async function enqueueLostTimedJobs(pool: Pool, queue: Queue<JobData>, redis: Redis, now: Date): Promise<number> {
  let added = 0;
  const addMissing = async (items: Array<{ data: JobData; jobId: string; at: Date }>) => {
    const states = await jobPresence(redis, queue, items.map((item) => item.jobId));
    for (const [i, item] of items.entries()) {
      if (states[i] !== 'missing') continue;
      await enqueueAt(queue, item.data, item.jobId, item.at, now);
      added++;
    }
  };
  for (let afterId = 0; ; ) {
    const runs = await listDueWaitingRuns(pool, now, 1000, afterId);
    if (runs.length === 0) break;
    await addMissing(runs.map((run) => ({ data: { kind: 'resume', runId: run.id }, jobId: jobIds.resume(run.id, run.resumeAt), at: run.resumeAt })));
    afterId = runs.at(-1)!.id;
  }
  for (let afterId = 0; ; ) {
    const slas = await listDueSlas(pool, now, 1000, afterId);
    if (slas.length === 0) break;
    await addMissing(slas.map((sla) => ({ data: { kind: 'sla', assignmentId: sla.assignmentId }, jobId: jobIds.sla(sla.assignmentId), at: sla.dueAt })));
    afterId = slas.at(-1)!.assignmentId;
  }
  return added;
}

/** Stored events that each become one job (the inbox, engine events), as the reconciler walks them. */
export interface StoredEventSource {
  /** A page of ids, after `afterId`, of events still pending after the grace period. */
  listStale: (afterId: number) => Promise<number[]>;
  jobId: (id: number) => string;
  enqueue: (ids: number[]) => Promise<void>;
  markFailed: (id: number) => Promise<void>;
}

/** Enqueues the stale pending events whose job Redis does not have, and marks those whose job failed for good. */
async function requeueLostJobs(redis: Redis, queue: Queue<JobData>, source: StoredEventSource): Promise<number> {
  let total = 0;
  for (let afterId = 0; ; ) {
    const ids = await source.listStale(afterId);
    if (ids.length === 0) return total;
    const states = await jobPresence(redis, queue, ids.map(source.jobId));
    const missing = ids.filter((_, i) => states[i] === 'missing');
    await source.enqueue(missing);
    for (const id of ids.filter((_, i) => states[i] === 'failed')) await source.markFailed(id);
    total += missing.length;
    afterId = ids.at(-1)!;
  }
}
