import { Router, type Request } from 'express';
import { cohorts, kpis } from '../../operations/reports.js';
import type { ApiOptions } from '../api.js';
import { cohortsCsv, kpiCsv } from '../../reports/report-csv.js';

const wantsCsv = (req: Request) => req.accepts(['application/json', 'text/csv']) === 'text/csv';

/** `GET /api/reports/kpis` and `/api/reports/cohorts`: JSON, or CSV with `Accept: text/csv`. */
export function reportsApi(options: ApiOptions): Router {
  const router = Router();
  router.get('/reports/kpis', async (req, res) => {
    const report = await kpis(options, req.query);
    if (wantsCsv(req))
      return void res.type('text/csv').attachment(`kpis-${report.from}-${report.to}.csv`).send(kpiCsv(report));
    res.json(report);
  });
  router.get('/reports/cohorts', async (req, res) => {
    const report = await cohorts(options, req.query);
    if (wantsCsv(req))
      return void res.type('text/csv').attachment(`cohorts-${report.from}-${report.to}.csv`).send(cohortsCsv(report));
    res.json(report);
  });
  return router;
}
