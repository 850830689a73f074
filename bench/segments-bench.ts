import pino from 'pino';
import { createCustomerRefresher } from '../src/engine/customer-refresh.js';
import { backfillSegments, sweepSegments } from '../src/engine/segment-sweep.js';
import type { Crmflow } from '../src/runtime.js';
import { BUILTIN_TRAITS, compileAudienceConfig } from '../src/workflows/segments.js';
import type { LoadedConfig } from '../src/workflows/load.js';

/** Issue #15: a new segment is computed over 100,000 customers in under a minute. */
export const BACKFILL_TARGET_S = 60;
/** Issue #15: the segments page and the first page of a segment's members. */
export const SEGMENT_PAGE_TARGET_MS = 100;

/** Added to the example's segments for the second backfill: the start-up after an admin declares one more. */
const NEW_SEGMENT = { id: 'multichannel', when: '$count($customer.traits.channels) >= 2' };

export interface BackfillTiming {
  name: string;
  customers: number;
  seconds: number;
  perSecond: number;
  pass: boolean;
}

/**
 * Times the start-up backfill as crmflow runs it (backfillSegments, its concurrency and page size) on the seeded
 * database: first every example segment (seeded customers have no traits or memberships yet, as on the first start
 * with segments: every customer's traits from their rows, every segment), then one segment more (that segment alone,
 * over the stored traits). Backfills are silent, so there are no events to queue. On a database an earlier run
 * backfilled, the first is already done.
 */
export async function timeSegmentBackfills(app: Crmflow): Promise<BackfillTiming[]> {
  const { rows } = await app.pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM customers WHERE merged_into IS NULL AND erased_at IS NULL',
  );
  const withNewSegment = compileAudienceConfig(
    {
      segments: [...app.config.segments.map((segment) => ({ id: segment.id, when: segment.when.source })), NEW_SEGMENT],
    },
    BUILTIN_TRAITS,
    (path, message) => {
      throw new Error(`${path.join('.')}: ${message}`);
    },
  );
  const configs: Array<{ name: string; config: LoadedConfig }> = [
    { name: `first start: ${app.config.segments.map((segment) => segment.id).join(', ')}`, config: app.config },
    {
      name: `one new segment (${NEW_SEGMENT.id})`,
      config: { ...app.config, segments: [...app.config.segments, withNewSegment.segments.at(-1)!] },
    },
  ];
  const timings: BackfillTiming[] = [];
  for (const { name, config } of configs) {
    process.stdout.write(`segment backfill, ${name}: ${rows[0]!.n.toLocaleString('en')} customers…\n`);
    const logger = pino({ level: 'silent' });
    const refresher = createCustomerRefresher({ pool: app.pool, config, now: () => new Date(), logger });
    const start = performance.now();
    await backfillSegments({
      pool: app.pool,
      config,
      refresher,
      publish: async () => {},
      now: () => new Date(),
      logger,
    });
    const seconds = Math.round((performance.now() - start) / 100) / 10;
    timings.push({
      name,
      customers: rows[0]!.n,
      seconds,
      perSecond: Math.round(rows[0]!.n / seconds),
      pass: seconds < BACKFILL_TARGET_S,
    });
  }
  return timings;
}

/**
 * The minute's sweep as it scales: with `due` customers due for a re-check (as when that many time-based conditions
 * flip in the same minute), then with none due. No target: reported next to the backfill.
 */
export async function timeSweeps(app: Crmflow, due: number): Promise<Array<{ due: number; ms: number }>> {
  await app.pool.query(
    `UPDATE customers SET segments_recheck_at = '-infinity'
     WHERE id IN (SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id LIMIT $1)`,
    [due],
  );
  const logger = pino({ level: 'silent' });
  const refresher = createCustomerRefresher({ pool: app.pool, config: app.config, now: () => new Date(), logger });
  const timings: Array<{ due: number; ms: number }> = [];
  for (let pass = 0; pass < 2; pass++) {
    const start = performance.now();
    const checked = await sweepSegments({
      pool: app.pool,
      config: app.config,
      refresher,
      publish: async () => {},
      now: () => new Date(),
      logger,
    });
    timings.push({ due: checked, ms: Math.round(performance.now() - start) });
  }
  return timings;
}

/** The segments page and the first members page of the largest segment the app declares, for the timed pages. */
export async function segmentPages(
  app: Crmflow,
): Promise<Array<{ name: string; path: string; shows: string; targetMs: number }>> {
  const { rows } = await app.pool.query<{ segment_id: string; n: number }>(
    `SELECT segment_id, count(*)::int AS n FROM segment_memberships WHERE exited_at IS NULL AND segment_id = ANY($1::text[])
     GROUP BY segment_id ORDER BY n DESC LIMIT 1`,
    [app.config.segments.map((segment) => segment.id)],
  );
  const largest = rows[0];
  if (!largest) throw new Error('the backfill left every segment empty: nothing to time');
  return [
    { name: 'segments', path: '/segments', shows: `/segments/${largest.segment_id}`, targetMs: SEGMENT_PAGE_TARGET_MS },
    {
      name: `segment members (${largest.n.toLocaleString('en')})`,
      path: `/segments/${largest.segment_id}`,
      shows: 'href="/customers/',
      targetMs: SEGMENT_PAGE_TARGET_MS,
    },
  ];
}

/** The backfill and sweep timings as a Markdown paragraph, after the pages' table. */
export function backfillMarkdown(timings: BackfillTiming[], sweeps: Array<{ due: number; ms: number }>): string {
  if (timings.length === 0) return '';
  const lines = timings.map(
    (timing) =>
      `- ${timing.name}: ${timing.customers.toLocaleString('en')} customers in ${timing.seconds} s (${timing.perSecond.toLocaleString('en')}/s) · ${timing.pass ? 'PASS' : 'FAIL'} (${BACKFILL_TARGET_S} s)`,
  );
  const sweepLines = sweeps.map(
    (sweep) => `- sweep with ${sweep.due.toLocaleString('en')} customers due: ${sweep.ms} ms`,
  );
  return `\n**Segment backfill** at start-up (backfillSegments: 250 customers per transaction, two transactions at once), then the sweep:\n\n${[...lines, ...sweepLines].join('\n')}\n`;
}
