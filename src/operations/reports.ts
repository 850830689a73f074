import { cohortReport, GROUP_KEYS, kpiReport, type CohortReport, type GroupKey, type KpiReport } from '../reports/kpis.js';
import { autoReplyFacts, churnedCount, cohortCells, leadFacts, purchaseFacts, type ReportPeriod } from '../store/reports.js';
import type { OperationContext } from './context.js';
import { InvalidInputError } from './errors.js';

export interface ReportQuery {
  from?: unknown;
  to?: unknown;
  by?: unknown;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_DAYS = 3 * 366;

function isDate(value: unknown): value is string {
  return typeof value === 'string' && DATE.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
}

/** The period a query names, in the reports' time zone; refuses anything but two real dates in order, at most 3 years apart. */
export function reportPeriod(ctx: OperationContext, query: ReportQuery): ReportPeriod {
  if (!isDate(query.from) || !isDate(query.to)) throw new InvalidInputError('from and to must be dates, YYYY-MM-DD');
  const days = (Date.parse(query.to) - Date.parse(query.from)) / 86_400_000;
  if (days < 0) throw new InvalidInputError('from must not be after to');
  if (days > MAX_DAYS) throw new InvalidInputError('a report covers at most 3 years');
  return { from: query.from, to: query.to, timeZone: ctx.config.config.reports?.time_zone ?? 'UTC' };
}

/** `GET /api/reports/kpis`, the Reports page and `/metrics`' gauges: the figures of a period, optionally by group. */
export async function kpis(ctx: OperationContext, query: ReportQuery): Promise<KpiReport> {
  const period = reportPeriod(ctx, query);
  if (query.by !== undefined && query.by !== '' && !GROUP_KEYS.includes(query.by as GroupKey)) throw new InvalidInputError(`by must be one of ${GROUP_KEYS.join(', ')}`);
  const by = query.by === undefined || query.by === '' ? null : (query.by as GroupKey);
  const [leads, purchases, autoReplies, churned] = await Promise.all([
    leadFacts(ctx.pool, period),
    purchaseFacts(ctx.pool, period),
    autoReplyFacts(ctx.pool, period),
    churnedCount(ctx.pool, period),
  ]);
  return kpiReport({ leads, purchases, autoReplies, churned, by, from: period.from, to: period.to, timeZone: period.timeZone, spend: ctx.config.config.reports?.marketing_spend ?? [] });
}

/** `GET /api/reports/cohorts`: the retention triangle of the cohorts whose first purchase fell in the period. */
export async function cohorts(ctx: OperationContext, query: ReportQuery): Promise<CohortReport> {
  const period = reportPeriod(ctx, query);
  return cohortReport(await cohortCells(ctx.pool, period), period, ctx.now?.() ?? new Date());
}
