/** The shapes of workflows.yaml after interpolation and validation. YAML keys are snake_case. */

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
  workflows: WorkflowConfig[];
}
