import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError } from './define-step.js';

interface MapConfig {
  expr?: string;
}

/** Per event type, the expression to run: the admin's `expr` applies to every type. */
export type CompiledMap = { expr: CompiledExpression } | { byEventType: Map<string, CompiledExpression> };

export default defineStep<MapConfig, CompiledMap>({
  type: 'map',
  // stop: every later step works on the record it makes.
  onError: 'stop',
  effectFree: true,
  summary:
    "Maps the vendor payload into the unified record with JSONata. Without `expr`, uses the connector's default mapping for the event type (or the override under `connectors.<id>.mappings`). The result becomes `$record`.",
  schema: {
    type: 'object',
    properties: {
      expr: {
        type: 'string',
        description: 'JSONata over the payload; `$event`, `$record`, `$customer`, `$steps` are bound.',
      },
    },
    additionalProperties: false,
  },
  examples: [{}, { expr: '{ "email": contact.email, "name": contact.name }' }],
  compile: (config, context) => {
    if (config.expr !== undefined) return { expr: context.expression('expr', config.expr) };
    const { connector, connectorConfig, eventTypes } = context.trigger;
    if (!connector)
      return context.fail(
        'map needs `expr`: this workflow is not started by a connector event, so there is no default mapping',
      );
    const byEventType = new Map<string, CompiledExpression>();
    for (const type of eventTypes) {
      const source = connectorConfig?.mappings?.[type] ?? connector.events[type]?.mapping;
      if (source === undefined)
        return context.fail(`connector ${connector.id} has no default mapping for ${type}; give \`expr\``);
      byEventType.set(type, context.expression('expr', source));
    }
    return { byEventType };
  },
  run: async (compiled, context) => {
    const plain = await mapRecord(compiled, context.event?.type, context.payload, context.bindings);
    return { output: plain, state: { record: plain } };
  },
});

/**
 * What a compiled map step makes of a payload: the unified record, as plain JSON. Also used by
 * `crmflow identity simulate`, so a simulation sees the identities the workflows would.
 */
export async function mapRecord(
  compiled: CompiledMap,
  eventType: string | undefined,
  payload: unknown,
  bindings: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const expression = 'expr' in compiled ? compiled.expr : compiled.byEventType.get(eventType ?? '');
  if (!expression) throw new StepError(`no mapping for event type ${eventType}`, false);
  let record: unknown;
  try {
    record = await expression.evaluate(payload, bindings);
  } catch (error) {
    throw new StepError(`mapping failed: ${(error as Error).message}`, false);
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    throw new StepError(
      `mapping must produce an object, got ${record === undefined ? 'nothing' : JSON.stringify(record).slice(0, 100)}`,
      false,
    );
  }
  return JSON.parse(JSON.stringify(record)) as Record<string, unknown>;
}
