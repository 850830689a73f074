import { configuredCandidates } from '../../customers/assignment-order.js';
import { memberId } from '../../workflows/config-types.js';
import { DURATION_SCHEMA, parseDuration } from '../../workflows/duration.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import { defineStep, StepError, type StepContext } from './define-step.js';

const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
type Priority = (typeof PRIORITIES)[number];

interface OpenCaseConfig {
  pool: string;
  subject: string;
  message?: string;
  priority?: Priority;
  priority_rules?: Array<{ when: string; priority: Priority }>;
  channel?: string;
  first_response?: string | number;
  resolution?: string | number;
  join_open_case?: boolean;
  open_if?: string;
  reopen_within?: string | number;
  acknowledge?: { body: string; subject?: string };
}

interface CompiledOpenCase {
  pool: string;
  subject: CompiledTemplate;
  message: CompiledTemplate;
  priority: Priority;
  priorityRules: Array<{ when: CompiledExpression; priority: Priority }>;
  channel?: string;
  firstResponse?: { ms: number; text: string };
  resolution?: { ms: number; text: string };
  joinOpen: boolean;
  openIf?: CompiledExpression;
  reopenWithinMs: number | null;
  acknowledge?: { body: CompiledTemplate };
}

/** The text of the customer's message: the engine event's summary (message.received) or the record's timeline summary. */
const DEFAULT_MESSAGE = '{{ $exists(summary) ? summary : $record.timeline.summary }}';

export default defineStep<OpenCaseConfig, CompiledOpenCase>({
  type: 'open_case',
  // stop: the case change is keyed, so a retry opens or joins once; steps after it may read the case.
  onError: 'stop',
  summary:
    "Opens a service case for the customer in a support pool (owner: the pool's agent with the fewest active cases), with first-response and resolution targets counted in the pool's `business_hours`, paused while the case waits on the customer. With `join_open_case` a customer's further messages, on any channel, join their open case; with `reopen_within` a case resolved that recently opens again. Breaches fire case.first_response_breached / case.resolution_breached once. `acknowledge` answers once, on the case's channel, when the case is opened (an automated answer does not stop the first-response clock). Once per run, even when retried.",
  schema: {
    type: 'object',
    properties: {
      pool: {
        type: 'string',
        description:
          'Pool declared under `pools:`; its `business_hours` count the targets and its `lead` is told about breaches.',
      },
      subject: { type: 'string', description: 'Template, e.g. `Complaint from {{ $customer.name }}`.' },
      message: {
        type: 'string',
        description: "Template of the customer's message put on the thread; default the message's summary.",
      },
      priority: { enum: [...PRIORITIES], default: 'normal' },
      priority_rules: {
        type: 'array',
        description: 'First JSONata `when` that is true sets the priority.',
        items: {
          type: 'object',
          properties: { when: { type: 'string' }, priority: { enum: [...PRIORITIES] } },
          required: ['when', 'priority'],
          additionalProperties: false,
        },
      },
      channel: {
        type: 'string',
        description: "The case's channel (replies go there); default the channel the message came on, else email.",
      },
      first_response: {
        ...DURATION_SCHEMA,
        description: 'Open time (in the pool’s business hours) until a person must answer, e.g. 4h.',
      },
      resolution: {
        ...DURATION_SCHEMA,
        description: 'Open time until the case must be resolved, e.g. 27h (3d counts 72 open hours).',
      },
      join_open_case: {
        type: 'boolean',
        default: false,
        description: 'A customer with an open or waiting case gets the message added to it instead of a new case.',
      },
      open_if: {
        type: 'string',
        description:
          'JSONata: when false the message opens no case, it only joins the customer’s open case (with `join_open_case`) or reopens one (`reopen_within`). Lets one workflow on message.received both open cases for complaints and thread every later message.',
      },
      reopen_within: {
        ...DURATION_SCHEMA,
        description: 'A case of the customer resolved less than this long ago opens again instead of a new one.',
      },
      acknowledge: {
        type: 'object',
        description:
          'An automatic answer when the case is opened (not when the message joins one). `$case` holds id, priority, first_response (as written) and first_response_due (local time).',
        properties: {
          body: { type: 'string' },
          subject: { type: 'string', description: 'Unused on texts; emails use `Re: [Case #id] subject`.' },
        },
        required: ['body'],
        additionalProperties: false,
      },
    },
    required: ['pool', 'subject'],
    additionalProperties: false,
  },
  examples: [
    {
      pool: 'sales',
      subject: 'Complaint: {{ summary }}',
      first_response: '4h',
      resolution: '27h',
      join_open_case: true,
      reopen_within: '7d',
    },
    {
      pool: 'sales',
      subject: '{{ summary }}',
      join_open_case: true,
      open_if: "$contains($lowercase(summary), 'broken')",
    },
    {
      pool: 'sales',
      subject: 'Refund request',
      priority_rules: [{ when: "$contains($lowercase(summary), 'refund')", priority: 'high' }],
      first_response: '1h',
      acknowledge: { body: 'We opened case #{{ $case.id }} and answer by {{ $case.first_response_due }}.' },
    },
  ],
  compile: (config, context) => {
    if (!context.pools.has(config.pool))
      return context.fail(
        `unknown pool "${config.pool}"; declared pools: ${[...context.pools.keys()].join(', ') || '(none)'}`,
        'pool',
      );
    const target = (value: string | number | undefined) =>
      value === undefined
        ? undefined
        : { ms: parseDuration(value)!, text: typeof value === 'number' ? `${value} ms` : value.trim() };
    return {
      pool: config.pool,
      subject: context.template('subject', config.subject),
      message: context.template('message', config.message ?? DEFAULT_MESSAGE),
      priority: config.priority ?? 'normal',
      priorityRules: (config.priority_rules ?? []).map((rule, i) => ({
        when: context.expression(`priority_rules.${i}.when`, rule.when),
        priority: rule.priority,
      })),
      channel: config.channel,
      firstResponse: target(config.first_response),
      resolution: target(config.resolution),
      joinOpen: config.join_open_case ?? false,
      openIf: config.open_if === undefined ? undefined : context.expression('open_if', config.open_if),
      reopenWithinMs: config.reopen_within === undefined ? null : parseDuration(config.reopen_within)!,
      acknowledge: config.acknowledge && { body: context.template('acknowledge.body', config.acknowledge.body) },
    };
  },
  run: async (compiled, context) => {
    const customer = context.state.customer;
    if (!customer)
      throw new StepError('no customer: add upsert_customer before open_case (event triggers have one)', false);
    const { services } = context;
    const poolConfig = services.pools.get(compiled.pool)!;
    const members = poolConfig.agents.map(memberId);
    const working = configuredCandidates(poolConfig.agents, services.agents, services.now()).map((agent) => agent.id);
    let priority = compiled.priority;
    for (const rule of compiled.priorityRules) {
      if ((await rule.when.evaluate(context.payload, context.bindings)) === true) {
        priority = rule.priority;
        break;
      }
    }
    const payload = (context.payload ?? {}) as { channel?: unknown; timeline_event_id?: unknown };
    const timelineEventId = typeof payload.timeline_event_id === 'number' ? payload.timeline_event_id : null;
    const body = await compiled.message.render(context.payload, context.bindings);
    const result = await services.openCase({
      idempotencyKey: context.idempotencyKey,
      customerId: customer.id,
      runId: context.runId,
      subject: (await compiled.subject.render(context.payload, context.bindings)).trim().slice(0, 300) || 'Case',
      channel: compiled.channel ?? channelOf(context, payload.channel),
      sourceEvent: sourceOf(context, timelineEventId),
      message:
        body.trim() === ''
          ? null
          : { body, timelineEventId, at: context.event ? new Date(context.event.occurred_at) : services.now() },
      priority,
      pool: compiled.pool,
      // Nobody of the pool at work now: the case still gets an owner, who finds it at the next opening.
      candidates: working.length > 0 ? working : members,
      businessHours: poolConfig.business_hours ?? null,
      firstResponseMs: compiled.firstResponse?.ms ?? null,
      resolutionMs: compiled.resolution?.ms ?? null,
      joinOpen: compiled.joinOpen,
      mayOpen: !compiled.openIf || (await compiled.openIf.evaluate(context.payload, context.bindings)) === true,
      reopenWithinMs: compiled.reopenWithinMs,
      acknowledge:
        compiled.acknowledge &&
        ((facts) =>
          compiled.acknowledge!.body.render(context.payload, {
            ...context.bindings,
            case: {
              ...facts,
              first_response: compiled.firstResponse?.text ?? null,
              resolution: compiled.resolution?.text ?? null,
            },
          })),
    });
    return { output: result };
  },
});

function channelOf(context: StepContext, fromPayload: unknown): string | null {
  const channel =
    context.services.channelOf(context.event, context.payload) ??
    (typeof fromPayload === 'string' ? fromPayload : undefined);
  return channel ?? null;
}

/** What opened the case: the inbound message on the timeline (message.received), else the triggering event. */
function sourceOf(context: StepContext, timelineEventId: number | null): string | null {
  if (timelineEventId !== null) return `timeline:${timelineEventId}`;
  return context.event ? `${context.event.connector}:${context.event.type}:${context.event.external_id}` : null;
}
