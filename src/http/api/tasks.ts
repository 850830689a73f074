import { Router } from 'express';
import { completeTask, listTasks } from '../../operations/tasks.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, listQuery, page, text } from './params.js';

export function tasksApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/tasks', async (req, res) => {
    const tasks = await listTasks(options, {
      agentId: text(req.query.agent_id),
      status: text(req.query.status),
      ...listQuery(req.query),
    });
    res.json(page('tasks', tasks));
  });

  router.post('/tasks/:id/complete', async (req, res) => {
    res.json(await completeTask(options, apiActor(req), { taskId: idParam(req) }));
  });

  return router;
}
