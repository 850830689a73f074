import { Router } from 'express';
import { cancelRun, getRunDetail, listRuns, replayRun, retryRun } from '../../operations/runs.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, listQuery, page, snakeKeys, text } from './params.js';

/** Runs: list, one with its steps and event, and the actions retry, replay and cancel. */
export function runsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/runs', async (req, res) => {
    const runs = await listRuns(options, {
      workflow: text(req.query.workflow),
      status: text(req.query.status),
      ...listQuery(req.query),
    });
    res.json(page('runs', runs, snakeKeys));
  });

  router.get('/runs/:id', async (req, res) => {
    const { run, steps, event } = await getRunDetail(options, idParam(req));
    res.json({ ...snakeKeys(run), steps: steps.map(snakeKeys), event: event && snakeKeys(event) });
  });

  router.post('/runs/:id/retry', async (req, res) => {
    const { runId, jobId } = await retryRun(options, apiActor(req), { runId: idParam(req) });
    res.status(202).json({ run_id: runId, job_id: jobId, status: 'queued' });
  });

  router.post('/runs/:id/replay', async (req, res) => {
    const { runId, jobId, replay } = await replayRun(options, apiActor(req), { runId: idParam(req) });
    res.status(202).json({ run_id: runId, job_id: jobId, replay, status: 'queued' });
  });

  router.post('/runs/:id/cancel', async (req, res) => {
    const run = await cancelRun(options, apiActor(req), {
      runId: idParam(req),
      reason: (req.body as { reason?: unknown } | undefined)?.reason,
    });
    res.json({ run_id: run.id, status: run.status, error: run.error });
  });

  return router;
}
