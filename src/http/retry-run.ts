import type { Queue } from 'bullmq';
import { jobIds, type JobData } from '../engine/queues.js';
import type { Pool } from '../store/pool.js';
import { getRun } from '../store/runs.js';
import { HttpError } from './errors.js';

/**
 * Enqueues a failed run again (`POST /api/runs/:id/retry` and the dashboard's Retry button). The job id names the
 * run and its attempt, so a double click enqueues once. 404 for no such run, 409 when it has not failed.
 */
export async function retryRun(pool: Pool, queue: Queue<JobData>, runId: number): Promise<{ runId: number; jobId: string }> {
  const run = await getRun(pool, runId);
  if (!run) throw new HttpError(404, 'not_found', `no run ${runId}`);
  if (run.status !== 'failed') throw new HttpError(409, 'not_failed', `run ${run.id} is ${run.status}; only failed runs can be retried`);
  const jobId = jobIds.retry(run.id, run.attempts);
  await queue.add('run', { kind: 'run', runId: run.id }, { jobId });
  return { runId: run.id, jobId };
}
