import { UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventsQueue, EVENTS_QUEUE, jobPresence, workerConnection, type JobData } from '../src/engine/queues.js';
import { REDIS_URL, testPrefix } from './helpers/crmflow.js';
import { waitFor } from './helpers/wait.js';

/** The reconciler's view of Redis: which stored events still have a job, and which jobs failed for good. */
describe('jobPresence', () => {
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

  it('tells waiting, delayed and active jobs from failed ones and from ids Redis never had', async () => {
    // First in line a job that fails for good, then a backlog: the ids asked about sit anywhere in a long wait list.
    await queue.add('run', { kind: 'run', runId: 2 }, { jobId: 'doomed-2' });
    await queue.addBulk(
      Array.from({ length: 2000 }, (_, n) => ({
        name: 'event',
        data: { kind: 'event' as const, inboxId: n },
        opts: { jobId: `event-${n}` },
      })),
    );
    await queue.add('run', { kind: 'run', runId: 1 }, { jobId: 'delayed-1', delay: 60_000 });
    const connection = workerConnection(REDIS_URL);
    const worker = new Worker<JobData>(
      EVENTS_QUEUE,
      async (job) => {
        if (job.id === 'doomed-2') throw new UnrecoverableError('bad input');
        await new Promise((resolve) => setTimeout(resolve, 60_000));
      },
      { connection, prefix, concurrency: 1, autorun: false },
    );
    void worker.run();
    await waitFor(
      'the doomed job to fail and the next to be active',
      async () =>
        (await queue.getJobState('doomed-2')) === 'failed' && (await queue.getJobState('event-0')) === 'active',
    );
    expect(await jobPresence(redis, queue, ['event-0'])).toEqual(['present']);
    await worker.close(true);
    connection.disconnect();

    expect(
      await jobPresence(redis, queue, ['event-0', 'event-1999', 'delayed-1', 'doomed-2', 'event-5000', 'retry-7-1']),
    ).toEqual(['present', 'present', 'present', 'failed', 'missing', 'missing']);
    expect(await jobPresence(redis, queue, [])).toEqual([]);
  });
});
