import type { Queue } from 'bullmq';
import { jobIds, type JobData } from '../engine/queues.js';
import type { Pool } from '../store/pool.js';
import { cancelRun as markRunCancelled, countReplays, getRun, markRetryNotQueued, markRunsRetrying, type RunRow } from '../store/runs.js';
import { HttpError } from './errors.js';

/** Run actions shared by the API and the dashboard; each answers 404 for no such run and 409 when it does not apply. */

async function existingRun(pool: Pool, runId: number): Promise<RunRow> {
  const run = await getRun(pool, runId);
  if (!run) throw new HttpError(404, 'not_found', `no run ${runId}`);
  return run;
}

/**
 * Enqueues a failed run again; it resumes at the failed step. The job id names the run and its attempt, so a double
 * click enqueues once.
 */
export async function retryRun(pool: Pool, queue: Queue<JobData>, runId: number): Promise<{ runId: number; jobId: string }> {
  const run = await existingRun(pool, runId);
  if (run.status !== 'failed') throw new HttpError(409, 'not_failed', `run ${run.id} is ${run.status}; only failed runs can be retried`);
  const jobId = jobIds.retry(run.id, run.attempts);
  // Queued before the job exists, so no view shows it failed (with a Retry button) meanwhile; a second click gets 409.
  if ((await markRunsRetrying(pool, [run.id])).length === 0) throw new HttpError(409, 'not_failed', `run ${run.id} is no longer failed`);
  await queue.add('run', { kind: 'run', runId: run.id }, { jobId }).catch(async (error: unknown) => {
    await markRetryNotQueued(pool, run.id);
    throw error;
  });
  return { runId: run.id, jobId };
}

/** Replay requests for one run this close together are one replay (a double click, a retried request). */
const REPLAY_DEBOUNCE_MS = 5000;

/**
 * Runs the run's stored event through the current version of its workflow, as a new run (the original stays as it
 * was). The replay is named after the number of earlier replays, not counting those of the last few seconds: a double
 * click gets the same name, so the same job and the same run (its trigger key), even when a fast worker has already
 * made the first click's run before the second click is counted.
 */
export async function replayRun(pool: Pool, queue: Queue<JobData>, runId: number, workflows: ReadonlySet<string>): Promise<{ runId: number; jobId: string; replay: string }> {
  const run = await existingRun(pool, runId);
  if (run.inboxEventId === null) throw new HttpError(409, 'not_replayable', `run ${run.id} was not started by a stored event (schedules and polls run again by themselves)`);
  if (!workflows.has(run.workflow)) throw new HttpError(409, 'workflow_gone', `workflow ${run.workflow} is no longer in workflows.yaml`);
  const replay = `run${run.id}-${(await countReplays(pool, run.inboxEventId, run.workflow, REPLAY_DEBOUNCE_MS)) + 1}`;
  const jobId = jobIds.replay(run.inboxEventId, replay);
  await queue.add('replay', { kind: 'replay', inboxId: run.inboxEventId, replay, workflow: run.workflow }, { jobId });
  return { runId: run.id, jobId, replay };
}

/**
 * Cancels a run that is queued, stuck running, waiting or failed, with the reason a person gave. A step already
 * executing finishes; no later step starts and the run is never resumed or retried.
 */
export async function cancelRun(pool: Pool, runId: number, reason: unknown): Promise<RunRow> {
  if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 500) throw new HttpError(400, 'bad_request', 'give a reason (1 to 500 characters)');
  const run = await existingRun(pool, runId);
  const cancelled = await markRunCancelled(pool, run.id, reason.trim());
  if (!cancelled) throw new HttpError(409, 'not_cancellable', `run ${run.id} is ${run.status}; only queued, running, waiting or failed runs can be cancelled`);
  return cancelled;
}
