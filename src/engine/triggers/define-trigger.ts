import type { ConnectorDefinition } from '../../connectors/define-connector.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import type { ConnectorConfig } from '../../workflows/config-types.js';
import type { AudienceSelector } from '../../store/audience.js';
import type { StepSchema } from '../steps/define-step.js';

/** What starts a workflow, as the engine dispatches it. */
export type CompiledTrigger =
  | {
      kind: 'webhook';
      connector: ConnectorDefinition;
      connectorConfig: ConnectorConfig;
      eventTypes: string[];
      when?: CompiledExpression;
    }
  | { kind: 'schedule'; cron: string; timezone?: string }
  | {
      kind: 'poll';
      connector: ConnectorDefinition;
      connectorConfig: ConnectorConfig;
      resource: string;
      everyMs: number;
      backfillMs: number;
      pageSize: number;
    }
  | { kind: 'event'; on: string[]; when?: CompiledExpression }
  | { kind: 'audience'; cron: string; timezone: string; audience: AudienceSelector; batchSize: number };

export interface TriggerCompileContext {
  connectors: ReadonlyMap<string, ConnectorDefinition>;
  connectorConfigs: Readonly<Record<string, ConnectorConfig>>;
  expression: (field: string, source: string) => CompiledExpression;
  fail: (message: string, field?: string) => never;
}

export interface TriggerDefinition<Config = Record<string, unknown>> {
  type: string;
  summary: string;
  schema: StepSchema;
  examples: Config[];
  compile: (config: Config, context: TriggerCompileContext) => CompiledTrigger;
}

/** A trigger definition with its config type erased, as the registry holds it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTriggerDefinition = TriggerDefinition<any>;

export function defineTrigger<Config>(definition: TriggerDefinition<Config>): TriggerDefinition<Config> {
  return definition;
}
