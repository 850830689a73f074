import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClean,
  mixedWorkload,
  reconcile,
  send,
  startStack,
  waitForCount,
  waitForSettled,
  type Stack,
} from './harness.js';

const SUCCEEDED = "SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'succeeded'";

describe('fault: kill -9 of a worker process mid-run, twice, while another keeps working', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('worker-crash');
  });
  afterAll(async () => stack?.close());

  it('recovers the stalled jobs: nothing lost, nothing twice', async () => {
    const deliveries = mixedWorkload('worker-crash', 2000, 500);
    await stack.startApi();
    let doomed = stack.startWorker();
    stack.startWorker(); // keeps working throughout
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 250 });

    for (const threshold of [300, 1000]) {
      await waitForCount(stack, `${threshold} runs succeeded`, SUCCEEDED, (n) => n >= threshold);
      stack.fault(
        `kill -9 worker pid ${doomed.child.pid} at ${await waitForCount(stack, 'count', SUCCEEDED, () => true)} runs succeeded`,
      );
      await doomed.kill();
      doomed = stack.startWorker();
    }
    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries);
    const report = await reconcile(
      stack,
      'kill -9 of a worker process mid-run (twice) while another keeps working',
      outcomes,
    );
    expectClean(report);
    // The killed workers held jobs: their runs were resumed by a later attempt.
    expect(report.runs.resumed).toBeGreaterThan(0);
  });
});
