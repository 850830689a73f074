import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { expectClean, mixedWorkload, reconcile, send, startStack, waitForSettled, type Stack } from './harness.js';

describe('fault: the API process killed (kill -9) mid-request while senders post', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('api-crash');
  });
  afterAll(async () => stack?.close());

  it("absorbs the senders' retries by idempotency: no duplicate inbox row, run, timeline entry or email", async () => {
    const deliveries = mixedWorkload('api-crash', 1800, 450, 19);
    let api = await stack.startApi();
    stack.startWorker();
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 150, concurrency: 32 });

    for (const threshold of [500, 1100]) {
      await waitFor(`${threshold} deliveries acknowledged`, async () => sender.acked() >= threshold, 60_000);
      stack.fault(`kill -9 API pid ${api.child.pid} at ${sender.acked()} acknowledged`);
      await api.kill();
      await sleep(300);
      api = await stack.startApi();
      stack.fault('API restarted on the same port');
    }

    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries);
    const deduplicated = outcomes.filter((outcome) => outcome.deduplicated).length;
    const report = await reconcile(
      stack,
      'API process killed (kill -9) twice mid-request, restarted on the same port',
      outcomes,
      {
        retriedDeliveries: outcomes.filter((outcome) => outcome.attempts > 1).length,
        retriesAnsweredAlreadyStored: deduplicated,
      },
    );
    expectClean(report);
    // The kills cut requests in flight: senders saw connection errors and retried.
    expect(report.answers.error ?? 0).toBeGreaterThan(0);
  });
});
