/**
 * The facts KPI reports are computed from (src/reports/kpis.ts), read at the vendors' times: a timeline entry's
 * `occurred_at`, the inbound delivery's `occurred_at`. A period is local dates `[from, to]` in the reports' time zone.
 * Merged customers count once (their rows follow the kept customer); erased customers do not count.
 */
export interface ReportPeriod {
  /** First local date, YYYY-MM-DD. */
  from: string;
  /** Last local date, YYYY-MM-DD (inclusive). */
  to: string;
  timeZone: string;
}

/** How a report can be broken down: by lead source, first channel, owner agent or first pool. */
export const GROUP_KEYS = ['source', 'channel', 'agent', 'pool'] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

/** A set of figures' sums: of the whole period (`by` null), or of the group `key` of a breakdown `by` a key or week. */
export interface SumsOf {
  by: GroupKey | 'week' | null;
  key: string | null;
}

/** Median and 90th percentile (linear interpolation between the closest ranks), unrounded; null: no values. */
export type Percentiles = [median: number, p90: number] | null;

/** The leads of a set: customers whose first lead event happened in the period, and what followed it. */
export interface LeadSums extends SumsOf {
  leads: number;
  /** Those who then made a first purchase. */
  won: number;
  /** Minutes from the lead event to the first message or call by a person, over the leads contacted so far. */
  speed_to_lead_minutes: Percentiles;
  /** Leads whose first assignment had an SLA, and of them those contacted by a person before it was due. */
  with_sla: number;
  within_sla: number;
  /** Days from the lead event to the first purchase, over the leads won. */
  sales_cycle_days: Percentiles;
}

/**
 * The customers who bought in the period, from their purchases up to its end: `buyers` (`n` customers, `total` of them
 * who had bought twice or more), and per currency `orders` (`n` purchases in the period, `total` their amount) and
 * `lifetime` (`n` customers, `total` the sum of what each paid, `median` of it). `rank` orders the currencies as the
 * purchases (by customer, then time) first show them.
 */
export interface PurchaseSums extends SumsOf {
  kind: 'buyers' | 'orders' | 'lifetime';
  currency: string | null;
  n: number;
  total: number;
  median: number | null;
  rank: number | null;
}

/** Seconds from an inbound delivery to the first automated message its workflow sent. */
export interface AutoReplySums extends SumsOf {
  seconds: Percentiles;
}

/** Ratings answered through rating links (one per message and kind; a changed answer counts once). */
export interface RatingSums extends SumsOf {
  csat: number;
  /** 1–5 ratings of 4 or 5. */
  csat_good: number;
  nps: number;
  /** 0–10 ratings of 9–10, and of 0–6. */
  promoters: number;
  detractors: number;
}

export interface CohortCell {
  /** First local month of the cohort, YYYY-MM. */
  cohort: string;
  size: number;
  /** Months after the first purchase (1 = the next month). */
  offset: number;
  buyers: number;
}

export interface FunnelStage {
  stage: string;
  /** Of the given customers, those who have been in the stage. */
  customers: number;
  /** Median days they stayed before the next stage (those still in it are not counted); null: nobody moved on yet. */
  median_days: number | null;
}
