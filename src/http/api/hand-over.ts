import { Router } from 'express';
import { formerOwners, handOver } from '../../operations/hand-over.js';
import type { ApiOptions } from '../api.js';

/**
 * `POST /api/agents/:id/hand-over` (`{"to_agent": "bob"}` or `{"to_pool": "sales"}`): the agent's customers, open tasks
 * and pending SLAs move in one transaction. `GET /api/agents/former`: owners no longer declared under `agents:`.
 */
export function handOverApi(options: ApiOptions): Router {
  const router = Router();
  const ctx = { pool: options.pool, queue: options.queue, config: options.config, defaultRegion: options.defaultRegion };

  router.get('/agents/former', async (_req, res) => {
    res.json({ agents: await formerOwners(ctx) });
  });

  router.post('/agents/:id/hand-over', async (req, res) => {
    const body = (req.body ?? {}) as { to_agent?: unknown; to_pool?: unknown };
    const name = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const summary = await handOver(ctx, { name: 'api-token', role: 'admin', ip: req.ip ?? null, via: 'api' }, { from: String(req.params.id), to_agent: name(body.to_agent), to_pool: name(body.to_pool) });
    res.json(summary);
  });
  return router;
}
