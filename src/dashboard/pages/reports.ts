import { Router } from 'express';
import { cohorts, kpis, reportsOverview } from '../../operations/reports.js';
import { cohortsCsv, kpiCsv } from '../../reports/report-csv.js';
import type { PageDeps } from './page-deps.js';
import { reportsPage } from '../views/reports.js';

/** The Reports page and its CSV downloads (the same operations as `GET /api/reports/*`). Every signed-in role reads it. */
export function reportsPages(deps: PageDeps): Router {
  const router = Router();
  router.get('/reports', deps.session, async (req, res) => {
    await deps.render(req, res, async (context) => reportsPage(context, await reportsOverview(deps.operations, req.query)));
  });
  router.get('/reports/kpis.csv', deps.session, async (req, res) => {
    await deps.render(req, res, async () => {
      const report = await kpis(deps.operations, req.query);
      res.type('text/csv').attachment(`kpis-${report.from}-${report.to}.csv`).send(kpiCsv(report));
    });
  });
  router.get('/reports/cohorts.csv', deps.session, async (req, res) => {
    await deps.render(req, res, async () => {
      const report = await cohorts(deps.operations, req.query);
      res.type('text/csv').attachment(`cohorts-${report.from}-${report.to}.csv`).send(cohortsCsv(report));
    });
  });
  return router;
}
