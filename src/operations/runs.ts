import { jobIds } from '../engine/queues.js';
import { pruneOldRunRecords } from '../engine/run-retention.js';
import { getInboxEvent, type InboxEvent } from '../store/inbox.js';
import type { MessageRow } from '../store/messages.js';
import { runsNeedingPerson as storedRunsNeedingPerson, uncertainMessagesOfRun } from '../store/needs-person.js';
import { runStatuses as storedRunStatuses } from '../store/run-stats.js';
import {
  cancelRun as markRunCancelled,
  countReplays,
  getRun,
  listReplayableEvents,
  listRuns as listStoredRuns,
  listStepRecords,
  markRetryNotQueued,
  markRunsRetrying,
  type RunFilter,
  type RunRow,
  type StepRecord,
} from '../store/runs.js';
import { audit, nowOf, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export {
  CANCELLABLE_RUN_STATUSES,
  RUN_STATUSES,
  STEP_STATUSES,
  type RunFilter,
  type RunRow,
  type RunStatus,
  type StepRecord,
} from '../store/runs.js';
export { INBOX_STATUSES, type InboxEvent } from '../store/inbox.js';

async function existingRun(ctx: OperationContext, runId: number): Promise<RunRow> {
  const run = await getRun(ctx.pool, runId);
  if (!run) throw new NotFoundError(`no run ${runId}`);
  return run;
}

/** Refuses to run again what retention emptied: a retry would start from nothing, a replay has no event to run. */
function refusePruned(what: 'retried' | 'replayed', run: RunRow, event?: InboxEvent): void {
  const prunedAt = what === 'retried' ? (run.stepsPrunedAt ?? event?.payloadPrunedAt) : event?.payloadPrunedAt;
  if (prunedAt)
    throw new ConflictError(
      `run ${run.id} cannot be ${what}: its ${what === 'retried' ? 'step records and payload' : 'stored event'} were removed by retention on ${prunedAt.toISOString().slice(0, 10)}`,
      'pruned',
    );
}

const storedEventOf = async (ctx: OperationContext, run: RunRow) =>
  run.inboxEventId === null ? undefined : getInboxEvent(ctx.pool, run.inboxEventId);

export async function listRuns(ctx: OperationContext, filter: RunFilter): Promise<RunRow[]> {
  return listStoredRuns(ctx.pool, filter);
}

/** The current status and attempts of these runs (the dashboard's live stream). */
export async function runStatuses(ctx: OperationContext, ids: number[]) {
  return storedRunStatuses(ctx.pool, ids);
}

export async function findRun(ctx: OperationContext, runId: number): Promise<RunRow | undefined> {
  return getRun(ctx.pool, runId);
}

/** A run with its step records and the stored event that started it (null for schedules and engine events). */
export async function getRunDetail(
  ctx: OperationContext,
  runId: number,
): Promise<{ run: RunRow; steps: StepRecord[]; event: InboxEvent | null }> {
  const run = await existingRun(ctx, runId);
  const [steps, event] = await Promise.all([listStepRecords(ctx.pool, run.id), storedEventOf(ctx, run)]);
  return { run, steps, event: event ?? null };
}

/** Which of these runs need a person: a reply of theirs ended `uncertain` (delivery unknown, never resent by itself). */
export async function runsNeedingPerson(ctx: OperationContext, runIds: readonly number[]): Promise<Set<number>> {
  return storedRunsNeedingPerson(ctx.pool, runIds);
}

/** The run's replies whose delivery is unknown, oldest first: each waits for a person to check and maybe resend it. */
export async function uncertainReplies(ctx: OperationContext, runId: number): Promise<MessageRow[]> {
  return uncertainMessagesOfRun(ctx.pool, runId);
}

/**
 * Enqueues a failed run again; it resumes at the failed step. The job id names the run and its attempt, so a double
 * click enqueues once.
 */
export async function retryRun(
  ctx: OperationContext,
  actor: Actor,
  input: { runId: number },
): Promise<{ runId: number; jobId: string }> {
  requireRole(actor, 'support');
  const run = await existingRun(ctx, input.runId);
  if (run.status !== 'failed')
    throw new ConflictError(`run ${run.id} is ${run.status}; only failed runs can be retried`, 'not_failed');
  refusePruned('retried', run, await storedEventOf(ctx, run));
  const jobId = jobIds.retry(run.id, run.attempts);
  // Queued before the job exists, so no view shows it failed (with a Retry button) meanwhile; a second click gets 409.
  if ((await markRunsRetrying(ctx.pool, [run.id])).length === 0)
    throw new ConflictError(`run ${run.id} is no longer failed (or retention just removed its records)`, 'not_failed');
  await ctx.queue.add('run', { kind: 'run', runId: run.id }, { jobId }).catch(async (error: unknown) => {
    await markRetryNotQueued(ctx.pool, run.id);
    throw error;
  });
  await audit(ctx, actor, 'run.retry', `run:${run.id}`, { job_id: jobId });
  return { runId: run.id, jobId };
}

/** Replay requests for one run this close together are one replay (a double click, a retried request). */
const REPLAY_DEBOUNCE_MS = 5000;

/**
 * The one way stored events are run again: each event through the current version of its workflows (or only
 * `workflow`), as new runs named `replay` (the earlier runs stay as they were). The job id names event and replay, so
 * asking twice under one name enqueues once; the worker's `replay` job does the rest.
 */
async function enqueueReplays(
  ctx: OperationContext,
  inboxIds: number[],
  replay: string,
  workflow?: string,
): Promise<string[]> {
  const jobs = inboxIds.map((inboxId) => ({
    name: 'replay',
    data: { kind: 'replay' as const, inboxId, replay, ...(workflow ? { workflow } : {}) },
    opts: { jobId: jobIds.replay(inboxId, replay) },
  }));
  if (jobs.length > 0) await ctx.queue.addBulk(jobs);
  return jobs.map((job) => job.opts.jobId);
}

/**
 * Runs one run's stored event through the current version of its workflow, as a new run. The replay is named after
 * the number of earlier replays, not counting those of the last few seconds: a double click gets the same name, so
 * the same job and the same run (its trigger key), even when a fast worker has already made the first click's run
 * before the second click is counted.
 */
export async function replayRun(
  ctx: OperationContext,
  actor: Actor,
  input: { runId: number },
): Promise<{ runId: number; jobId: string; replay: string }> {
  requireRole(actor, 'support');
  const run = await existingRun(ctx, input.runId);
  if (run.inboxEventId === null)
    throw new ConflictError(
      `run ${run.id} was not started by a stored event (schedules and polls run again by themselves)`,
      'not_replayable',
    );
  if (!ctx.config.workflows.some((workflow) => workflow.id === run.workflow))
    throw new ConflictError(`workflow ${run.workflow} is no longer in workflows.yaml`, 'workflow_gone');
  refusePruned('replayed', run, await storedEventOf(ctx, run));
  const replay = `run${run.id}-${(await countReplays(ctx.pool, run.inboxEventId, run.workflow, REPLAY_DEBOUNCE_MS)) + 1}`;
  const [jobId] = await enqueueReplays(ctx, [run.inboxEventId], replay, run.workflow);
  await audit(ctx, actor, 'run.replay', `run:${run.id}`, { job_id: jobId, replay });
  return { runId: run.id, jobId: jobId!, replay };
}

export interface ReplayEventsInput {
  /** Events received at or after this time. */
  since: Date;
  workflow?: string;
  /** Only events whose run of `workflow` (or of any workflow) has this status. */
  status?: string;
  dryRun?: boolean;
}

/**
 * Runs stored events received since a time through the current workflows again, as new runs named
 * `replay-<time>`. Replies are sent again by the new runs: narrow with `workflow` and `status`.
 */
export async function replayEvents(
  ctx: OperationContext,
  actor: Actor,
  input: ReplayEventsInput,
): Promise<{ events: number; name: string }> {
  requireRole(actor, 'admin');
  if (input.workflow && !ctx.config.workflows.some((workflow) => workflow.id === input.workflow))
    throw new NotFoundError(`no workflow "${input.workflow}" in the workflows file`);
  const ids = await listReplayableEvents(ctx.pool, input);
  const name = `replay-${nowOf(ctx).getTime()}`;
  if (input.dryRun) return { events: ids.length, name };
  await audit(ctx, actor, 'events.replay', input.workflow ? `workflow:${input.workflow}` : null, {
    since: input.since.toISOString(),
    status: input.status ?? null,
    events: ids.length,
    replay: name,
  });
  await enqueueReplays(ctx, ids, name, input.workflow);
  return { events: ids.length, name };
}

/**
 * Cancels a run that is queued, stuck running, waiting or failed, with the reason a person gave. A step already
 * executing finishes; no later step starts and the run is never resumed or retried.
 */
export async function cancelRun(
  ctx: OperationContext,
  actor: Actor,
  input: { runId: number; reason: unknown },
): Promise<RunRow> {
  requireRole(actor, 'support');
  const { reason } = input;
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 500)
    throw new InvalidInputError('give a reason (1 to 500 characters)');
  const run = await existingRun(ctx, input.runId);
  const cancelled = await markRunCancelled(ctx.pool, run.id, reason.trim());
  if (!cancelled)
    throw new ConflictError(
      `run ${run.id} is ${run.status}; only queued, running, waiting or failed runs can be cancelled`,
      'not_cancellable',
    );
  await audit(ctx, actor, 'run.cancel', `run:${run.id}`, { reason: reason.trim() });
  return cancelled;
}

export interface PruneRunsInput {
  /** Runs finished more than this many days ago lose their step records and payloads. */
  olderThanDays: number;
  /** Count what would go; remove nothing. */
  dryRun?: boolean;
}

/**
 * Run retention by hand (the daily job does the same with `CRMFLOW_RUN_RETENTION_DAYS`): step records and stored
 * payloads of runs finished before the boundary go, the run rows stay. A dry run counts runs and step records.
 */
export async function pruneRuns(
  ctx: OperationContext,
  actor: Actor,
  input: PruneRunsInput,
): Promise<{ runs: number; steps: number; events: number; finishedBefore: Date }> {
  requireRole(actor, 'admin');
  if (!Number.isInteger(input.olderThanDays) || input.olderThanDays < 1)
    throw new InvalidInputError('give a whole number of days, 1 or more');
  const result = await pruneOldRunRecords(ctx.pool, ctx.logger ?? { info: () => {} }, {
    olderThanDays: input.olderThanDays,
    now: nowOf(ctx),
    dryRun: input.dryRun,
  });
  if (!input.dryRun)
    await audit(ctx, actor, 'runs.prune', null, {
      older_than_days: input.olderThanDays,
      finished_before: result.finishedBefore.toISOString(),
      runs: result.runs,
      steps: result.steps,
      events: result.events,
    });
  return result;
}
