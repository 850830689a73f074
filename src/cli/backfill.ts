import { userInfo } from 'node:os';
import { recordAudit } from '../store/audit.js';
import { runPull, type PullResult } from '../engine/pull.js';
import type { Crmflow } from '../runtime.js';
import { parseDuration } from '../workflows/duration.js';
import { withTransaction } from '../store/pool.js';
import type { Logger } from 'pino';

export interface BackfillOptions {
  connector: string;
  resource: string;
  /** `30d`, `12h`, or an ISO date. Default 30 days back. */
  since?: string;
  pageSize?: number;
  /** Where progress goes; a terminal gets one redrawn bar, anything else a line per page. */
  out: NodeJS.WritableStream & { isTTY?: boolean };
  logger: Logger;
  now?: () => number;
}

/** Who ran a command, for the audit log: the operating-system user. */
export function cliActor(): string {
  return `cli:${userInfo().username}`;
}

export function parseSince(value: string | undefined, now: number): Date {
  if (value === undefined) return new Date(now - parseDuration('30d')!);
  const duration = parseDuration(value);
  if (duration !== undefined) return new Date(now - duration);
  const date = Date.parse(value);
  if (Number.isNaN(date)) throw new Error(`--since must be a duration (30d, 12h) or a date (2026-01-31), got "${value}"`);
  return new Date(date);
}

const BAR_WIDTH = 24;

/**
 * One progress line. Pulls run in time order, so the share of the period covered (since → now, by the newest record
 * seen) is the progress, and the rate so far gives the ETA.
 */
export function progressLine(progress: PullResult & { newestOccurredAt?: Date }, since: Date, startedAt: number, now: number): string {
  const span = now - since.getTime();
  const covered = progress.newestOccurredAt ? Math.min(1, Math.max(0, (progress.newestOccurredAt.getTime() - since.getTime()) / span)) : 0;
  const elapsed = Math.max(0.001, (now - startedAt) / 1000);
  const rate = progress.received / elapsed;
  const eta = covered > 0 && covered < 1 ? `${Math.ceil((elapsed * (1 - covered)) / covered)}s` : covered >= 1 ? '0s' : '?';
  const filled = Math.round(covered * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.round(covered * 100)}% · ${progress.pages} pages · ${progress.received} records (${progress.stored} new) · ${rate.toFixed(1)}/s · ETA ${eta}`;
}

/**
 * `crmflow backfill`: pulls a resource from `since` to now into the inbox with a progress bar; workers process the
 * events as they arrive. Uses its own cursor, so a poll trigger on the same resource is not moved.
 */
export async function backfill(app: Crmflow, options: BackfillOptions): Promise<PullResult> {
  const now = options.now ?? Date.now;
  const configured = app.config.connectors.get(options.connector);
  if (!configured) throw new Error(`connector "${options.connector}" is not configured in the workflows file`);
  const resources = Object.keys(configured.definition.pull ?? {});
  if (!resources.includes(options.resource)) throw new Error(`connector ${options.connector} has no pull resource "${options.resource}"; known: ${resources.join(', ') || '(none)'}`);
  const since = parseSince(options.since, now());
  const cursorKey = `${options.resource}@backfill`;
  await withTransaction(app.pool, (client) => client.query('DELETE FROM connector_cursors WHERE connector = $1 AND resource = $2', [options.connector, cursorKey]));
  await recordAudit(app.pool, { actor: cliActor(), role: 'admin', action: 'events.backfill', target: `connector:${options.connector}`, details: { resource: options.resource, since: since.toISOString() } });
  const startedAt = now();
  const tty = Boolean(options.out.isTTY);
  const result = await runPull(
    {
      connector: configured.definition,
      resource: options.resource,
      cursorKey,
      since,
      pageSize: options.pageSize ?? 100,
      onPage: (progress) => options.out.write(`${tty ? '\r' : ''}${progressLine(progress, since, startedAt, now())}${tty ? '' : '\n'}`),
    },
    app.connectorContext(options.connector, AbortSignal.timeout(24 * 3600_000)),
    { pool: app.pool, queue: app.queue, logger: options.logger },
  );
  if (!result.ran) throw new Error(`another backfill of ${options.connector} ${options.resource} is running`);
  options.out.write(`${tty ? '\n' : ''}backfill of ${options.connector} ${options.resource} since ${since.toISOString()}: ${result.received} records in ${result.pages} pages, ${result.stored} new, queued for the workers\n`);
  return result;
}
