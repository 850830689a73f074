import type { Pool, PoolClient } from './pool.js';

/** What a person did, as recorded in `audit_log` (append-only: the table refuses UPDATE and DELETE). */
export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'run.retry',
  'run.replay',
  'run.cancel',
  'runs.prune',
  'message.resend',
  'workflow.poll',
  'agent.availability',
  'agent.hand_over',
  'task.complete',
  'customer.consent',
  'events.replay',
  'events.backfill',
  'customer.unmerge',
  'customer.export',
  'customer.erase',
  'merge_suggestion.accept',
  'merge_suggestion.reject',
  'config.reload',
  'case.note',
  'case.reply',
  'case.status',
  'case.assign',
  'deal.stage',
  'customer.message',
  'customer.contact_logged',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEntry {
  /** Dashboard user name, `api-token` for bearer-token calls, or the name typed at a failed sign-in. */
  actor: string;
  /** The actor's role; null when unknown (a failed sign-in). */
  role: string | null;
  action: AuditAction;
  /** What was acted on, e.g. `run:12`, `workflow:shopify-backfill`, `agent:bob`. */
  target?: string | null;
  /** Small JSON facts about the action; never secrets. */
  details?: Record<string, unknown>;
  /** The client address as express sees it (`trust proxy` applies). */
  ip?: string | null;
}

export interface AuditRow extends Required<AuditEntry> {
  id: number;
  at: Date;
}

export async function recordAudit(pool: Pool | PoolClient, entry: AuditEntry): Promise<void> {
  await pool.query('INSERT INTO audit_log (actor, role, action, target, details, ip) VALUES ($1, $2, $3, $4, $5, $6)', [
    entry.actor.slice(0, 200),
    entry.role,
    entry.action,
    entry.target ?? null,
    JSON.stringify(entry.details ?? {}),
    entry.ip ?? null,
  ]);
}

/** Newest first; `before` is an id (keyset pagination). */
export async function listAudit(pool: Pool, options: { before?: number; limit: number }): Promise<AuditRow[]> {
  const { rows } = await pool.query<AuditRow>(
    `SELECT id, at, actor, role, action, target, details, ip FROM audit_log
      WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2`,
    [options.before ?? null, options.limit],
  );
  return rows;
}
