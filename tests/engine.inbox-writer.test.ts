import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInboxWriter } from '../src/engine/inbox-writer.js';
import { createPool } from '../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

const order = (id: number) => ({
  connector: 'shopify',
  type: 'order.created',
  externalId: `order/${id}`,
  occurredAt: new Date('2026-11-01T10:00:00Z'),
  payload: { id },
});

describe('webhook group commit (inbox writer)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('stores concurrent deliveries in shared transactions and answers each with its own new ids, duplicates with none', async () => {
    const store = createInboxWriter(db.pool);
    // 100 deliveries at once: order/7 three times (one is stored), and one delivery of two events.
    const deliveries = [
      ...Array.from({ length: 97 }, (_, i) => [order(i)]),
      [order(7)],
      [order(7)],
      [order(200), order(201)],
    ];
    const answers = await Promise.all(deliveries.map((events) => store(events)));

    const rows = (
      await db.pool.query<{ id: number; external_id: string; tx: string }>(
        'SELECT id, external_id, xmin::text AS tx FROM inbox_events',
      )
    ).rows;
    const idOf = new Map(rows.map((row) => [row.external_id, row.id]));
    expect(rows).toHaveLength(99);
    deliveries.forEach((events, i) => {
      if (i >= 97 && i < 99) expect(answers[i]).toEqual([]);
      else expect(answers[i]).toEqual(events.map((event) => idOf.get(event.externalId)));
    });
    // Grouped: the first deliveries are written at once (one per free writer), the rest that arrived meanwhile together.
    expect(new Set(rows.map((row) => row.tx)).size).toBeLessThanOrEqual(5);
  });

  it('fails every delivery of a write the database refuses, and stores nothing of them', async () => {
    const closed = createPool(db.url, { max: 1 });
    await closed.end();
    const store = createInboxWriter(closed);
    const results = await Promise.allSettled([store([order(300)]), store([order(301)])]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(
      (await db.pool.query("SELECT 1 FROM inbox_events WHERE external_id IN ('order/300', 'order/301')")).rowCount,
    ).toBe(0);
  });
});
