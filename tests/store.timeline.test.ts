import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertCustomer } from '../src/store/customers.js';
import { upsertTimelineEntry } from '../src/store/timeline.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

describe('timeline entries under duplicate and out-of-order delivery', () => {
  let db: TestDatabase;
  let customerId: number;
  beforeAll(async () => {
    db = await createTestDatabase();
    ({ customerId } = await upsertCustomer(db.pool, {
      identities: [{ kind: 'email', value: 'ooo@example.com' }],
      profile: {},
      occurredAt: new Date(),
      source: 'test',
      eventRef: 'test',
    }));
  });
  afterAll(async () => db?.drop());

  const version = (summary: string, versionAt: string) => ({
    customerId,
    source: 'shopify',
    externalId: 'order/1001',
    type: 'order.updated',
    occurredAt: new Date('2026-11-01T10:00:00Z'),
    versionAt: new Date(versionAt),
    summary,
  });

  it('keeps one entry per vendor object, and the newest version wins whatever the arrival order', async () => {
    const first = await upsertTimelineEntry(db.pool, version('paid', '2026-11-01T12:00:00Z'));
    expect(first.inserted).toBe(true);
    const older = await upsertTimelineEntry(db.pool, version('pending', '2026-11-01T11:00:00Z'));
    const again = await upsertTimelineEntry(db.pool, version('paid', '2026-11-01T12:00:00Z'));
    expect([older, again]).toEqual([
      { id: first.id, inserted: false },
      { id: first.id, inserted: false },
    ]);
    const { rows } = await db.pool.query('SELECT summary, version_at FROM timeline_events');
    expect(rows).toEqual([{ summary: 'paid', version_at: new Date('2026-11-01T12:00:00Z') }]);

    await upsertTimelineEntry(db.pool, version('fulfilled', '2026-11-01T13:00:00Z'));
    expect((await db.pool.query('SELECT summary FROM timeline_events')).rows).toEqual([{ summary: 'fulfilled' }]);
  });

  it('moves the lifecycle stage forward only', async () => {
    const identities = [{ kind: 'email', value: 'stage@example.com' }];
    const base = { identities, source: 'test', eventRef: 'test', occurredAt: new Date() };
    const { customerId: id } = await upsertCustomer(db.pool, { ...base, profile: { lifecycle_stage: 'customer' } });
    await upsertCustomer(db.pool, { ...base, profile: { lifecycle_stage: 'opportunity' } });
    const { rows } = await db.pool.query('SELECT lifecycle_stage FROM customers WHERE id = $1', [id]);
    expect(rows[0].lifecycle_stage).toBe('customer');
    const history = await db.pool.query('SELECT from_stage, to_stage FROM lifecycle_history WHERE customer_id = $1', [
      id,
    ]);
    expect(history.rows).toEqual([{ from_stage: 'lead', to_stage: 'customer' }]);
  });
});
