import { Router } from 'express';
import { formerOwners, handOver } from '../../operations/hand-over.js';
import type { ApiOptions } from '../api.js';
import { apiActor, text } from './params.js';

/**
 * `POST /api/agents/:id/hand-over` (`{"to_agent": "bob"}` or `{"to_pool": "sales"}`): the agent's customers, open tasks
 * and pending SLAs move in one transaction. `GET /api/agents/former`: owners no longer declared under `agents:`.
 */
export function handOverApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/agents/former', async (_req, res) => {
    res.json({ agents: await formerOwners(options) });
  });

  router.post('/agents/:id/hand-over', async (req, res) => {
    const body = (req.body ?? {}) as { to_agent?: unknown; to_pool?: unknown };
    res.json(
      await handOver(options, apiActor(req), {
        from: String(req.params.id),
        to_agent: text(body.to_agent),
        to_pool: text(body.to_pool),
      }),
    );
  });
  return router;
}
