import { randomUUID } from 'node:crypto';
import { audit, type Actor } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';
import { actingAgent, requiredText, type ContactContext } from './person-contact.js';

export const REPLY_CHANNELS = ['email', 'sms', 'whatsapp', 'messenger', 'instagram'] as const;
export type ReplyChannel = (typeof REPLY_CHANNELS)[number];

/** How far back the customer's last message on a channel is looked for (Meta's window is 24 hours; a week is ample). */
const LAST_MESSAGE_WINDOW_MS = 7 * 86_400_000;

export interface AgentReplyInput {
  customerId: number;
  channel: unknown;
  text: unknown;
  /** Email only; default `Message from <agent name>`. */
  subject?: unknown;
  /** Who sends, when the actor is not an agent (the API token). */
  agentId?: unknown;
  /** The same key sends once (a double-clicked button, a retried API call); default: a new message every time. */
  idempotencyKey?: unknown;
}

export interface AgentReplyResult {
  message_id: number;
  status: 'sent' | 'uncertain';
  agent_id: string;
  channel: ReplyChannel;
  timeline_event_id: number;
}

/**
 * A support user answers a customer from crmflow, as themselves. The message takes the outbound path of workflow
 * replies (consent, Meta's 24-hour window, recorded before it is sent, `uncertain` when the vendor may have acted) with
 * the agent on its record, then goes on the customer's timeline as `message.sent` by that agent: a contact by a person,
 * which meets an SLA and starts `message.sent` workflows. A reply the rules stop, or the vendor refuses, is a conflict
 * with the reason (the attempt stays recorded).
 */
export async function agentReply(ctx: ContactContext, actor: Actor, input: AgentReplyInput): Promise<AgentReplyResult> {
  const agent = actingAgent(ctx, actor, input.agentId);
  if (!REPLY_CHANNELS.includes(input.channel as ReplyChannel))
    throw new InvalidInputError(`channel must be one of ${REPLY_CHANNELS.join(', ')}`);
  const channel = input.channel as ReplyChannel;
  const text = requiredText(input.text, 'text', 4000);
  const key =
    input.idempotencyKey === undefined || input.idempotencyKey === ''
      ? randomUUID()
      : requiredText(input.idempotencyKey, 'idempotency key', 200);
  const customer = await ctx.contacts.loadCustomer(input.customerId).catch(() => undefined);
  if (!customer) throw new NotFoundError(`no customer ${input.customerId}`);
  const idempotencyKey = `agent:${agent.id}:${key}`;
  let subject: string | undefined;
  let result: { status: string; messageId?: number; reason?: string };
  if (channel === 'email') {
    if (!customer.email) throw new InvalidInputError('the customer has no email address', 'no_address');
    subject =
      input.subject === undefined || input.subject === ''
        ? `Message from ${agent.name}`
        : requiredText(input.subject, 'subject', 200);
    result = await ctx.contacts.sendEmail({
      idempotencyKey,
      customerId: customer.id,
      runId: null,
      to: customer.email,
      subject,
      text,
      agentId: agent.id,
    });
  } else {
    // Answered as a reply to the customer's last message on the channel (its timeline entry): WhatsApp then goes out
    // from the business number they wrote to.
    const recent = await ctx.contacts.timelineSince(
      customer.id,
      new Date((ctx.now?.() ?? new Date()).getTime() - LAST_MESSAGE_WINDOW_MS),
    );
    const last = recent
      .filter(
        (entry) =>
          entry.type === 'message.received' && (entry.data as { channel?: unknown } | null)?.channel === channel,
      )
      .at(-1);
    const trigger = last ? { type: last.type, payload: last.data } : undefined;
    result = await ctx.contacts.sendMessage({
      channel,
      idempotencyKey,
      customerId: customer.id,
      runId: null,
      preferred: [],
      identities: customer.identities,
      text,
      trigger,
      agentId: agent.id,
    });
  }
  await audit(ctx, actor, 'customer.message', `customer:${customer.id}`, {
    channel,
    agent_id: agent.id,
    message_id: result.messageId ?? null,
    status: result.status,
  });
  if (result.messageId === undefined || (result.status !== 'sent' && result.status !== 'uncertain')) {
    throw new ConflictError(`not sent: ${result.reason ?? result.status}`, `message_${result.status}`);
  }
  const entry = await ctx.contacts.upsertTimeline({
    customerId: customer.id,
    source: 'crmflow',
    externalId: `message/${result.messageId}`,
    type: 'message.sent',
    occurredAt: ctx.now?.() ?? new Date(),
    summary: `${agent.name} on ${channel}: ${subject ? `${subject}: ` : ''}${text.slice(0, 140)}`,
    data: {
      channel,
      agent_id: agent.id,
      message_id: result.messageId,
      status: result.status,
      subject: subject ?? null,
      text,
    },
  });
  return {
    message_id: result.messageId,
    status: result.status,
    agent_id: agent.id,
    channel,
    timeline_event_id: entry.id,
  };
}
