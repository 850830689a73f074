import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

/** The one BullMQ queue; job names say what to do. Namespaced by the `prefix` option, never by `:` in names. */
export const EVENTS_QUEUE = 'events';

export type JobData =
  | { kind: 'event'; inboxId: number }
  | { kind: 'run'; runId: number }
  | { kind: 'schedule'; workflow: string; tick: string }
  | { kind: 'pull'; workflow: string }
  /** Runs a stored event through the current workflows again (`crmflow replay`), as new runs. */
  | { kind: 'replay'; inboxId: number; replay: string; workflow?: string }
  /** Continues a `waiting` run (delayed until its resume time). */
  | { kind: 'resume'; runId: number }
  /** Checks a lead assignment's SLA (delayed until it is due). */
  | { kind: 'sla'; assignmentId: number }
  /** Starts the workflows an engine event triggers (src/engine/event-dispatch.ts). */
  | { kind: 'engine-event'; eventId: number }
  /** Announces a task's due or overdue time: a delayed job (src/engine/task-jobs.ts). */
  | { kind: 'task'; taskId: number; phase: 'due' | 'overdue' }
  /** Checks a case target at its due time (src/engine/jobs/case.ts). */
  | { kind: 'case'; caseId: number; target: 'first_response' | 'resolution' }
  /** Looks for likely duplicate customers (`identity.suggest_duplicates`). */
  | { kind: 'suggest-duplicates' }
  /** Fires deal.stale for deals past their stage's `rot_after` (src/engine/deal-staleness.ts). */
  | { kind: 'deal-stale-check' }
  /** Removes old runs' step records and payloads (src/engine/run-retention.ts). */
  | { kind: 'prune-runs'; olderThanDays: number };

export const JOB_ATTEMPTS = 10;

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: JOB_ATTEMPTS,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  // Completed jobs go soon (the run record in Postgres is the history); failed ones stay a week for inspection.
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Job ids that make enqueueing idempotent: the same inbox event or schedule tick is one job. */
export const jobIds = {
  event: (inboxId: number) => `event-${inboxId}`,
  schedule: (workflow: string, tick: string) => `schedule-${workflow}-${tick.replace(/[^0-9TZ]/g, '')}`,
  retry: (runId: number, attempt: number) => `retry-${runId}-${attempt}`,
  replay: (inboxId: number, replay: string) => `replay-${inboxId}-${replay}`,
  /** One per suspension: a run suspended again later gets another job. */
  resume: (runId: number, resumeAt: Date) => `resume-${runId}-${resumeAt.getTime()}`,
  sla: (assignmentId: number) => `sla-${assignmentId}`,
  /** BullMQ job scheduler of a poll trigger: one per workflow, shared by every process. */
  pollScheduler: (workflow: string) => `poll-${workflow}`,
  engineEvent: (eventId: number) => `engine-event-${eventId}`,
  task: (taskId: number, phase: string) => `task-${taskId}-${phase}`,
  /** One per due time: a target paused and resumed is due again later and gets another check. */
  caseCheck: (caseId: number, target: string, dueAt: Date) => `case-${caseId}-${target}-${dueAt.getTime()}`,
  /** BullMQ job scheduler of the duplicate finder: one, shared by every process. */
  duplicateFinder: 'suggest-duplicates',
  /** BullMQ job scheduler of the deal staleness check: one, shared by every process. */
  dealStaleCheck: 'deal-stale-check',
  /** BullMQ job scheduler of run retention: one, shared by every process. */
  runRetention: 'prune-runs',
};

/** Connection for workers: commands wait for Redis to come back instead of failing (BullMQ requires this). */
export function workerConnection(redisUrl: string): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null });
}

/**
 * Connection for producers on the webhook path: fail fast while Redis is away, so the webhook is still acknowledged
 * from the Postgres inbox and the reconciler enqueues it later.
 */
export function producerConnection(redisUrl: string): Redis {
  const options: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 };
  const redis = new Redis(redisUrl, options);
  redis.on('error', () => {}); // reconnects by itself; failures surface on the commands
  return redis;
}

/** How often a failed job is tried (`CRMFLOW_JOB_ATTEMPTS`) and the first delay between tries (`CRMFLOW_JOB_BACKOFF_MS`, then doubled). */
export interface JobRetryOptions {
  attempts: number;
  backoffMs: number;
}

export function createEventsQueue(
  connection: ConnectionOptions,
  prefix: string,
  retry?: JobRetryOptions,
): Queue<JobData> {
  const defaultJobOptions: JobsOptions = retry
    ? {
        ...DEFAULT_JOB_OPTIONS,
        attempts: Math.max(1, retry.attempts),
        backoff: { type: 'exponential', delay: retry.backoffMs, jitter: 0.5 },
      }
    : DEFAULT_JOB_OPTIONS;
  const queue = new Queue<JobData>(EVENTS_QUEUE, { connection, prefix, defaultJobOptions });
  queue.on('error', () => {});
  return queue;
}

/** Enqueues inbox events in one round trip; duplicates of existing jobs are ignored by BullMQ. */
export async function enqueueInboxEvents(queue: Queue<JobData>, inboxIds: number[]): Promise<void> {
  if (inboxIds.length === 0) return;
  await queue.addBulk(
    inboxIds.map((inboxId) => ({
      name: 'event',
      data: { kind: 'event', inboxId },
      opts: { jobId: jobIds.event(inboxId) },
    })),
  );
}

/** Adds a job to run at `at` (at once when that has passed); its deterministic id makes a second add a no-op. */
export async function enqueueAt(
  queue: Queue<JobData>,
  data: JobData,
  jobId: string,
  at: Date,
  now: Date,
): Promise<void> {
  await queue.add(data.kind, data, { jobId, delay: Math.max(0, at.getTime() - now.getTime()) });
}

export type JobPresence = 'missing' | 'failed' | 'present';

/**
 * What Redis holds for these job ids — `missing` (lost, or never added), `failed` (failed for good), else `present` —
 * in one pipelined round trip of O(1) commands. The reconciler asks this for every stale stored event; BullMQ's
 * `getJobState` would scan the wait list (LPOS) for each, which is O(backlog) per job and quadratic per pass.
 */
export async function jobPresence(
  redis: Redis,
  queue: Queue<JobData>,
  jobIdsToCheck: string[],
): Promise<JobPresence[]> {
  if (jobIdsToCheck.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const id of jobIdsToCheck) pipeline.exists(queue.toKey(id)).zscore(queue.toKey('failed'), id);
  const replies = (await pipeline.exec()) ?? [];
  return jobIdsToCheck.map((_, i) => {
    const [[existsError, exists], [failedError, failedScore]] = [replies[2 * i]!, replies[2 * i + 1]!];
    if (existsError || failedError) throw existsError ?? failedError;
    if (!exists) return 'missing';
    return failedScore === null ? 'present' : 'failed';
  });
}
