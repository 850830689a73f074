import { Router } from 'express';
import { listAgents, setAgentAvailability } from '../../operations/agents.js';
import { InvalidInputError } from '../../operations/errors.js';
import type { ApiOptions } from '../api.js';
import { apiActor } from './params.js';

export function agentsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/agents', async (_req, res) => {
    res.json({ agents: await listAgents(options) });
  });

  router.put('/agents/:id/availability', async (req, res) => {
    const available = (req.body as { available?: unknown } | undefined)?.available;
    try {
      const saved = await setAgentAvailability(options, apiActor(req), { agentId: String(req.params.id), available });
      res.json({ agent_id: saved.agentId, available: saved.available });
    } catch (error) {
      // The API's body is JSON: say so in its own terms.
      if (error instanceof InvalidInputError) throw new InvalidInputError('send {"available": true|false}');
      throw error;
    }
  });

  return router;
}
