import { Router } from 'express';
import { overviewStats } from '../../operations/overview.js';
import { workflowStats } from '../../operations/workflows.js';
import type { DashboardOptions } from '../routes.js';
import { overviewPage, QUEUE_STATES } from '../views/overview.js';
import { pageHeaders, send, type PageKit } from './kit.js';

export function overviewPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  router.get('/', kit.session, pageHeaders, async (req, res) => {
    const connectorIds = [...options.config.connectors.keys()];
    const [counts, stats, workflows] = await Promise.all([
      options.queue
        .getJobCounts(...QUEUE_STATES)
        .then((result) => ({ name: options.queue.name, counts: result }))
        .catch((error: Error) => ({ name: options.queue.name, error: error.message })),
      overviewStats(options),
      workflowStats(options),
    ]);
    // Redis away: the overview still renders, without the signals.
    const signals = await options.signals.read(connectorIds).catch(() => undefined);
    send(res, overviewPage(kit.context(req, res), { queue: counts, ...stats, now: new Date(), workflows, signals }));
  });
  return router;
}
