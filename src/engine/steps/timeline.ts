import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError } from './define-step.js';

interface TimelineConfig {
  from?: string;
}

interface Entry {
  type?: unknown;
  external_id?: unknown;
  occurred_at?: unknown;
  updated_at?: unknown;
  summary?: unknown;
  data?: unknown;
  amount?: unknown;
  currency?: unknown;
}

function date(value: unknown, field: string): Date {
  const parsed = new Date(String(value));
  if (value == null || Number.isNaN(parsed.getTime()))
    throw new StepError(`timeline entry: ${field} is not a date: ${JSON.stringify(value)}`, false);
  return parsed;
}

export default defineStep<TimelineConfig, CompiledExpression | undefined>({
  type: 'timeline',
  // stop: a failed write is a database error a retry heals (the entry is written once).
  onError: 'stop',
  // Run again after a crash it changes nothing more: one entry per vendor object.
  rerunnable: true,
  summary:
    "Adds the event to the customer's timeline (order, call, message, invoice...) once per vendor object; a newer version of the object updates it, an older one changes nothing.",
  schema: {
    type: 'object',
    properties: {
      from: {
        type: 'string',
        description:
          'JSONata giving {type, external_id, occurred_at, updated_at?, summary?, data?, amount?, currency?}; default `$record.timeline`.',
      },
    },
    additionalProperties: false,
  },
  examples: [{}, { from: '{ "type": "note.added", "external_id": id, "occurred_at": created_at, "summary": body }' }],
  compile: (config, context) => (config.from === undefined ? undefined : context.expression('from', config.from)),
  run: async (from, context) => {
    const customer = context.state.customer;
    if (!customer) throw new StepError('no customer: add upsert_customer before timeline', false);
    const entry = (from ? await from.evaluate(context.payload, context.bindings) : context.state.record?.timeline) as
      Entry | null | undefined;
    if (entry === null || entry === undefined) return { output: { skipped: 'the record has no timeline entry' } };
    if (typeof entry.type !== 'string' || typeof entry.external_id !== 'string' || entry.external_id === '') {
      throw new StepError('timeline entry needs a string type and external_id', false);
    }
    const result = await context.services.upsertTimeline({
      customerId: customer.id,
      source: context.event?.connector ?? 'workflow',
      externalId: entry.external_id,
      type: entry.type,
      occurredAt: date(entry.occurred_at, 'occurred_at'),
      versionAt: entry.updated_at == null ? undefined : date(entry.updated_at, 'updated_at'),
      summary: typeof entry.summary === 'string' ? entry.summary : null,
      data: entry.data ?? {},
      amount: typeof entry.amount === 'number' && Number.isFinite(entry.amount) ? entry.amount : null,
      currency: typeof entry.currency === 'string' ? entry.currency : null,
      runId: context.runId,
    });
    // Later steps see the traits this entry moved (`$customer.traits`).
    const state = result.traits ? { customer: { ...customer, traits: result.traits } } : undefined;
    return { output: { timeline_event_id: result.id, inserted: result.inserted }, ...(state ? { state } : {}) };
  },
});
