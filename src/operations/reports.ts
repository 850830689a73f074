import { cohortReport, kpiReport, type CohortReport, type KpiReport } from '../reports/kpis.js';
import { GROUP_KEYS, type FunnelStage, type GroupKey, type LeadSums, type ReportPeriod } from '../reports/facts.js';
import {
  autoReplySums,
  churnedCount,
  cohortCells,
  leadSums,
  lifecycleFunnel,
  purchaseSums,
  ratingSums,
} from '../store/reports.js';
import type { OperationContext } from './context.js';
import { InvalidInputError } from './errors.js';

export interface ReportQuery {
  from?: unknown;
  to?: unknown;
  by?: unknown;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY = 86_400_000;
const MAX_DAYS = 3 * 366;

function isDate(value: unknown): value is string {
  return (
    typeof value === 'string' && DATE.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value)
  );
}

const shift = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);

function timeZoneOf(ctx: OperationContext): string {
  return ctx.config.config.reports?.time_zone ?? 'UTC';
}

/** The period a query names, in the reports' time zone; refuses anything but two real dates in order, at most 3 years apart. */
export function reportPeriod(ctx: OperationContext, query: ReportQuery): ReportPeriod {
  if (!isDate(query.from) || !isDate(query.to)) throw new InvalidInputError('from and to must be dates, YYYY-MM-DD');
  const days = (Date.parse(query.to) - Date.parse(query.from)) / DAY;
  if (days < 0) throw new InvalidInputError('from must not be after to');
  if (days > MAX_DAYS) throw new InvalidInputError('a report covers at most 3 years');
  return { from: query.from, to: query.to, timeZone: timeZoneOf(ctx) };
}

function groupKey(value: unknown): GroupKey | null {
  if (value === undefined || value === '') return null;
  if (!GROUP_KEYS.includes(value as GroupKey))
    throw new InvalidInputError(`by must be one of ${GROUP_KEYS.join(', ')}`);
  return value as GroupKey;
}

/**
 * Sums a period's facts once, whole and per group of each breakdown in `by` (in the database, each statement on its own
 * connection); each report of them is then computed without another query. `weekly` adds the leads per week.
 */
async function periodReports(
  ctx: OperationContext,
  period: ReportPeriod,
  by: readonly GroupKey[],
  weekly = false,
): Promise<{ leads: LeadSums[]; report: (by: GroupKey | null) => KpiReport }> {
  const [leads, purchases, autoReplies, ratings, churned] = await Promise.all([
    leadSums(ctx.pool, period, by, weekly),
    purchaseSums(ctx.pool, period, by),
    autoReplySums(ctx.pool, period, by),
    ratingSums(ctx.pool, period, by),
    churnedCount(ctx.pool, period),
  ]);
  const spend = ctx.config.config.reports?.marketing_spend ?? [];
  return {
    leads,
    report: (key) =>
      kpiReport({
        leads,
        purchases,
        autoReplies,
        ratings,
        churned,
        by: key,
        spend,
        from: period.from,
        to: period.to,
        timeZone: period.timeZone,
      }),
  };
}

/** `GET /api/reports/kpis`: the figures of a period, optionally by group. */
export async function kpis(ctx: OperationContext, query: ReportQuery): Promise<KpiReport> {
  const period = reportPeriod(ctx, query);
  const by = groupKey(query.by);
  return (await periodReports(ctx, period, by === null ? [] : [by])).report(by);
}

/** `GET /api/reports/cohorts`: the retention triangle of the cohorts whose first purchase fell in the period. */
export async function cohorts(ctx: OperationContext, query: ReportQuery): Promise<CohortReport> {
  const period = reportPeriod(ctx, query);
  return cohortReport(await cohortCells(ctx.pool, period), period, ctx.now?.() ?? new Date());
}

export interface ReportsOverview {
  /** The period's figures, broken down as asked (default: by lead source). */
  current: KpiReport;
  /** The same length of time just before, for the comparison. */
  previous: KpiReport;
  /** The current period per owner agent (speed to lead per agent). */
  agents: KpiReport;
  /** Leads and those of them won, per week (weeks start on Monday, in the reports' time zone). */
  weekly: Array<{ week: string; leads: number; won: number }>;
  funnel: FunnelStage[];
  /** Cohorts of the twelve months up to the period's end. */
  cohorts: CohortReport;
}

/**
 * The Reports page: a period (default the last 30 days up to today), the one before it, weekly leads and wins, the
 * lifecycle funnel of the period's leads and the cohorts of the year up to the period's end.
 */
export async function reportsOverview(ctx: OperationContext, query: ReportQuery): Promise<ReportsOverview> {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timeZoneOf(ctx) }).format(ctx.now?.() ?? new Date());
  const given =
    query.from !== undefined && query.from !== '' ? query : { ...query, from: shift(today, -29), to: today };
  const period = reportPeriod(ctx, given);
  const length = (Date.parse(period.to) - Date.parse(period.from)) / DAY + 1;
  const by = groupKey(query.by) ?? 'source';
  const cohortFrom = `${shift(period.to, -334).slice(0, 7)}-01`;
  const [current, previous, funnel, cohortCellsOfYear] = await Promise.all([
    periodReports(ctx, period, by === 'agent' ? ['agent'] : [by, 'agent'], true),
    periodReports(ctx, { ...period, from: shift(period.from, -length), to: shift(period.from, -1) }, []),
    lifecycleFunnel(ctx.pool, period),
    cohortCells(ctx.pool, { ...period, from: cohortFrom }),
  ]);
  const weeks = new Map<string, { leads: number; won: number }>();
  const monday = shift(period.from, -((new Date(`${period.from}T00:00:00Z`).getUTCDay() + 6) % 7));
  for (let day = monday; day <= period.to; day = shift(day, 7)) weeks.set(day, { leads: 0, won: 0 });
  for (const sums of current.leads) {
    const week = sums.by === 'week' ? weeks.get(sums.key!) : undefined;
    if (week) Object.assign(week, { leads: sums.leads, won: sums.won });
  }
  return {
    current: current.report(by),
    previous: previous.report(null),
    agents: current.report('agent'),
    weekly: [...weeks].map(([week, counts]) => ({ week, ...counts })),
    funnel,
    cohorts: cohortReport(cohortCellsOfYear, period, ctx.now?.() ?? new Date()),
  };
}

export interface KpiGauges {
  leadsToday: number;
  conversionRate30d: number | null;
  speedToLeadMedian30d: number | null;
}

/** The figures `/metrics` exposes: leads today, and conversion and speed to lead over the last 30 days. */
export async function kpiGauges(ctx: OperationContext): Promise<KpiGauges> {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timeZoneOf(ctx) }).format(ctx.now?.() ?? new Date());
  const [day, month] = await Promise.all([
    kpis(ctx, { from: today, to: today }),
    kpis(ctx, { from: shift(today, -29), to: today }),
  ]);
  return {
    leadsToday: day.leads,
    conversionRate30d: month.lead_conversion_rate,
    speedToLeadMedian30d: month.speed_to_lead_minutes.median,
  };
}
