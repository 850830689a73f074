import { DURATION_SCHEMA, parseDuration } from '../../workflows/duration.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError, type StepContext, type StepResult } from './define-step.js';

interface WaitConfig {
  for?: string | number;
  until?: string;
  unless?: string;
}

interface CompiledWait {
  /** `for:` in ms, or `until:` evaluated when the step starts. */
  delay: { ms: number; text: string } | { until: CompiledExpression };
  unless?: CompiledExpression;
}

export default defineStep<WaitConfig, CompiledWait>({
  type: 'wait',
  // stop: the steps after it are meant to run only after it.
  onError: 'stop',
  summary:
    'Pauses the run `for` a duration (30s, 10m, 2h, 2d) or `until` a time (JSONata giving an ISO date-time or epoch milliseconds). The run is `waiting` meanwhile and survives restarts. Then `unless` (JSONata) is checked against the customer as they are now (`$customer` reloaded, `$timeline`: their timeline entries since the wait began, `$since`): true ends the run as `filtered`.',
  schema: {
    type: 'object',
    properties: {
      for: { ...DURATION_SCHEMA, description: 'How long to wait: 30s, 10m, 2h, 2d.' },
      until: {
        type: 'string',
        description: 'JSONata giving the time to wait for (ISO date-time or epoch ms); a past time does not wait.',
      },
      unless: {
        type: 'string',
        description:
          "JSONata checked after the wait; true ends the run as `filtered`. E.g. `$exists($timeline[type = 'order.created'])` (ordered meanwhile).",
      },
    },
    additionalProperties: false,
  },
  examples: [
    { for: '2d', unless: "$exists($timeline[type = 'order.created'])" },
    { until: '$customer.attributes.trial_ends_at' },
  ],
  compile: (config, context) => {
    if ((config.for === undefined) === (config.until === undefined))
      return context.fail('a wait needs exactly one of `for` and `until`');
    const delay =
      config.for !== undefined
        ? {
            ms: parseDuration(config.for)!,
            text: typeof config.for === 'number' ? `${config.for} ms` : config.for.trim(),
          }
        : { until: context.expression('until', config.until!) };
    return { delay, unless: config.unless === undefined ? undefined : context.expression('unless', config.unless) };
  },
  run: async (compiled, context) => {
    if (context.resumed) return afterWait(compiled, context, context.resumed.since, context.resumed.until);
    const now = context.services.now();
    const until =
      'ms' in compiled.delay
        ? new Date(now.getTime() + compiled.delay.ms)
        : await untilTime(compiled.delay.until, context);
    if (until.getTime() <= now.getTime()) return afterWait(compiled, context, now, now);
    const reason = 'ms' in compiled.delay ? `wait ${compiled.delay.text}` : `wait until ${until.toISOString()}`;
    return { output: { until: until.toISOString() }, suspend: { until, reason } };
  },
});

async function untilTime(expression: CompiledExpression, context: StepContext): Promise<Date> {
  const value = await expression.evaluate(context.payload, context.bindings);
  const time = typeof value === 'number' || typeof value === 'string' ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime()))
    throw new StepError(
      `until gave ${JSON.stringify(value) ?? 'nothing'}, not a date-time or epoch milliseconds`,
      false,
    );
  return time;
}

/** The wait is over: `unless` decides, on the customer as they are now, whether the run goes on. */
async function afterWait(compiled: CompiledWait, context: StepContext, since: Date, until: Date): Promise<StepResult> {
  const waited = { waited_until: until.toISOString() };
  const previous = context.state.customer;
  const customer = previous && (await context.services.loadCustomer(previous.id));
  const state = customer ? { customer } : undefined;
  if (!compiled.unless) return { output: waited, state };
  const timeline = customer ? await context.services.timelineSince(customer.id, since) : [];
  const bindings = { ...context.bindings, customer, timeline, since: since.toISOString() };
  if ((await compiled.unless.evaluate(context.payload, bindings)) !== true)
    return { output: { ...waited, unless: false }, state };
  return {
    output: { ...waited, unless: true, reason: `unless is true: ${compiled.unless.source}` },
    state,
    stop: 'filtered',
  };
}
