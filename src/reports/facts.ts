/**
 * The facts KPI reports are computed from, read at the vendors' times: a timeline entry's `occurred_at`, the inbound
 * delivery's `occurred_at`. Read by src/store/reports.ts, computed into figures by ./kpis.ts.
 */
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

/** What a customer is grouped by (`by=`): their lead source, first channel, owner and first pool. */
export interface CustomerKeys {
  customer_id: number;
  source: string | null;
  channel: string | null;
  agent: string | null;
  pool: string | null;
}

export interface LeadFact extends CustomerKeys {
  lead_at: Date;
  first_purchase_at: Date | null;
  /** The first message or call by a person after the lead event (null: nobody has yet). */
  first_contact_at: Date | null;
  first_contact_agent: string | null;
  /** Due time of the SLA of their first assignment, if one was set. */
  sla_due_at: Date | null;
}

export interface PurchaseFact extends CustomerKeys {
  occurred_at: Date;
  amount: number | null;
  currency: string | null;
  /** Inside the period (the others are earlier purchases of the same customers, for lifetime figures). */
  in_period: boolean;
}

export interface AutoReplyFact {
  seconds: number;
  channel: string;
  source: string;
  agent: string | null;
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

/** A rating a customer gave through a rating link (one per message and kind; a changed answer counts once). */
export interface RatingFact extends CustomerKeys {
  kind: 'csat' | 'nps';
  score: number;
}
