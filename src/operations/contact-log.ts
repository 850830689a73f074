import { randomUUID } from 'node:crypto';
import { audit, type Actor } from './context.js';
import { InvalidInputError, NotFoundError } from './errors.js';
import { actingAgent, requiredText, type ContactContext } from './person-contact.js';

export interface ContactLogInput {
  customerId: number;
  /** `call`: a call the agent made or took outside Twilio (a contact, like any call by a person); `note`: not a contact. */
  kind: unknown;
  text: unknown;
  /** When it happened (ISO 8601); default now. Not in the future. */
  occurredAt?: unknown;
  /** Call length in seconds. */
  durationSeconds?: unknown;
  agentId?: unknown;
}

/**
 * A support user logs a call or a note by hand on the customer's timeline, as the agent they are. A call is
 * `call.completed` with the agent: a contact by a person (it meets an SLA, starts `call.completed` workflows).
 */
export async function logContact(
  ctx: ContactContext,
  actor: Actor,
  input: ContactLogInput,
): Promise<{ timeline_event_id: number; type: string; agent_id: string }> {
  const agent = actingAgent(ctx, actor, input.agentId);
  if (input.kind !== 'call' && input.kind !== 'note') throw new InvalidInputError('kind must be call or note');
  const text = requiredText(input.text, 'text', 4000);
  const now = ctx.now?.() ?? new Date();
  const occurredAt =
    input.occurredAt === undefined || input.occurredAt === '' ? now : new Date(String(input.occurredAt));
  if (Number.isNaN(occurredAt.getTime())) throw new InvalidInputError('occurred_at is not a date (ISO 8601)');
  if (occurredAt.getTime() > now.getTime() + 60_000) throw new InvalidInputError('occurred_at is in the future');
  const duration =
    input.durationSeconds === undefined || input.durationSeconds === '' ? null : Number(input.durationSeconds);
  if (duration !== null && (!Number.isInteger(duration) || duration < 0 || duration > 86_400))
    throw new InvalidInputError('duration_seconds must be a whole number of seconds up to a day');
  const customer = await ctx.contacts.loadCustomer(input.customerId).catch(() => undefined);
  if (!customer) throw new NotFoundError(`no customer ${input.customerId}`);
  const type = input.kind === 'call' ? 'call.completed' : 'note.added';
  const entry = await ctx.contacts.upsertTimeline({
    customerId: customer.id,
    source: 'crmflow',
    externalId: `${input.kind}/${randomUUID()}`,
    type,
    occurredAt,
    summary: `${input.kind === 'call' ? 'Call' : 'Note'} by ${agent.name}${duration !== null ? `, ${duration} s` : ''}: ${text.slice(0, 140)}`,
    data: { agent_id: agent.id, logged_by: actor.name, text, ...(duration !== null ? { duration } : {}) },
  });
  await audit(ctx, actor, 'customer.contact_logged', `customer:${customer.id}`, {
    kind: input.kind,
    agent_id: agent.id,
    timeline_event_id: entry.id,
  });
  return { timeline_event_id: entry.id, type, agent_id: agent.id };
}
