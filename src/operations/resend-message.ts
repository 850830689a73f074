import { getMessage } from '../store/messages.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, NotFoundError } from './errors.js';

/** Sends an `uncertain` message again (`createOutbound(...).resend`): `not_uncertain` when someone else already did. */
export type ResendSender = (messageId: number) => Promise<{ status: string; reason?: string }>;

/**
 * Sends an uncertain reply again, once a person has checked it did not arrive (support role). Audited before the send:
 * the person's decision stands even if this process dies while sending. Failed replies are not resent here: they are
 * retried with their run.
 */
export async function resendMessage(ctx: OperationContext, actor: Actor, messageId: number, send: ResendSender): Promise<{ message_id: number; status: string; reason?: string }> {
  requireRole(actor, 'support');
  const message = await getMessage(ctx.pool, messageId);
  if (!message) throw new NotFoundError(`no message ${messageId}`);
  if (message.status !== 'uncertain') {
    throw new ConflictError(`message ${messageId} is ${message.status}; only uncertain messages are resent (failed ones are retried with their run)`, 'not_uncertain');
  }
  await audit(ctx, actor, 'message.resend', `message:${messageId}`, { channel: message.channel });
  const result = await send(messageId);
  if (result.status === 'not_uncertain') throw new ConflictError(`message ${messageId} is no longer uncertain (resent by someone else)`, 'not_uncertain');
  return { message_id: messageId, status: result.status, ...(result.reason ? { reason: result.reason } : {}) };
}
