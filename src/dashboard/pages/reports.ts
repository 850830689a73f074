import { Router, type Request, type Response } from 'express';
import { cohorts, kpis, reportsOverview } from '../../operations/reports.js';
import { cohortsCsv, kpiCsv } from '../../reports/report-csv.js';
import type { DashboardOptions } from '../routes.js';
import { reportsPage } from '../views/reports.js';
import { pageHeaders, refusal, send, type PageKit } from './kit.js';

/** The Reports page and its CSV downloads (the same operations as `GET /api/reports/*`). Every signed-in role reads it. */
export function reportsPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  /** Runs `work`; a refused query (a malformed period) is a message page with its status. */
  const answer = (work: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      await work(req, res);
    } catch (error) {
      refusal(kit, req, res, 'No report for this period', error);
    }
  };
  router.get(
    '/reports',
    kit.session,
    pageHeaders,
    answer(async (req, res) =>
      send(res, reportsPage(kit.context(req, res), await reportsOverview(options, req.query))),
    ),
  );
  router.get(
    '/reports/kpis.csv',
    kit.session,
    pageHeaders,
    answer(async (req, res) => {
      const report = await kpis(options, req.query);
      res.type('text/csv').attachment(`kpis-${report.from}-${report.to}.csv`).send(kpiCsv(report));
    }),
  );
  router.get(
    '/reports/cohorts.csv',
    kit.session,
    pageHeaders,
    answer(async (req, res) => {
      const report = await cohorts(options, req.query);
      res.type('text/csv').attachment(`cohorts-${report.from}-${report.to}.csv`).send(cohortsCsv(report));
    }),
  );
  return router;
}
