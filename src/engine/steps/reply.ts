import { normalizeEmail } from '../../customers/normalize.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import { defineStep, StepError } from './define-step.js';

interface ReplyConfig {
  channel: 'email';
  to?: string;
  subject: string;
  body: string;
}

interface CompiledReply {
  to?: CompiledTemplate;
  subject: CompiledTemplate;
  body: CompiledTemplate;
}

export default defineStep<ReplyConfig, CompiledReply>({
  type: 'reply',
  summary:
    "Sends the customer an automatic reply, recorded before it is sent and sent at most once per run even when the step is retried. Email goes through SMTP_URL (or the demo outbox).",
  schema: {
    type: 'object',
    properties: {
      channel: { enum: ['email'], description: 'Delivery channel.' },
      to: { type: 'string', description: "Recipient template; default the email of this event's record, else the customer's first email." },
      subject: { type: 'string', description: 'Template with {{ expression }} placeholders.' },
      body: { type: 'string', description: 'Template with {{ expression }} placeholders.' },
    },
    required: ['channel', 'subject', 'body'],
    additionalProperties: false,
  },
  examples: [{ channel: 'email', subject: 'Thanks, {{ $customer.first_name }}!', body: 'We received your order {{ name }}.' }],
  compile: (config, context) => ({
    to: config.to === undefined ? undefined : context.template('to', config.to),
    subject: context.template('subject', config.subject),
    body: context.template('body', config.body),
  }),
  run: async (compiled, context) => {
    const customer = context.state.customer;
    const to = compiled.to ? await compiled.to.render(context.payload, context.bindings) : (eventEmail(context.state.record) ?? customer?.email ?? '');
    if (to.trim() === '') return { output: { status: 'skipped', reason: 'no email address for the customer' } };
    const [subject, text] = await Promise.all([
      compiled.subject.render(context.payload, context.bindings),
      compiled.body.render(context.payload, context.bindings),
    ]);
    const result = await context.services.sendEmail({
      idempotencyKey: context.idempotencyKey,
      customerId: customer?.id ?? null,
      runId: context.runId,
      to: to.trim(),
      subject,
      text,
    });
    if (result.status === 'failed') throw new StepError(`email to ${to} failed: ${result.reason}`, true);
    return { output: { message_id: result.messageId, status: result.status, ...(result.reason ? { reason: result.reason } : {}) } };
  },
});

/** The address the customer used for this event: answering there is what they expect. */
function eventEmail(record: Record<string, unknown> | undefined): string | undefined {
  const emails = [record?.email].flat().filter((value): value is string => typeof value === 'string');
  return emails.map(normalizeEmail).find((email) => email !== undefined);
}
