/** The shapes of workflows.yaml after interpolation and validation. YAML keys are snake_case. */

export interface AgentConfig {
  id: string;
  name: string;
  email?: string;
  phone?: string;
  time_zone?: string;
  /** Agents marked unavailable get no new leads. */
  available?: boolean;
}

export interface PoolConfig {
  agents: string[];
}

export interface ConnectorConfig {
  secrets: Record<string, string>;
  /** Overrides of the connector's default mappings, by event type. */
  mappings?: Record<string, string>;
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
  identity?: { default_region?: string };
  connectors: Record<string, ConnectorConfig>;
  agents: AgentConfig[];
  pools: Record<string, PoolConfig>;
  workflows: WorkflowConfig[];
}
