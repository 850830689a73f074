import { listAudit as listStoredAudit, recordAudit, type AuditRow } from '../store/audit.js';
import type { OperationContext } from './context.js';

export { AUDIT_ACTIONS, type AuditRow } from '../store/audit.js';

/** Newest first; `before` is an id (keyset pagination). */
export async function listAudit(ctx: OperationContext, query: { before?: number; limit: number }): Promise<AuditRow[]> {
  return listStoredAudit(ctx.pool, query);
}

/**
 * A dashboard sign-in, failed sign-in or sign-out. Not an operation on data (there is no actor yet for a failed
 * one): the session entrance records it here so it has no store access of its own.
 */
export async function recordSession(
  ctx: Pick<OperationContext, 'pool'>,
  entry: {
    action: 'login' | 'login_failed' | 'logout';
    actor: string;
    role: string | null;
    ip: string | null;
    with?: 'token' | 'password';
    /** Failed sign-ins of this name and address in the throttle's window, when one entry stands for several. */
    failuresInWindow?: number;
  },
): Promise<void> {
  const details = {
    ...(entry.with ? { with: entry.with } : {}),
    ...(entry.failuresInWindow && entry.failuresInWindow > 1 ? { failures_in_window: entry.failuresInWindow } : {}),
  };
  await recordAudit(ctx.pool, {
    actor: entry.actor,
    role: entry.role,
    action: entry.action,
    ip: entry.ip,
    ...(Object.keys(details).length > 0 ? { details } : {}),
  });
}
