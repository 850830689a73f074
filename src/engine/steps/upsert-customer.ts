import { isBlocked, normalizeOptionsFor } from '../../customers/identity-policy.js';
import { normalizeIdentities, recordIdentities } from '../../customers/normalize.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError } from './define-step.js';
import { recordErrors, validateRecord } from './record-schema.js';

interface UpsertConfig {
  from?: string;
}

const PROFILE_FIELDS = [
  'name',
  'first_name',
  'last_name',
  'language',
  'country',
  'attributes',
  'lifecycle_stage',
] as const;

export default defineStep<UpsertConfig, CompiledExpression | undefined>({
  type: 'upsert_customer',
  // stop: later steps need the customer; a database error heals on retry.
  onError: 'stop',
  // Run again after a crash it changes nothing more: identity resolution finds the customer it made.
  rerunnable: true,
  summary:
    'Resolves the record to one customer by its emails, phones and vendor ids (creating, attaching or merging), and updates the profile; newer vendor data wins. Sets `$customer`.',
  schema: {
    type: 'object',
    properties: {
      from: { type: 'string', description: 'JSONata giving the record; default `$record` (the last map step).' },
    },
    additionalProperties: false,
  },
  examples: [{}, { from: '$steps.lookup.data' }],
  compile: (config, context) => (config.from === undefined ? undefined : context.expression('from', config.from)),
  run: async (from, context) => {
    const record = from ? await from.evaluate(context.payload, context.bindings) : context.state.record;
    if (record === undefined) throw new StepError('no record to upsert: add a map step before upsert_customer', false);
    if (!validateRecord(record)) throw new StepError(`invalid record: ${recordErrors()}`, false);
    const fields = record as Record<string, unknown>;
    const raw = recordIdentities(fields);
    const policy = context.services.identityPolicy;
    const normalized = normalizeIdentities(
      raw,
      normalizeOptionsFor(policy, context.event?.connector, context.services.defaultRegion),
    );
    const blocked = normalized.filter((identity) => isBlocked(identity, policy));
    const identities = normalized.filter((identity) => !isBlocked(identity, policy));
    if (identities.length === 0) {
      const why =
        blocked.length > 0
          ? `only blocked placeholder identities (${blocked.map((identity) => identity.value).join(', ')})`
          : 'no usable identity (email, phone or vendor id)';
      throw new StepError(`the record has ${why}`, false);
    }
    const timeline = fields.timeline as { updated_at?: string | null; occurred_at?: string } | null | undefined;
    const occurredAt = new Date(
      timeline?.updated_at ?? timeline?.occurred_at ?? context.event?.occurred_at ?? Date.now(),
    );
    if (Number.isNaN(occurredAt.getTime())) throw new StepError('the record has an unreadable timeline time', false);
    const profile = Object.fromEntries(PROFILE_FIELDS.map((field) => [field, fields[field] ?? null]));
    const result = await context.services.upsertCustomer({
      identities,
      profile,
      occurredAt,
      source: context.event?.connector ?? 'workflow',
      eventRef: `run:${context.runId}`,
      policy,
      runId: context.runId,
    });
    return {
      output: {
        customer_id: result.customerId,
        created: result.created,
        merged_ids: result.mergedIds,
        attached: result.attached,
        ...(result.suggested.length > 0 ? { suggested_merges: result.suggested } : {}),
        ...(blocked.length > 0 ? { blocked } : {}),
      },
      state: { customer: result.customer },
    };
  },
});
