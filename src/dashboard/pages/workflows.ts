import { Router } from 'express';
import { workflowStats } from '../../operations/workflows.js';
import type { DashboardOptions } from '../routes.js';
import { workflowsPage } from '../views/workflows.js';
import { pageHeaders, send, type PageKit } from './kit.js';

export function workflowsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  router.get('/workflows', kit.session, pageHeaders, async (req, res) => {
    const stats = await workflowStats(options);
    const { config } = options;
    send(
      res,
      workflowsPage(kit.context(req, res), {
        file: config.file,
        workflows: config.workflows,
        stats: new Map(stats.map((row) => [row.workflow, row])),
        onDisk: options.checkConfigFile?.(),
      }),
    );
  });
  return router;
}
