import type { Logger } from 'pino';
import { backfill as runBackfill, type PullResult } from '../operations/events.js';
import type { Crmflow } from '../runtime.js';
import { parseDuration } from '../workflows/duration.js';
import { cliActor } from './actor.js';

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

export function parseSince(value: string | undefined, now: number): Date {
  if (value === undefined) return new Date(now - parseDuration('30d')!);
  const duration = parseDuration(value);
  if (duration !== undefined) return new Date(now - duration);
  const date = Date.parse(value);
  if (Number.isNaN(date))
    throw new Error(`--since must be a duration (30d, 12h) or a date (2026-01-31), got "${value}"`);
  return new Date(date);
}

const BAR_WIDTH = 24;

/**
 * One progress line. Pulls run in time order, so the share of the period covered (since → now, by the newest record
 * seen) is the progress, and the rate so far gives the ETA.
 */
export function progressLine(
  progress: PullResult & { newestOccurredAt?: Date },
  since: Date,
  startedAt: number,
  now: number,
): string {
  const span = now - since.getTime();
  const covered = progress.newestOccurredAt
    ? Math.min(1, Math.max(0, (progress.newestOccurredAt.getTime() - since.getTime()) / span))
    : 0;
  const elapsed = Math.max(0.001, (now - startedAt) / 1000);
  const rate = progress.received / elapsed;
  const eta =
    covered > 0 && covered < 1 ? `${Math.ceil((elapsed * (1 - covered)) / covered)}s` : covered >= 1 ? '0s' : '?';
  const filled = Math.round(covered * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.round(covered * 100)}% · ${progress.pages} pages · ${progress.received} records (${progress.stored} new) · ${rate.toFixed(1)}/s · ETA ${eta}`;
}

/**
 * `crmflow backfill`: pulls a resource from `since` to now into the inbox with a progress bar; workers process the
 * events as they arrive (see the `backfill` operation).
 */
export async function backfill(app: Pick<Crmflow, 'operations'>, options: BackfillOptions): Promise<PullResult> {
  const now = options.now ?? Date.now;
  const since = parseSince(options.since, now());
  const startedAt = now();
  const tty = Boolean(options.out.isTTY);
  const result = await runBackfill({ ...app.operations, logger: options.logger }, cliActor(), {
    connector: options.connector,
    resource: options.resource,
    since,
    pageSize: options.pageSize,
    onPage: (progress) =>
      options.out.write(`${tty ? '\r' : ''}${progressLine(progress, since, startedAt, now())}${tty ? '' : '\n'}`),
  });
  options.out.write(
    `${tty ? '\n' : ''}backfill of ${options.connector} ${options.resource} since ${since.toISOString()}: ${result.received} records in ${result.pages} pages, ${result.stored} new, queued for the workers\n`,
  );
  return result;
}
