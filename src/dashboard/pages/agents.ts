import { Router } from 'express';
import { agentStatuses, setAgentAvailability } from '../../operations/agents.js';
import { HTTP_STATUS_OF, OperationError } from '../../operations/errors.js';
import type { DashboardOptions } from '../routes.js';
import { agentsPage } from '../views/agents.js';
import { pageHeaders, send, text, type PageKit } from './kit.js';

const AGENT_NOTICES: Record<string, string> = { saved: 'Availability saved: new leads follow it from now on.' };

/** Agents with their availability and open leads; admins switch them on or off. */
export function agentsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();

  router.get('/agents', kit.session, pageHeaders, async (req, res) => {
    const status = await agentStatuses(options);
    send(
      res,
      agentsPage(kit.context(req, res), {
        agents: [...options.config.agents.values()],
        status,
        notice: AGENT_NOTICES[text(req.query.notice)],
      }),
    );
  });

  router.post('/agents/:id/availability', ...kit.post('admin'), async (req, res) => {
    const available = (req.body as { available?: unknown }).available;
    try {
      await setAgentAvailability(options, kit.actor(req, res), {
        agentId: String(req.params.id),
        available: available === 'true' ? true : available === 'false' ? false : available,
      });
      res.redirect(303, '/agents?notice=saved');
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      res
        .status(HTTP_STATUS_OF[error.kind])
        .type('text/plain')
        .send(error.kind === 'not_found' ? 'no such agent' : error.message);
    }
  });

  return router;
}
