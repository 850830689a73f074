import type { MarketingSpendConfig } from '../workflows/config-types.js';
import type { AutoReplyFact, CohortCell, CustomerKeys, LeadFact, PurchaseFact, RatingFact } from './facts.js';

/** How a report can be broken down: by lead source, first channel, owner agent or first pool. */
export const GROUP_KEYS = ['source', 'channel', 'agent', 'pool'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

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

/** Percentile of values sorted in ascending order, by linear interpolation between the closest ranks. */
function percentileOfSorted(sorted: Float64Array, fraction: number): number | null {
  if (sorted.length === 0) return null;
  const position = fraction * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}

/** A typed array sorts numbers in ascending order, several times faster than an array with a comparator. */
const sortedOf = (values: readonly number[]) => Float64Array.from(values).sort();

/** Percentile by linear interpolation between the closest ranks (as PostgreSQL's percentile_cont). */
export function percentile(values: readonly number[], fraction: number): number | null {
  return percentileOfSorted(sortedOf(values), fraction);
}

const round = (value: number | null, digits: number): number | null =>
  value === null ? null : Number(value.toFixed(digits));
const spread = (values: number[], digits: number): Spread => {
  const sorted = sortedOf(values);
  return {
    median: round(percentileOfSorted(sorted, 0.5), digits),
    p90: round(percentileOfSorted(sorted, 0.9), digits),
  };
};
const ratio = (part: number, whole: number): number | null => (whole === 0 ? null : round(part / whole, 4));

const MINUTE = 60_000;
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

function append<K, V>(lists: Map<K, V[]>, key: K, value: V): void {
  const list = lists.get(key);
  if (list) list.push(value);
  else lists.set(key, [value]);
}

interface Facts {
  leads: LeadFact[];
  purchases: PurchaseFact[];
  autoReplies: AutoReplyFact[];
  ratings: RatingFact[];
}

/** The figures over one set of facts; `spend` is what was spent on these leads (null: none declared). */
export function figures(facts: Facts, spend: Map<string, number>): KpiFigures {
  const won = facts.leads.filter((lead) => lead.first_purchase_at !== null);
  const csat = facts.ratings.filter((rating) => rating.kind === 'csat').map((rating) => rating.score);
  const nps = facts.ratings.filter((rating) => rating.kind === 'nps').map((rating) => rating.score);
  const contacted = facts.leads.filter((lead) => lead.first_contact_at !== null);
  const withSla = facts.leads.filter((lead) => lead.sla_due_at !== null);
  // pushed, never copied: a year holds hundreds of thousands of facts
  const buyers = new Map<number, PurchaseFact[]>();
  for (const purchase of facts.purchases) append(buyers, purchase.customer_id, purchase);
  const periodBuyers = [...buyers.values()].filter((list) => list.some((purchase) => purchase.in_period));

  const orderValues = new Map<string, number[]>();
  for (const purchase of facts.purchases) {
    if (!purchase.in_period || purchase.amount === null || purchase.currency === null) continue;
    append(orderValues, purchase.currency, purchase.amount);
  }
  const lifetimes = new Map<string, number[]>();
  for (const list of periodBuyers) {
    const totals = new Map<string, number>();
    for (const purchase of list)
      if (purchase.amount !== null && purchase.currency !== null)
        totals.set(purchase.currency, (totals.get(purchase.currency) ?? 0) + purchase.amount);
    for (const [currency, total] of totals) append(lifetimes, currency, total);
  }

  return {
    leads: facts.leads.length,
    customers_won: won.length,
    lead_conversion_rate: ratio(won.length, facts.leads.length),
    speed_to_lead_minutes: spread(
      contacted.map((lead) => (lead.first_contact_at!.getTime() - lead.lead_at.getTime()) / MINUTE),
      2,
    ),
    speed_to_lead_within_sla: ratio(
      withSla.filter((lead) => lead.first_contact_at !== null && lead.first_contact_at <= lead.sla_due_at!).length,
      withSla.length,
    ),
    auto_reply_seconds: spread(
      facts.autoReplies.map((reply) => reply.seconds),
      2,
    ),
    sales_cycle_days: spread(
      won.map((lead) => (lead.first_purchase_at!.getTime() - lead.lead_at.getTime()) / DAY),
      2,
    ),
    repeat_purchase_rate: ratio(periodBuyers.filter((list) => list.length >= 2).length, periodBuyers.length),
    average_order_value: Object.fromEntries(
      [...orderValues].map(([currency, values]) => [
        currency,
        round(values.reduce((a, b) => a + b, 0) / values.length, 2)!,
      ]),
    ),
    lifetime_value: Object.fromEntries(
      [...lifetimes].map(([currency, values]) => [
        currency,
        {
          mean: round(values.reduce((a, b) => a + b, 0) / values.length, 2)!,
          median: round(percentile(values, 0.5), 2)!,
        },
      ]),
    ),
    cost_per_lead: perCurrency(spend, facts.leads.length),
    customer_acquisition_cost: perCurrency(spend, won.length),
    csat: ratio(csat.filter((score) => score >= 4).length, csat.length),
    nps:
      nps.length === 0
        ? null
        : round(
            ((nps.filter((score) => score >= 9).length - nps.filter((score) => score <= 6).length) * 100) / nps.length,
            1,
          ),
  };
}

/** The report: figures for the whole period and, with `by`, per group (groups sorted by leads, then key). */
export function kpiReport(
  input: Facts & {
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
    ...figures(input, sumSpend(spend)),
    churned: input.churned,
    by: input.by,
    groups: [],
  };
  if (input.by === null) return report;
  const key = input.by;
  const keyOf = (fact: CustomerKeys | AutoReplyFact) => (fact as Record<GroupKey, string | null>)[key] ?? null;
  // one pass over the facts, not one per group
  const groups = new Map<string | null, Facts>();
  const groupOf = (fact: CustomerKeys | AutoReplyFact): Facts => {
    const value = keyOf(fact);
    let group = groups.get(value);
    if (!group) groups.set(value, (group = { leads: [], purchases: [], autoReplies: [], ratings: [] }));
    return group;
  };
  for (const fact of input.leads) groupOf(fact).leads.push(fact);
  for (const fact of input.purchases) groupOf(fact).purchases.push(fact);
  // an auto reply has no pool: grouped by pool, replies sit in the null group
  for (const fact of input.autoReplies) groupOf(fact).autoReplies.push(fact);
  for (const fact of input.ratings) groupOf(fact).ratings.push(fact);
  report.groups = [...groups]
    .map(([value, facts]) => ({
      key: value,
      // spend is declared per source: only a breakdown by source can divide it
      ...figures(facts, key === 'source' ? sumSpend(spend, value) : new Map()),
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
