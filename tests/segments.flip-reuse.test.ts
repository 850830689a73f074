import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCustomerRefresher } from '../src/engine/customer-refresh.js';
import { BUILTIN_TRAITS, compileAudienceConfig, type SegmentConfig } from '../src/workflows/segments.js';
import type { LoadedConfig } from '../src/workflows/load.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const LAPSING: SegmentConfig = {
  id: 'lapsing',
  when: '$customer.traits.orders_count >= 2 and $daysSince($customer.traits.last_order_at) > 1.5 * $customer.traits.average_days_between_orders',
};

function audience(segments: SegmentConfig[]): LoadedConfig {
  const compiled = compileAudienceConfig({ segments }, BUILTIN_TRAITS, (path, message) => {
    throw new Error(`${path.join('.')}: ${message}`);
  });
  // The refresher reads only the audience part of the configuration.
  return compiled as unknown as LoadedConfig;
}

describe('time-based segments: the flip time is found again only when what the condition reads changes', () => {
  let db: TestDatabase;
  let clock = new Date('2026-03-01T12:00:00Z');
  let customerId: number;

  const addEntry = async (externalId: string, type: string, daysAgo: number, amount: number | null) => {
    await db.pool.query(
      `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, data, amount, currency)
       VALUES ($1, 'shopify', $2, $3, $4, $4, '{}', $5, CASE WHEN $5::numeric IS NULL THEN NULL ELSE 'EUR' END)`,
      [customerId, externalId, type, new Date(clock.getTime() - daysAgo * DAY), amount],
    );
  };
  const recheckAt = async () =>
    (
      await db.pool.query<{ at: Date }>('SELECT segments_recheck_at AS at FROM customers WHERE id = $1', [customerId])
    ).rows[0]!.at.getTime();

  beforeAll(async () => {
    db = await createTestDatabase();
    customerId = (await db.pool.query<{ id: number }>('INSERT INTO customers DEFAULT VALUES RETURNING id')).rows[0]!.id;
  });
  afterAll(() => db?.drop());

  it('keeps the stored time across changes the condition does not read, finds it again when they do', async () => {
    const refresher = createCustomerRefresher({ pool: db.pool, config: audience([LAPSING]), now: () => clock });
    // Orders 10 and 2 days ago: 8 days apart, so lapsing 12 days after the last one (in 10 days).
    await addEntry('order-1', 'order.created', 10, 50);
    await addEntry('order-2', 'order.created', 2, 50);
    await refresher.refreshNow(customerId, { cause: 'change' });
    const lapsesAt = clock.getTime() + 10 * DAY;
    const first = await recheckAt();
    expect(first).toBeGreaterThanOrEqual(lapsesAt);
    expect(first - lapsesAt).toBeLessThanOrEqual(60_000);

    // A message 17 minutes later: the traits the condition reads are the same, so is the time (to the millisecond,
    // where probing again from a later clock would land elsewhere within the minute).
    clock = new Date(clock.getTime() + 17 * 60_000);
    await addEntry('message-1', 'message.received', 0, null);
    await refresher.refreshNow(customerId, { cause: 'change' });
    expect(await recheckAt()).toBe(first);

    // A third order now changes the rhythm to (10 days 17 min) / 2: found again, 1.5 × that after it.
    await addEntry('order-3', 'order.created', 0, 50);
    await refresher.refreshNow(customerId, { cause: 'change' });
    const again = await recheckAt();
    const lapsesAgainAt = clock.getTime() + (1.5 * (10 * DAY + 17 * 60_000)) / 2;
    expect(again).toBeGreaterThanOrEqual(lapsesAgainAt);
    expect(again - lapsesAgainAt).toBeLessThanOrEqual(60_000);

    // An edited definition is probed again too, though nothing of the customer changed.
    const edited = createCustomerRefresher({
      pool: db.pool,
      config: audience([{ ...LAPSING, when: LAPSING.when.replace('1.5 *', '3 *') }]),
      now: () => clock,
    });
    await edited.refreshNow(customerId, { cause: 'change' });
    expect(await recheckAt()).toBeGreaterThan(again + 5 * DAY);

    // Once the time has passed (the sweep), the answer flips and the next time is found for the new answer.
    clock = new Date((await recheckAt()) + 1);
    await edited.refreshNow(customerId, { cause: 'sweep' });
    const { rows } = await db.pool.query(
      'SELECT segment_id FROM segment_memberships WHERE customer_id = $1 AND exited_at IS NULL',
      [customerId],
    );
    expect(rows).toEqual([{ segment_id: 'lapsing' }]);
    expect(await recheckAt()).toBeGreaterThan(clock.getTime());
  });

  it('refreshes after a profile-only change only when a declared expression reads more than traits', () => {
    const readsTraits = createCustomerRefresher({ pool: db.pool, config: audience([LAPSING]), now: () => clock });
    expect(readsTraits.readsProfile).toBe(false);
    for (const when of ['score >= 100', '$customer.owner_agent_id = "alice"', '$customer.traits.vip or $customer'])
      expect(
        createCustomerRefresher({ pool: db.pool, config: audience([{ id: 'x', when }]), now: () => clock })
          .readsProfile,
        when,
      ).toBe(true);
  });
});
