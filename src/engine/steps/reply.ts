import type { RatingKind } from '../../customers/feedback-token.js';
import { ratingQuestion } from '../rating-links.js';
import { normalizeOptionsFor } from '../../customers/identity-policy.js';
import { normalizeEmail, normalizeIdentities, type Identity } from '../../customers/normalize.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import {
  compileSendWindow,
  outsideHours,
  SEND_WINDOW_PROPERTIES,
  type CompiledSendWindow,
  type SendWindowConfig,
} from '../send-window.js';
import {
  compileReplyPolicy,
  REPLY_POLICY_PROPERTIES,
  variantFor,
  type CompiledReplyPolicy,
  type ReplyPolicyConfig,
} from '../reply-policy/options.js';
import type { ReplyPolicy } from '../reply-policy/gate.js';
import { defineStep, StepError, type StepContext } from './define-step.js';

const CHANNELS = ['email', 'sms', 'whatsapp', 'messenger', 'instagram', 'same'] as const;

interface ReplyConfig extends SendWindowConfig, ReplyPolicyConfig {
  channel: (typeof CHANNELS)[number];
  to?: string;
  subject?: string;
  body: string;
  rating?: RatingKind;
}

interface CompiledReply extends CompiledReplyPolicy {
  channel: ReplyConfig['channel'];
  to?: CompiledTemplate;
  subject?: CompiledTemplate;
  body: CompiledTemplate;
  window?: CompiledSendWindow;
  rating?: RatingKind;
}

export default defineStep<ReplyConfig, CompiledReply>({
  type: 'reply',
  // stop: SMTP and vendor outages heal on retry (recorded before sending: never sent twice); set continue where later steps matter more.
  onError: 'stop',
  summary:
    'Answers the customer automatically: by email (SMTP_URL, or the demo outbox), or through a connector (sms via twilio; whatsapp, messenger, instagram via meta); `same` answers on the channel of the triggering event. Recorded before it is sent; sent at most once per run even when retried. Never sent to an opted-out address, outside Meta’s 24-hour window (except an approved template), or past `once_per` / `max_per_customer`: such replies are recorded as skipped with the reason.',
  schema: {
    type: 'object',
    properties: {
      channel: {
        enum: [...CHANNELS],
        description: 'Delivery channel; `same` is the channel the customer used (email for forms and shops).',
      },
      to: {
        type: 'string',
        description:
          "Email recipient template; default the email of this event's record, else the customer's first email.",
      },
      subject: { type: 'string', description: 'Email subject template (required for email and same).' },
      body: { type: 'string', description: 'Template with {{ expression }} placeholders.' },
      rating: {
        enum: ['csat', 'nps'],
        description:
          'Ends the reply with one-click rating links, signed like unsubscribe links: `csat` 1–5 or `nps` 0–10. One answer per message (another click changes it); answers fire feedback.received and count in the KPI reports.',
      },
      ...SEND_WINDOW_PROPERTIES,
      ...REPLY_POLICY_PROPERTIES,
    },
    required: ['channel', 'body'],
    additionalProperties: false,
  },
  examples: [
    { channel: 'same', subject: 'Your order has arrived', body: 'We hope you like it.', rating: 'nps' },
    { channel: 'email', subject: 'Thanks, {{ $customer.first_name }}!', body: 'We received your order {{ name }}.' },
    {
      channel: 'same',
      subject: 'We got your message',
      body: 'Thanks for writing, {{ $owner.name }} will answer shortly.',
    },
    {
      channel: 'email',
      subject: 'We got your message',
      body: 'Thanks, we will answer shortly.',
      hours: 'support',
      outside_hours: { body: 'Thanks! We are closed now and answer first thing tomorrow.' },
    },
    {
      channel: 'same',
      subject: 'We got your message',
      body: 'Thanks for writing, we answer within the hour.',
      variants: { es: { subject: 'Recibimos tu mensaje', body: 'Gracias por escribir, respondemos en una hora.' } },
      once_per: '10m',
      max_per_customer: { count: 3, per: '1h' },
      template: { name: 'hello_world', language: 'en_US' },
    },
  ],
  compile: (config, context) => {
    if ((config.channel === 'email' || config.channel === 'same') && config.subject === undefined) {
      return context.fail(`a reply on channel ${config.channel} needs \`subject\` (emails have one)`);
    }
    if (
      config.channel !== 'email' &&
      config.channel !== 'same' &&
      ![...context.connectors.values()].some((connector) => connector.channels?.[config.channel])
    ) {
      return context.fail(
        `no configured connector sends on channel ${config.channel}; configure one that does (sms: twilio; whatsapp, messenger, instagram: meta)`,
        'channel',
      );
    }
    if (config.to !== undefined && config.channel !== 'email')
      return context.fail('`to` applies to email replies only', 'to');
    return {
      ...compileReplyPolicy(config, context),
      channel: config.channel,
      to: config.to === undefined ? undefined : context.template('to', config.to),
      subject: config.subject === undefined ? undefined : context.template('subject', config.subject),
      body: context.template('body', config.body),
      window: compileSendWindow(config, context),
      rating: config.rating,
    };
  },
  run: async (compiled, context) => {
    const timing = outsideHours(compiled.window, context);
    if (timing && 'result' in timing) return timing.result;
    const channel =
      compiled.channel === 'same'
        ? (context.services.channelOf(context.event, context.payload) ?? 'email')
        : compiled.channel;
    // Outside business hours the out-of-hours text; otherwise the customer's language, else the default.
    const variant = timing?.variant ?? variantFor(compiled.variants, context.state.customer?.language);
    const body = await (variant?.body ?? compiled.body).render(context.payload, context.bindings);
    // The links name this reply by its idempotency key: the message they rate.
    const links = compiled.rating && context.services.ratingLinks(context.idempotencyKey, compiled.rating);
    const text = links ? `${body}\n\n${ratingQuestion(compiled.rating!, links)}` : body;
    const policy = { ...compiled.policy, workflowId: context.workflowId, stepId: context.stepId };
    // No mail loops (RFC 3834): a machine's message (auto-reply, bounce, list) is never answered automatically.
    const automated = context.services.automatedInbound(context.event, context.payload);
    const unanswered = automated && {
      output: { channel, status: 'skipped', reason: `not answered automatically: ${automated.reason}` },
    };
    if (channel === 'email')
      return replyByEmail(
        variant?.subject ?? compiled.subject!,
        compiled,
        context,
        text,
        policy,
        unanswered && { ...unanswered, address: automated.address },
      );
    if (unanswered) return unanswered;
    const customer = context.state.customer;
    if (!customer) throw new StepError('no customer: add upsert_customer before a reply on a messaging channel', false);
    const result = await context.services.sendMessage({
      channel,
      idempotencyKey: context.idempotencyKey,
      customerId: customer.id,
      runId: context.runId,
      preferred: recordIdentities(context),
      identities: customer.identities,
      text,
      trigger: context.event ? { type: context.event.type, payload: context.payload } : undefined,
      policy,
    });
    if (result.status === 'failed')
      throw new StepError(`${channel} reply failed: ${result.reason}`, result.retryable ?? true);
    return {
      output: {
        channel,
        message_id: result.messageId,
        status: result.status,
        ...(result.reason ? { reason: result.reason } : {}),
      },
    };
  },
});

/** `unanswered`: the skip of a reply to an automated message's sender; emails to others (the owner) still go out. */
async function replyByEmail(
  subjectTemplate: CompiledTemplate,
  compiled: CompiledReply,
  context: StepContext,
  text: string,
  policy: ReplyPolicy,
  unanswered: { output: unknown; address: string } | undefined,
) {
  const customer = context.state.customer;
  const to = compiled.to
    ? await compiled.to.render(context.payload, context.bindings)
    : (eventEmail(context.state.record) ?? customer?.email ?? '');
  if (to.trim() === '')
    return { output: { channel: 'email', status: 'skipped', reason: 'no email address for the customer' } };
  if (unanswered && (!compiled.to || normalizeEmail(to) === normalizeEmail(unanswered.address)))
    return { output: unanswered.output };
  const subject = await subjectTemplate.render(context.payload, context.bindings);
  const result = await context.services.sendEmail({
    idempotencyKey: context.idempotencyKey,
    customerId: customer?.id ?? null,
    runId: context.runId,
    to: to.trim(),
    subject,
    text,
    policy,
  });
  if (result.status === 'failed') throw new StepError(`email to ${to} failed: ${result.reason}`, true);
  return {
    output: {
      channel: 'email',
      message_id: result.messageId,
      status: result.status,
      ...(result.reason ? { reason: result.reason } : {}),
    },
  };
}

/** The address the customer used for this event: answering there is what they expect. */
function eventEmail(record: Record<string, unknown> | undefined): string | undefined {
  const emails = [record?.email].flat().filter((value): value is string => typeof value === 'string');
  return emails.map((email) => normalizeEmail(email)).find((email) => email !== undefined);
}

/** This event's identities, normalized: the reply goes where the customer just wrote from. */
function recordIdentities(context: StepContext): Identity[] {
  const record = context.state.record ?? {};
  const raw: Identity[] = [
    ...[record.phone]
      .flat()
      .filter((value): value is string => typeof value === 'string')
      .map((value) => ({ kind: 'phone', value })),
    ...((record.identities as Identity[] | undefined) ?? []).map((identity) => ({
      kind: identity.kind,
      value: String(identity.value),
    })),
  ];
  return normalizeIdentities(
    raw,
    normalizeOptionsFor(context.services.identityPolicy, context.event?.connector, context.services.defaultRegion),
  );
}
