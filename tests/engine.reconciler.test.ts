import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsQueue, jobIds } from '../src/engine/queues.js';
import { startReconciler } from '../src/engine/reconciler.js';
import { insertInboxEvents } from '../src/store/inbox.js';
import { REDIS_URL, testPrefix } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

/** Periodic reconciler turns: a backlog is walked in full once, and again whenever Redis has lost its data. */
describe('reconciler turns', () => {
  const prefix = testPrefix();
  let db: TestDatabase;
  let redis: Redis;
  let queue: ReturnType<typeof createEventsQueue>;
  let stop = () => {};

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = new Redis(REDIS_URL);
    queue = createEventsQueue(redis, prefix);
  });
  afterAll(async () => {
    stop();
    await queue.obliterate({ force: true });
    await queue.close();
    redis.disconnect();
    await db?.drop();
  });

  const jobsOf = async (ids: number[]) =>
    (await Promise.all(ids.map((id) => queue.getJob(jobIds.event(id))))).filter(Boolean).length;

  it('enqueues stored events without a job, checks only newer ones on later turns, and walks everything again after Redis lost its data', async () => {
    // Stored a minute ago and never enqueued (Redis was away at ingest).
    const old = await insertInboxEvents(
      db.pool,
      [1, 2, 3].map((n) => ({
        connector: 'shopify',
        type: 'order.created',
        externalId: `order/${n}`,
        occurredAt: new Date(),
        payload: { n },
      })),
    );
    await db.pool.query("UPDATE inbox_events SET received_at = now() - interval '1 minute'");
    ({ stop } = startReconciler(db.pool, queue, redis, pino({ level: 'silent' }), { intervalMs: 200, graceMs: 1000 }));
    await waitFor('the first turn to enqueue the three', async () => (await jobsOf(old)) === 3);

    // Their jobs vanish while Redis keeps its other data (the marker): later turns only look at newer events.
    for (const id of old) await queue.remove(jobIds.event(id));
    const [fresh] = await insertInboxEvents(db.pool, [
      { connector: 'shopify', type: 'order.created', externalId: 'order/4', occurredAt: new Date(), payload: {} },
    ]);
    await db.pool.query("UPDATE inbox_events SET received_at = now() - interval '1 minute' WHERE id = $1", [fresh]);
    await waitFor('a later turn to enqueue the new one', async () => (await jobsOf([fresh!])) === 1);
    expect(await jobsOf(old)).toBe(0);

    // Redis restarted empty: the marker is gone too, and the next turn walks the whole backlog.
    await redis.del(queue.toKey('reconciler-marker'));
    await waitFor('the full walk to enqueue the three again', async () => (await jobsOf(old)) === 3);
  });
});
