import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectorContext } from '../connectors/define-connector.js';
import type { CaseServices } from '../engine/case-services.js';
import type { JobData } from '../engine/queues.js';
import { recordAudit, type AuditAction } from '../store/audit.js';
import type { Pool } from '../store/pool.js';
import type { LoadedConfig } from '../workflows/load.js';
import { ForbiddenError } from './errors.js';

/** Who acts: a dashboard user, the API token (`api-token`, admin) or a CLI user (`cli:<os user>`, admin). */
export interface Actor {
  name: string;
  role: 'viewer' | 'support' | 'admin';
  /** Client address for the audit log; null from the CLI. */
  ip: string | null;
  /** Which entrance the action came through; recorded in the audit entry's details. */
  via: 'api' | 'dashboard' | 'cli';
}

/** What every operation may use. Entrances build it once at start-up and pass it with the actor of each call. */
export interface OperationContext {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  defaultRegion: string;
  /** The clock; tests inject other dates. */
  now?: () => Date;
  /** Sends an `uncertain` message again (see `createOutbound`); absent in processes that do not send (then resend is refused). */
  resendMessage?: (messageId: number) => Promise<{ status: string; reason?: string }>;
  /** The context a connector's pull resources receive (backfill); absent where no connector is called. */
  connectorContext?: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Cases' clocks, replies and rating links (src/engine/case-services.ts); absent: the case operations refuse. */
  cases?: CaseServices;
}

export type { Pool };

/** The operation's clock. */
export function nowOf(ctx: OperationContext): Date {
  return ctx.now?.() ?? new Date();
}

const RANK: Record<Actor['role'], number> = { viewer: 0, support: 1, admin: 2 };

/** Refuses an actor below `role` (the dashboard checks roles too; operations check again so no entrance can forget). */
export function requireRole(actor: Actor, role: Actor['role']): void {
  if (RANK[actor.role] < RANK[role]) throw new ForbiddenError(`${role} role required`);
}

/** One audit entry for an operation, with the entrance it came through. */
export async function audit(
  ctx: OperationContext,
  actor: Actor,
  action: AuditAction,
  target: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await recordAudit(ctx.pool, {
    actor: actor.name,
    role: actor.role,
    ip: actor.ip,
    action,
    target,
    details: { ...details, via: actor.via },
  });
}
