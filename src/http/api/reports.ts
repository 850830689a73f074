import { Router, type Request } from 'express';
import { cohorts, kpis } from '../../operations/reports.js';
import type { KpiFigures, KpiReport } from '../../reports/kpis.js';
import type { ApiOptions } from '../api.js';
import { toCsv } from '../csv.js';

const wantsCsv = (req: Request) => req.accepts(['application/json', 'text/csv']) === 'text/csv';

/** The figures of a report as flat CSV columns (spreads and per-currency amounts as `name.part`). */
function flatten(figures: KpiFigures): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(figures)) {
    if (value === null || typeof value !== 'object') row[name] = value;
    else
      for (const [part, inner] of Object.entries(value as Record<string, unknown>)) {
        if (inner !== null && typeof inner === 'object') for (const [leaf, number] of Object.entries(inner)) row[`${name}.${part}.${leaf}`] = number;
        else row[`${name}.${part}`] = inner;
      }
  }
  return row;
}

function kpiCsv(report: KpiReport): string {
  const rows = [{ group: 'all', ...flatten(report) }, ...report.groups.map(({ key, ...figures }) => ({ group: key ?? '(none)', ...flatten(figures) }))];
  const header = ['group', ...new Set(rows.flatMap((row) => Object.keys(row)).filter((name) => !['group', 'from', 'to', 'time_zone', 'by', 'groups', 'churned'].includes(name)))];
  return toCsv(header, rows);
}

/** `GET /api/reports/kpis` and `/api/reports/cohorts`: JSON, or CSV with `Accept: text/csv`. */
export function reportsApi(options: ApiOptions): Router {
  const router = Router();
  router.get('/reports/kpis', async (req, res) => {
    const report = await kpis(options, req.query);
    if (wantsCsv(req)) return void res.type('text/csv').attachment(`kpis-${report.from}-${report.to}.csv`).send(kpiCsv(report));
    res.json(report);
  });
  router.get('/reports/cohorts', async (req, res) => {
    const report = await cohorts(options, req.query);
    if (!wantsCsv(req)) return void res.json(report);
    const months = Math.max(0, ...report.cohorts.map((cohort) => cohort.retention.length));
    const header = ['cohort', 'size', ...Array.from({ length: months }, (_, i) => `month_${i + 1}`)];
    const rows = report.cohorts.map((cohort) => ({ cohort: cohort.cohort, size: cohort.size, ...Object.fromEntries(cohort.retention.map((share, i) => [`month_${i + 1}`, share])) }));
    res.type('text/csv').attachment(`cohorts-${report.from}-${report.to}.csv`).send(toCsv(header, rows));
  });
  return router;
}
