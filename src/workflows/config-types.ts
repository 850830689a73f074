import type { SegmentConfig, TraitConfig } from './segments.js';
/** The shapes of workflows.yaml after interpolation and validation. YAML keys are snake_case. */
import type { PipelineConfig } from './pipelines.js';

export interface AgentConfig {
  id: string;
  name: string;
  email?: string;
  phone?: string;
  /** IANA zone of `working_hours`. */
  time_zone?: string;
  /** Outside these hours the agent gets no new leads. */
  working_hours?: { days: string[]; from: string; to: string };
  /** Most open leads (lifecycle lead or opportunity) the agent owns at once. */
  capacity?: number;
  languages?: string[];
  skills?: string[];
  /** Agents marked unavailable get no new leads (changeable at run time through the API). */
  available?: boolean;
}

/** A pool member: an agent id, or an id with a weight for weighted assignment (default 1). */
export type PoolMember = string | { id: string; weight: number };

export interface PoolConfig {
  agents: PoolMember[];
  /** A `business_hours:` name: case targets of this pool are counted in those hours (default: round the clock). */
  business_hours?: string;
  /** The agent told about the pool's breached case targets (`$pool_lead` of case events). */
  lead?: string;
}

export function memberId(member: PoolMember): string {
  return typeof member === 'string' ? member : member.id;
}

export interface ConnectorConfig {
  secrets: Record<string, string>;
  /** Overrides of the connector's default mappings, by event type. */
  mappings?: Record<string, string>;
  /** Region for this connector's phone numbers written without a country code (over `identity.default_region`). */
  default_region?: string;
}

export interface StepConfig {
  type: string;
  id?: string;
  name?: string;
  if?: string;
  timeout?: string | number;
  on_error?: 'stop' | 'continue';
  [field: string]: unknown;
}

export interface TriggerConfig {
  type: string;
  [field: string]: unknown;
}

export interface WorkflowConfig {
  id: string;
  name?: string;
  description?: string;
  enabled?: boolean;
  trigger: TriggerConfig;
  steps: StepConfig[];
}

/** Named business hours: when a reply naming them (`hours:`) may be sent. */
export interface BusinessHoursConfig {
  time_zone: string;
  /** Day keys (`mon-fri`, `sat`, `daily`) to a range `"09:00-18:00"` or a list of ranges. */
  open: Record<string, string | string[]>;
  /** Local dates `YYYY-MM-DD` closed all day. */
  holidays?: string[];
}

/** Named quiet hours: no reply naming them (`quiet_hours:`) is sent from `from` to `to`. */
export interface QuietHoursConfig {
  from: string;
  to: string;
  /** An IANA zone, `customer` (the customer's `attributes.time_zone`) or `owner` (the owner's `time_zone`). */
  time_zone: string;
  /** Used when the customer or owner has no time zone; required with `customer` and `owner`. */
  default_time_zone?: string;
}

export interface CrmflowConfig {
  version?: number;
  identity?: {
    default_region?: string;
    merge_on?: string[];
    caps?: Record<string, number>;
    blocked?: Record<string, string[]>;
    default_blocklist?: boolean;
    fold_gmail?: boolean;
    suggest_duplicates?: { every?: string | number; min_score?: number } | false;
  };
  connectors: Record<string, ConnectorConfig>;
  agents: AgentConfig[];
  pools: Record<string, PoolConfig>;
  business_hours?: Record<string, BusinessHoursConfig>;
  quiet_hours?: Record<string, QuietHoursConfig>;
  pipelines?: Record<string, PipelineConfig>;
  reports?: ReportsConfig;
  workflows: WorkflowConfig[];
  traits?: Record<string, TraitConfig>;
  segments?: SegmentConfig[];
}

/** `reports:` — how KPI reports read the calendar and what leads cost. */
export interface ReportsConfig {
  /** IANA zone of report periods (`from`/`to` dates, months of cohorts); default UTC. */
  time_zone?: string;
  /** Marketing spend per month and lead source, for cost per lead and customer acquisition cost. */
  marketing_spend?: MarketingSpendConfig[];
}

export interface MarketingSpendConfig {
  /** `YYYY-MM`, in the reports' time zone. */
  month: string;
  /** The lead source it bought (the customers' `lead_source`, or a connector id). */
  source: string;
  amount: number;
  currency: string;
}
