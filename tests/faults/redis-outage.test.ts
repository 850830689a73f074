import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClean,
  mixedWorkload,
  reconcile,
  send,
  startStack,
  waitForRuns,
  waitForSettled,
  type Stack,
} from './harness.js';

describe('fault: Redis killed (kill -9) and restarted empty during ingest', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('redis-outage');
  });
  afterAll(async () => stack?.close());

  it('acknowledges from the Postgres inbox while Redis is away and processes everything once it is back', async () => {
    const deliveries = mixedWorkload('redis-outage', 1800, 450, 11);
    await stack.startApi();
    stack.startWorker();
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 150 });

    await waitForRuns(stack, 100);
    stack.fault(`kill -9 redis-server at ${sender.acked()} acknowledged`);
    await stack.redis.kill();
    const ackedBefore = sender.acked();
    await sleep(4000);
    const ackedWhileDown = sender.acked() - ackedBefore;
    stack.fault(`redis-server restarted empty after 4 s; ${ackedWhileDown} deliveries acknowledged meanwhile`);
    await stack.redis.start();

    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries);
    const report = await reconcile(stack, 'Redis killed and restarted (empty) during ingest', outcomes, {
      ackedWhileRedisDown: ackedWhileDown,
    });
    expectClean(report);
    expect(ackedWhileDown).toBeGreaterThan(100);
    // Redis being away never turns a stored event into an error for the sender.
    expect(Object.keys(report.answers).filter((answer) => !answer.startsWith('2'))).toEqual([]);
  });
});
