import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pool } from '../store/pool.js';
import { BUILTIN_TRAITS_SQL } from '../store/traits.js';
import {
  customerIdsAfter,
  dueForRecheck,
  markBackfilled,
  postponeRecheck,
  retireSegments,
  storedDefinitions,
} from '../store/segments.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { CustomerRefresher, RefreshOptions } from './customer-refresh.js';

/**
 * Customers evaluated in one transaction (backfill and sweep): one statement reads them, one stores their traits and
 * one per direction their stays, so statements and commits per customer no longer dominate; small enough that an event
 * for one of them waits for the lock only briefly.
 */
const BATCH = 250;
/** Batches at once (each its own transaction): the database and the expression work overlap; runs keep their connections. */
const CONCURRENCY = 2;

export interface SegmentUpkeepOptions {
  pool: Pool;
  config: LoadedConfig;
  refresher: CustomerRefresher;
  /** Queues the engine events a refresh wrote. */
  publish: (eventIds: number[]) => Promise<void>;
  now: () => Date;
  logger: Logger;
  /** Customers read per page. Default 1,000. */
  batchSize?: number;
}

/**
 * Refreshes `ids` BATCH at a time, CONCURRENCY batches at once, and queues their events. A batch that fails is done
 * again one customer at a time, so one customer that cannot be evaluated does not hold up the others; `failed` is told
 * about each that fails on its own too.
 */
async function refreshInBatches(
  options: SegmentUpkeepOptions,
  ids: number[],
  refresh: RefreshOptions,
  failed: (customerId: number, error: unknown) => Promise<void>,
): Promise<void> {
  const evaluate = async (batch: number[]) => {
    try {
      await options.publish(await options.refresher.refreshMany(batch, refresh));
    } catch (error) {
      options.logger.warn({ err: error, cause: refresh.cause }, 'could not evaluate a batch of customers; one by one');
      for (const id of batch) {
        try {
          await options.publish((await options.refresher.refreshNow(id, refresh)).events);
        } catch (error) {
          await failed(id, error);
        }
      }
    }
  };
  const batches: number[][] = [];
  for (let i = 0; i < ids.length; i += BATCH) batches.push(ids.slice(i, i + BATCH));
  for (let i = 0; i < batches.length; i += CONCURRENCY)
    await Promise.all(batches.slice(i, i + CONCURRENCY).map(evaluate));
}

/**
 * Re-evaluates the customers whose time-based segment conditions are due (`segments_recheck_at` has passed), soonest
 * first, in batches; each gets its next re-check time. Only those customers are read (a partial index), so a pass
 * costs what changes, not the size of the customer base. Returns how many were re-evaluated.
 */
export async function sweepSegments(options: SegmentUpkeepOptions): Promise<number> {
  const page = options.batchSize ?? 1000;
  let checked = 0;
  for (;;) {
    const ids = await dueForRecheck(options.pool, options.now(), page);
    await refreshInBatches(options, ids, { cause: 'sweep', redoable: true }, async (id, error) => {
      options.logger.warn(
        { customer_id: id, err: error },
        'segment sweep could not re-evaluate a customer; retried in an hour',
      );
      await postponeRecheck(options.pool, id, new Date(options.now().getTime() + 3_600_000));
    });
    checked += ids.length;
    if (ids.length < page) return checked;
  }
}

/**
 * The definition of every customer's traits: the built-in statement and the declared expressions. While it is the one
 * the stored segments were backfilled with, every change has kept the customers' stored traits current.
 */
export function traitsVersion(config: LoadedConfig): string {
  return createHash('sha256')
    .update(JSON.stringify([BUILTIN_TRAITS_SQL, config.traits.map((trait) => [trait.name, trait.value.source])]))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Computes new and edited segments (their definition version differs from the stored one) over every live customer,
 * page by page with progress in the log, a batch of customers per transaction. While the traits' definition is the
 * one the stored segments were backfilled with (and no declared trait reads the clock), only those segments are
 * evaluated, over the stored traits; otherwise (the first backfill, a changed trait) every customer's traits are
 * recomputed and every segment evaluated. Their
 * changes are recorded without segment.entered unless the segment says `on_backfill: emit`; stays in segments no longer
 * declared are closed. One process at a time (an advisory lock); a crash before the end leaves the version unmarked,
 * so the next start-up does it again (evaluations are idempotent; the durable commit that marks it also flushes the
 * batches' relaxed commits).
 */
export async function backfillSegments(options: SegmentUpkeepOptions, signal?: AbortSignal): Promise<void> {
  const { pool, config, logger } = options;
  const retired = await retireSegments(
    pool,
    config.segments.map((segment) => segment.id),
    options.now(),
  );
  if (retired > 0) logger.info({ memberships: retired }, 'segments no longer declared: memberships closed');
  const stored = await storedDefinitions(pool);
  const traits = traitsVersion(config);
  // A declared trait that reads the clock may have moved since it was stored: then everything is recomputed.
  const traitsCurrent =
    !config.traits.some((trait) => trait.timeBased) &&
    [...stored.values()].some((definition) => definition.backfilledAt !== null && definition.traitsVersion === traits);
  const stale = config.segments.filter(
    (segment) =>
      !traitsCurrent || !stored.get(segment.id)?.backfilledAt || stored.get(segment.id)?.version !== segment.version,
  );
  if (stale.length === 0) return;
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      "SELECT pg_try_advisory_lock(hashtextextended('crmflow:segment-backfill', 0)) AS locked",
    );
    if (!rows[0]!.locked) return logger.info('segment backfill already running in another process');
    try {
      const ids = stale.map((segment) => segment.id);
      const refresh: RefreshOptions = {
        cause: 'backfill',
        silent: new Set(stale.filter((segment) => !segment.emitOnBackfill).map((segment) => segment.id)),
        redoable: true,
        only: traitsCurrent ? stale : undefined,
      };
      const { rows: total } = await pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM customers WHERE merged_into IS NULL AND erased_at IS NULL',
      );
      logger.info(
        { segments: ids, customers: total[0]!.n, traits: traitsCurrent ? 'stored' : 'recomputed' },
        'segment backfill started',
      );
      let done = 0;
      for (let afterId = 0; ;) {
        if (signal?.aborted)
          return logger.info({ segments: ids, done }, 'segment backfill stopped; resumes at the next start-up');
        const page = await customerIdsAfter(pool, afterId, options.batchSize ?? 1000);
        if (page.length === 0) break;
        // Evaluated again at their next change; the rest of the backfill goes on.
        await refreshInBatches(options, page, refresh, async (id, error) =>
          logger.warn({ customer_id: id, err: error }, 'segment backfill could not evaluate a customer'),
        );
        done += page.length;
        afterId = page.at(-1)!;
        logger.info({ segments: ids, done, total: total[0]!.n }, 'segment backfill progress');
      }
      await markBackfilled(
        pool,
        ids,
        stale.map((segment) => segment.version),
        traits,
      );
      logger.info({ segments: ids, customers: done }, 'segment backfill finished');
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtextextended('crmflow:segment-backfill', 0))");
    }
  } finally {
    client.release();
  }
}

/**
 * The sweep every `intervalMs` (default 1 min) and the start-up backfill.
 * Sweeps of several processes may meet on a customer: the customer's row lock puts them one after the other, and the
 * second finds nothing to change.
 */
export function startSegmentUpkeep(options: SegmentUpkeepOptions & { intervalMs?: number }): {
  stop: () => void;
  sweep: () => Promise<number>;
  backfill: Promise<void>;
} {
  const abort = new AbortController();
  const backfill = backfillSegments(options, abort.signal).catch((error: unknown) =>
    options.logger.error({ err: error }, 'segment backfill failed; retried at the next start-up'),
  );
  let running = false;
  const sweep = async () => {
    if (running) return 0;
    running = true;
    try {
      return await sweepSegments(options);
    } finally {
      running = false;
    }
  };
  const intervalMs = options.intervalMs ?? 60_000;
  // Also without time-based segments: customers changed by hand (merges, unmerges, tasks) are marked for the sweep.
  const timer =
    intervalMs > 0
      ? setInterval(
          () =>
            void sweep().catch((error: unknown) =>
              options.logger.warn({ err: error }, 'segment sweep failed (will retry)'),
            ),
          intervalMs,
        )
      : undefined;
  timer?.unref();
  return {
    stop: () => {
      abort.abort();
      if (timer) clearInterval(timer);
    },
    sweep,
    backfill: backfill.then(() => undefined),
  };
}
