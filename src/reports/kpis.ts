import type { MarketingSpendConfig } from '../workflows/config-types.js';
import type {
  AutoReplySums,
  CohortCell,
  GroupKey,
  LeadSums,
  Percentiles,
  PurchaseSums,
  RatingSums,
  SumsOf,
} from './facts.js';

export interface Spread {
  median: number | null;
  p90: number | null;
}

/** One set of figures; every figure is null when there is nothing to compute it from (never 0 for "unknown"). */
export interface KpiFigures {
  leads: number;
  customers_won: number;
  lead_conversion_rate: number | null;
  speed_to_lead_minutes: Spread;
  speed_to_lead_within_sla: number | null;
  auto_reply_seconds: Spread;
  sales_cycle_days: Spread;
  repeat_purchase_rate: number | null;
  /** Per currency: amounts in different currencies are never added up. */
  average_order_value: Record<string, number>;
  lifetime_value: Record<string, { mean: number; median: number }>;
  cost_per_lead: Record<string, number> | null;
  customer_acquisition_cost: Record<string, number> | null;
  csat: number | null;
  nps: number | null;
}

export interface KpiReport extends KpiFigures {
  from: string;
  to: string;
  time_zone: string;
  /** Live customers churned at the end of the period (whole report only). */
  churned: number;
  by: GroupKey | null;
  groups: Array<KpiFigures & { key: string | null }>;
}

/**
 * What each figure means, word for word as the README and the Reports page's tooltips say it. A period is local dates
 * `from`–`to` (inclusive) in `reports.time_zone`; times are the vendors' (when it happened), never when crmflow heard.
 */
export const KPI_DEFINITIONS: Readonly<Record<keyof KpiFigures | 'churned' | 'cohorts', string>> = {
  leads:
    'Customers whose first lead event (a form, message, call, checkout or sign-up; not a purchase) happened in the period. Someone whose first event was a purchase was never a lead.',
  customers_won:
    'Those leads whose first purchase (a paid order or a paid invoice) followed, by the time of the report.',
  lead_conversion_rate: 'customers_won ÷ leads.',
  speed_to_lead_minutes:
    'Minutes from the lead event to the first message or call by a person (an agent’s message or email, a call to or from their phone or logged by hand; automated replies do not count): median and 90th percentile over the leads contacted so far.',
  speed_to_lead_within_sla:
    'Of the leads whose assignment had an SLA, the share a person contacted before the SLA was due.',
  auto_reply_seconds:
    'Seconds from an inbound delivery (its vendor time) to the first automated message its workflow sent: median and 90th percentile, deliveries in the period.',
  sales_cycle_days:
    'Days from the lead event to the first purchase, over the customers won: median and 90th percentile.',
  repeat_purchase_rate:
    'Of the customers who bought in the period, the share who had bought at least twice by its end.',
  average_order_value: 'Mean amount of the purchases in the period, per currency.',
  lifetime_value:
    'For the customers who bought in the period: everything they paid up to its end, mean and median per currency.',
  cost_per_lead:
    'Declared marketing spend of the period (months prorated by day) ÷ leads, per currency; null without declared spend.',
  customer_acquisition_cost:
    'Declared marketing spend of the period ÷ customers won, per currency; null without declared spend or wins.',
  csat: 'Customer satisfaction: of the 1–5 ratings answered in the period through rating links, the share of 4 and 5. By agent: the owner of the rated case (else of the customer); by channel: the channel of the rated message.',
  nps: 'Net promoter score: of the 0–10 ratings answered in the period, the share of 9–10 minus the share of 0–6, times 100.',
  churned:
    'Live customers in the churned stage, or past their own buying rhythm at the end of the period: two or more purchases and more days since the last than 1.5 × their average days between purchases.',
  cohorts: 'Customers by month of first purchase; each later month, the share of them who bought again in that month.',
};

const round = (value: number | null, digits: number): number | null =>
  value === null ? null : Number(value.toFixed(digits));
const spread = (percentiles: Percentiles | undefined, digits: number): Spread => ({
  median: round(percentiles?.[0] ?? null, digits),
  p90: round(percentiles?.[1] ?? null, digits),
});
const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : round(part / whole, 4));

const DAY = 86_400_000;

/** Spend of the period per source and currency: each month's amount × the share of its days inside the period. */
export function spendInPeriod(
  spend: readonly MarketingSpendConfig[],
  from: string,
  to: string,
): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`) + DAY;
  for (const item of spend) {
    const monthStart = Date.parse(`${item.month}-01T00:00:00Z`);
    const next = new Date(monthStart);
    next.setUTCMonth(next.getUTCMonth() + 1);
    const overlap = Math.max(0, Math.min(end, next.getTime()) - Math.max(start, monthStart));
    if (overlap === 0) continue;
    const bySource = out.get(item.source) ?? new Map<string, number>();
    bySource.set(
      item.currency,
      (bySource.get(item.currency) ?? 0) + (item.amount * overlap) / (next.getTime() - monthStart),
    );
    out.set(item.source, bySource);
  }
  return out;
}

function perCurrency(spend: Map<string, number>, count: number): Record<string, number> | null {
  if (spend.size === 0 || count === 0) return null;
  return Object.fromEntries([...spend].map(([currency, amount]) => [currency, round(amount / count, 2)!]));
}

function sumSpend(spend: Map<string, Map<string, number>>, source?: string | null): Map<string, number> {
  const total = new Map<string, number>();
  for (const [key, amounts] of spend) {
    if (source !== undefined && key !== source) continue;
    for (const [currency, amount] of amounts) total.set(currency, (total.get(currency) ?? 0) + amount);
  }
  return total;
}

/** The sums of one set of facts (the whole period or one group), as src/store/reports.ts computes them. */
interface SetSums {
  leads?: LeadSums;
  purchases: PurchaseSums[];
  autoReplies?: AutoReplySums;
  ratings?: RatingSums;
}

/** Per currency, in the order the purchases first show them. */
const perCurrencyOf = <T>(sums: readonly PurchaseSums[], kind: PurchaseSums['kind'], value: (sum: PurchaseSums) => T) =>
  Object.fromEntries(
    sums
      .filter((sum) => sum.kind === kind)
      .sort((a, b) => a.rank! - b.rank!)
      .map((sum) => [sum.currency!, value(sum)]),
  );

/** The figures of one set of sums; `spend` is what was spent on these leads (empty: none declared). */
function figures(sums: SetSums, spend: Map<string, number>): KpiFigures {
  const leads = sums.leads?.leads ?? 0;
  const won = sums.leads?.won ?? 0;
  const buyers = sums.purchases.find((sum) => sum.kind === 'buyers');
  const ratings = sums.ratings;
  return {
    leads,
    customers_won: won,
    lead_conversion_rate: ratio(won, leads),
    speed_to_lead_minutes: spread(sums.leads?.speed_to_lead_minutes, 2),
    speed_to_lead_within_sla: ratio(sums.leads?.within_sla ?? 0, sums.leads?.with_sla ?? 0),
    auto_reply_seconds: spread(sums.autoReplies?.seconds, 2),
    sales_cycle_days: spread(sums.leads?.sales_cycle_days, 2),
    repeat_purchase_rate: ratio(buyers?.total ?? 0, buyers?.n ?? 0),
    average_order_value: perCurrencyOf(sums.purchases, 'orders', (sum) => round(sum.total / sum.n, 2)!),
    lifetime_value: perCurrencyOf(sums.purchases, 'lifetime', (sum) => ({
      mean: round(sum.total / sum.n, 2)!,
      median: round(sum.median, 2)!,
    })),
    cost_per_lead: perCurrency(spend, leads),
    customer_acquisition_cost: perCurrency(spend, won),
    csat: ratio(ratings?.csat_good ?? 0, ratings?.csat ?? 0),
    nps:
      ratings === undefined || ratings.nps === 0
        ? null
        : round(((ratings.promoters - ratings.detractors) * 100) / ratings.nps, 1),
  };
}

/** The sums of a period, whole and per group of each breakdown asked (src/store/reports.ts). */
export interface PeriodSums {
  leads: LeadSums[];
  purchases: PurchaseSums[];
  autoReplies: AutoReplySums[];
  ratings: RatingSums[];
}

/** The sums of the sets of one breakdown (`by` null: the one set of the whole period), by group key. */
function setsOf(sums: PeriodSums, by: GroupKey | null): Map<string | null, SetSums> {
  const sets = new Map<string | null, SetSums>();
  const setOf = (sum: SumsOf): SetSums => {
    let set = sets.get(sum.key);
    if (!set) sets.set(sum.key, (set = { purchases: [] }));
    return set;
  };
  const mine = (sum: SumsOf) => sum.by === by;
  for (const sum of sums.leads.filter(mine)) setOf(sum).leads = sum;
  for (const sum of sums.purchases.filter(mine)) setOf(sum).purchases.push(sum);
  for (const sum of sums.autoReplies.filter(mine)) setOf(sum).autoReplies = sum;
  for (const sum of sums.ratings.filter(mine)) setOf(sum).ratings = sum;
  return sets;
}

/** The report: figures for the whole period and, with `by`, per group (groups sorted by leads, then key). */
export function kpiReport(
  input: PeriodSums & {
    from: string;
    to: string;
    timeZone: string;
    churned: number;
    by: GroupKey | null;
    spend: readonly MarketingSpendConfig[];
  },
): KpiReport {
  const spend = spendInPeriod(input.spend, input.from, input.to);
  const report: KpiReport = {
    from: input.from,
    to: input.to,
    time_zone: input.timeZone,
    ...figures(setsOf(input, null).get(null) ?? { purchases: [] }, sumSpend(spend)),
    churned: input.churned,
    by: input.by,
    groups: [],
  };
  if (input.by === null) return report;
  const key = input.by;
  report.groups = [...setsOf(input, key)]
    .map(([value, sums]) => ({
      key: value,
      // spend is declared per source: only a breakdown by source can divide it
      ...figures(sums, key === 'source' ? sumSpend(spend, value) : new Map()),
    }))
    .sort((a, b) => b.leads - a.leads || String(a.key).localeCompare(String(b.key)));
  return report;
}

export interface CohortReport {
  from: string;
  to: string;
  time_zone: string;
  cohorts: Array<{ cohort: string; size: number; retention: number[] }>;
}

/**
 * The triangle: per cohort, `retention[k]` is the share of its customers who bought in month k after their first
 * (k = 1, 2…), up to the current month; months that have not come yet are left out.
 */
export function cohortReport(
  cells: readonly CohortCell[],
  period: { from: string; to: string; timeZone: string },
  now: Date,
): CohortReport {
  const [year, month] = new Intl.DateTimeFormat('en-CA', {
    timeZone: period.timeZone,
    year: 'numeric',
    month: '2-digit',
  })
    .format(now)
    .split('-')
    .map(Number);
  const current = year! * 12 + month! - 1;
  const byCohort = new Map<string, { size: number; buyers: Map<number, number> }>();
  for (const cell of cells) {
    const entry = byCohort.get(cell.cohort) ?? { size: cell.size, buyers: new Map() };
    entry.buyers.set(cell.offset, cell.buyers);
    byCohort.set(cell.cohort, entry);
  }
  return {
    from: period.from,
    to: period.to,
    time_zone: period.timeZone,
    cohorts: [...byCohort].map(([cohort, { size, buyers }]) => {
      const start = Number(cohort.slice(0, 4)) * 12 + Number(cohort.slice(5, 7)) - 1;
      const months = Math.max(0, current - start);
      return {
        cohort,
        size,
        retention: Array.from({ length: months }, (_, i) => round((buyers.get(i + 1) ?? 0) / size, 4)!),
      };
    }),
  };
}
