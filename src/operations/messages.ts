import {
  getMessage,
  listMessages as listStoredMessages,
  MESSAGE_STATUSES,
  type MessageRow,
  type MessageStatus,
} from '../store/messages.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export { MESSAGE_STATUSES, OUTBOX, type MessageRow, type MessageStatus } from '../store/messages.js';

export interface MessageQuery {
  /** A message status; anything else is refused. */
  status?: string;
  customerId?: number;
  before?: number;
  limit: number;
}

export async function listMessages(ctx: OperationContext, query: MessageQuery): Promise<MessageRow[]> {
  if (query.status !== undefined && !(MESSAGE_STATUSES as readonly string[]).includes(query.status))
    throw new InvalidInputError(`status must be one of ${MESSAGE_STATUSES.join(', ')}`);
  return listStoredMessages(ctx.pool, { ...query, status: query.status as MessageStatus | undefined });
}

export async function findMessage(ctx: OperationContext, messageId: number): Promise<MessageRow | undefined> {
  return getMessage(ctx.pool, messageId);
}

/**
 * Sends an `uncertain` message again: a person decided it did not arrive. Audited before the send, so the decision
 * stands even if this process dies while sending; a second resend of the same message is refused.
 */
export async function resendMessage(
  ctx: OperationContext,
  actor: Actor,
  input: { messageId: number },
): Promise<{ messageId: number; status: string; reason?: string }> {
  requireRole(actor, 'support');
  const id = input.messageId;
  const message = await getMessage(ctx.pool, id);
  if (!message) throw new NotFoundError(`no message ${id}`);
  if (message.status !== 'uncertain')
    throw new ConflictError(
      `message ${id} is ${message.status}; only uncertain messages are resent (failed ones are retried with their run)`,
      'not_uncertain',
    );
  if (!ctx.resendMessage) throw new ConflictError('this process does not send messages', 'not_uncertain');
  await audit(ctx, actor, 'message.resend', `message:${id}`, { channel: message.channel });
  const result = await ctx.resendMessage(id);
  if (result.status === 'not_uncertain')
    throw new ConflictError(`message ${id} is no longer uncertain (resent by someone else)`, 'not_uncertain');
  return { messageId: id, status: result.status, ...(result.reason ? { reason: result.reason } : {}) };
}
