import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { steerWorker } from '../src/cli/ack-guard.js';
import { createConcurrencyGovernor } from '../src/engine/concurrency-governor.js';
import { createEventsQueue, EVENTS_QUEUE, workerConnection, type JobData } from '../src/engine/queues.js';
import { createAckTimes } from '../src/observability/ack-times.js';
import { REDIS_URL, testPrefix } from './helpers/crmflow.js';
import { waitFor } from './helpers/wait.js';

describe('the concurrency governor of `crmflow start`', () => {
  it('halves while acknowledgements are slower than the target, never below one, and climbs back one at a time', () => {
    const govern = createConcurrencyGovernor({ max: 16, targetMs: 20 });
    expect([45, 30, 21, 80, 200].map(govern)).toEqual([8, 4, 2, 1, 1]);
    // Between half the target and the target it holds; under half, or with no webhook at all, one more each time.
    expect([15, 10, 9.9, undefined, 3].map(govern)).toEqual([1, 1, 2, 3, 4]);
    expect(Array.from({ length: 20 }, () => govern(undefined)).at(-1)).toBe(16);
  });

  it('reads the p95 of the acknowledgement times since the last read, then forgets them', () => {
    const times = createAckTimes();
    expect(times.takeP95()).toBeUndefined();
    for (let ms = 1; ms <= 100; ms++) times.record(ms);
    expect(times.takeP95()).toBe(95);
    expect(times.takeP95()).toBeUndefined();
    times.record(7);
    expect(times.takeP95()).toBe(7);
  });

  describe('steering a BullMQ worker', () => {
    const prefix = testPrefix();
    let redis: Redis;
    let queue: ReturnType<typeof createEventsQueue>;
    beforeAll(() => {
      redis = new Redis(REDIS_URL);
      queue = createEventsQueue(redis, prefix);
    });
    afterAll(async () => {
      await queue.obliterate({ force: true });
      await queue.close();
      redis.disconnect();
    });

    it('runs no more jobs at once than the governor allows, and all of them again once acknowledgements are fast', async () => {
      let running = 0;
      let most = 0;
      const worker = new Worker<JobData>(
        EVENTS_QUEUE,
        async () => {
          most = Math.max(most, ++running);
          await new Promise((resolve) => setTimeout(resolve, 50));
          running--;
        },
        { connection: workerConnection(REDIS_URL), prefix, concurrency: 8, autorun: false },
      );
      const steer = steerWorker(worker, 20);
      for (const slow of [100, 100, 100]) steer(slow);
      expect(worker.concurrency).toBe(1);
      const add = (from: number) =>
        queue.addBulk(
          Array.from({ length: 12 }, (_, n) => ({
            name: 'event',
            data: { kind: 'event' as const, inboxId: from + n },
            opts: { jobId: `event-${from + n}` },
          })),
        );
      await add(0);
      void worker.run();
      await waitFor('the first jobs', async () => (await queue.getJobCounts('completed')).completed === 12, 20_000, 20);
      expect(most).toBe(1);

      for (let n = 0; n < 8; n++) steer(undefined);
      expect(worker.concurrency).toBe(8);
      most = 0;
      await add(100);
      await waitFor('the next jobs', async () => (await queue.getJobCounts('completed')).completed === 24, 20_000, 20);
      expect(most).toBeGreaterThan(1);
      await worker.close();
    });
  });
});
