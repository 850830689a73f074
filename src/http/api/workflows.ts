import { Router } from 'express';
import { listWorkflows, pollWorkflow } from '../../operations/workflows.js';
import type { ApiOptions } from '../api.js';
import { apiActor } from './params.js';

export function workflowsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/workflows', (_req, res) => {
    res.json({ workflows: listWorkflows(options) });
  });

  router.post('/workflows/:id/poll', async (req, res) => {
    const { workflow, jobId } = await pollWorkflow(options, apiActor(req), { workflowId: String(req.params.id) });
    res.status(202).json({ workflow, job_id: jobId, status: 'queued' });
  });

  return router;
}
