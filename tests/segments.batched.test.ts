import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCustomerRefresher } from '../src/engine/customer-refresh.js';
import { backfillSegments, sweepSegments } from '../src/engine/segment-sweep.js';
import {
  BUILTIN_TRAITS,
  compileAudienceConfig,
  type SegmentConfig,
  type TraitConfig,
} from '../src/workflows/segments.js';
import type { LoadedConfig } from '../src/workflows/load.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';

const DAY = 86_400_000;
const LAPSING: SegmentConfig = {
  id: 'lapsing',
  when: '$customer.traits.orders_count >= 2 and $daysSince($customer.traits.last_order_at) > 1.5 * $customer.traits.average_days_between_orders',
};

function audience(segments: SegmentConfig[], traits?: Record<string, TraitConfig>): LoadedConfig {
  const compiled = compileAudienceConfig({ segments, traits }, BUILTIN_TRAITS, (path, message) => {
    throw new Error(`${path.join('.')}: ${message}`);
  });
  // The upkeep and the refresher read only the audience part of the configuration.
  return compiled as unknown as LoadedConfig;
}

describe('segments: batched backfill and sweep', () => {
  let db: TestDatabase;
  let clock = new Date('2026-03-01T12:00:00Z');
  const published: number[] = [];
  const logger = pino({ level: 'silent' });

  const upkeep = (config: LoadedConfig, batchSize?: number) => ({
    pool: db.pool,
    config,
    refresher: createCustomerRefresher({ pool: db.pool, config, now: () => clock }),
    publish: async (ids: number[]) => void published.push(...ids),
    now: () => clock,
    logger,
    batchSize,
  });
  /** `n` customers, each with an order of `amount` EUR at each of `daysAgo`; their ids. */
  const customersWithOrders = async (n: number, daysAgo: number[], amount: number): Promise<number[]> => {
    const { rows } = await db.pool.query<{ id: number }>(
      'INSERT INTO customers SELECT FROM generate_series(1, $1) RETURNING id',
      [n],
    );
    const ids = rows.map((row) => row.id).sort((a, b) => a - b);
    await db.pool.query(
      `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, data, amount, currency)
       SELECT c, 'shopify', c || '-' || d, 'order.created', $3::timestamptz - d * interval '1 day',
              $3::timestamptz - d * interval '1 day', '{}', $4, 'EUR'
       FROM unnest($1::bigint[]) AS c, unnest($2::int[]) AS d`,
      [ids, daysAgo, clock, amount],
    );
    return ids;
  };
  const stays = async (segment: string) =>
    (
      await db.pool.query<{ id: number; customer_id: number; exited_at: Date | null; entered_by: string }>(
        'SELECT id, customer_id, exited_at, entered_by FROM segment_memberships WHERE segment_id = $1 ORDER BY id',
        [segment],
      )
    ).rows;
  const events = (type: string, segment: string) =>
    count(db.pool, `SELECT 1 FROM engine_events WHERE type = $1 AND data->>'segment' = $2`, [type, segment]);

  beforeEach(async () => {
    db = await createTestDatabase();
    published.length = 0;
  });
  afterEach(() => db?.drop());

  it('backfills a new segment alone over the stored traits, silently; a changed trait recomputes everything', async () => {
    // Customer i has i orders of 300 EUR: lifetime values 0, 300, 600, 900, 1,200.
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await customersWithOrders(1, [...Array(i).keys()], 300)));
    const vip: SegmentConfig = { id: 'vip', when: '$customer.traits.lifetime_value >= 900' };
    await backfillSegments(upkeep(audience([vip])));
    expect((await stays('vip')).map((stay) => stay.customer_id)).toEqual([ids[3], ids[4]]);
    const vipStays = await stays('vip');

    // The stored traits say customer 1 spent 5,000 (as if a change had not been evaluated yet): a new segment is
    // computed from them, and vip, not new, is not evaluated again (customer 1 stays out of it).
    await db.pool.query(`UPDATE customers SET traits = jsonb_set(traits, '{lifetime_value}', '5000') WHERE id = $1`, [
      ids[1],
    ]);
    // Customer 2 waits for the sweep (as after a merge by hand): it is evaluated all the same and stays marked.
    await db.pool.query(`UPDATE customers SET segments_recheck_at = '-infinity' WHERE id = $1`, [ids[2]]);
    const big: SegmentConfig = { id: 'big', when: '$customer.traits.lifetime_value >= 600' };
    await backfillSegments(upkeep(audience([vip, big]), 2));
    expect((await stays('big')).map((stay) => [stay.customer_id, stay.entered_by, stay.exited_at])).toEqual(
      [ids[1], ids[2], ids[3], ids[4]].map((id) => [id, 'backfill', null]),
    );
    expect(await stays('vip')).toEqual(vipStays);
    expect(await events('segment.entered', 'big')).toBe(0);
    const { rows: marked } = await db.pool.query('SELECT segments_recheck_at AS at FROM customers WHERE id = $1', [
      ids[2],
    ]);
    expect(marked[0].at).toBe(-Infinity);
    expect(await count(db.pool, 'SELECT 1 FROM engine_events')).toBe(0);

    // A declared trait changes what every segment means: traits are recomputed from the rows and every segment
    // evaluated, so customer 1 (300 EUR) leaves big, still silently.
    await backfillSegments(upkeep(audience([vip, big], { twice: '$customer.traits.lifetime_value * 2' })));
    const { rows } = await db.pool.query<{ traits: Record<string, unknown> }>(
      'SELECT traits FROM customers WHERE id = $1',
      [ids[1]],
    );
    expect(rows[0]!.traits).toMatchObject({ lifetime_value: 300, twice: 600 });
    expect((await stays('big')).filter((stay) => stay.exited_at !== null).map((stay) => stay.customer_id)).toEqual([
      ids[1],
    ]);
    expect(await stays('vip')).toEqual(vipStays);
    expect(await count(db.pool, 'SELECT 1 FROM engine_events')).toBe(0);
    expect(published).toEqual([]);
  }, 60_000);

  it("live changes during a new segment's backfill are neither lost nor doubled", async () => {
    // 600 customers with an order of 300 EUR; the new segment wants 500 or more.
    const ids = await customersWithOrders(600, [5], 300);
    const vip: SegmentConfig = { id: 'vip', when: '$customer.traits.lifetime_value >= 900' };
    await backfillSegments(upkeep(audience([vip])));
    const config = audience([vip, { id: 'big', when: '$customer.traits.lifetime_value >= 500' }]);
    // Every third customer ordered again (600 EUR), stored before the segment was declared.
    const buyers = ids.filter((_, i) => i % 3 === 0);
    const before = createCustomerRefresher({ pool: db.pool, config: audience([vip]), now: () => clock });
    for (const id of buyers) {
      await db.pool.query(
        `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, data, amount, currency)
         VALUES ($1, 'shopify', $3, 'order.created', $2, $2, '{}', 300, 'EUR')`,
        [id, clock, `${id}-again`],
      );
      await before.refreshNow(id, { cause: 'change' });
    }
    // While the backfill goes up the ids, changes to them come in from the other end, evaluated by the process's own
    // refresher (which knows the new segment): each enters once, by the backfill (no event) or by the change (one
    // event), whichever locks the customer first; the other finds them in already.
    const live = createCustomerRefresher({ pool: db.pool, config, now: () => clock });
    await Promise.all([
      backfillSegments(upkeep(config, 50)),
      (async () => {
        for (const id of [...buyers].reverse())
          published.push(...(await live.refreshNow(id, { cause: 'change' })).events);
      })(),
    ]);
    const big = (await stays('big')).sort((a, b) => a.customer_id - b.customer_id);
    expect(big.map((stay) => stay.customer_id)).toEqual(buyers);
    expect(big.every((stay) => stay.exited_at === null)).toBe(true);
    const byChange = big.filter((stay) => stay.entered_by === 'change').map((stay) => stay.customer_id);
    const { rows } = await db.pool.query<{ customer_id: number }>(
      `SELECT customer_id FROM engine_events WHERE type = 'segment.entered' AND data->>'segment' = 'big' ORDER BY customer_id`,
    );
    expect(rows.map((row) => row.customer_id)).toEqual(byChange);
    expect(published).toHaveLength(byChange.length);
  }, 120_000);

  it('the sweep enters exactly the due customers, each once, batch after batch', async () => {
    // Orders 10 days apart: soon lapses 5 days from now (15 days after its last order), later in 13 days, and
    // single (one order) never.
    const soon = await customersWithOrders(600, [20, 10], 50);
    const later = await customersWithOrders(300, [12, 2], 50);
    await customersWithOrders(100, [3], 50);
    const config = audience([LAPSING]);
    await backfillSegments(upkeep(config, 400));
    expect(await stays('lapsing')).toEqual([]);

    const enteredBy = async () =>
      (
        await db.pool.query<{ customer_id: number; n: number }>(
          `SELECT customer_id, count(*)::int AS n FROM engine_events WHERE type = 'segment.entered' GROUP BY customer_id
           ORDER BY customer_id`,
        )
      ).rows;
    expect(await sweepSegments(upkeep(config, 400))).toBe(0);
    clock = new Date(clock.getTime() + 6 * DAY);
    // Pages of 400, batches of 250: the 600 due customers, and none of the others.
    expect(await sweepSegments(upkeep(config, 400))).toBe(600);
    expect(await enteredBy()).toEqual(soon.map((id) => ({ customer_id: id, n: 1 })));
    expect(published).toHaveLength(600);
    expect(await sweepSegments(upkeep(config, 400))).toBe(0);

    clock = new Date(clock.getTime() + 8 * DAY);
    expect(await sweepSegments(upkeep(config, 400))).toBe(300);
    expect(await enteredBy()).toEqual([...soon, ...later].map((id) => ({ customer_id: id, n: 1 })));
    expect((await stays('lapsing')).map((stay) => stay.entered_by)).toEqual(Array(900).fill('sweep'));
    expect(published).toHaveLength(900);
  }, 120_000);
});
