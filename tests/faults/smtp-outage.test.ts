import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClean,
  listFailedRuns,
  retryThroughApi,
  mixedWorkload,
  reconcile,
  scalar,
  send,
  startStack,
  waitForCount,
  waitForRuns,
  waitForSettled,
  type Stack,
} from './harness.js';

describe('fault: the SMTP server fails (451, then 554) for a while, then recovers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('smtp-outage', { env: { CRMFLOW_JOB_ATTEMPTS: '3', CRMFLOW_JOB_BACKOFF_MS: '200' } });
  });
  afterAll(async () => stack?.close());

  it('retries with backoff, leaves exhausted runs failed and visible, and a manual retry sends each once', async () => {
    const deliveries = mixedWorkload('smtp-outage', 1600, 400, 17);
    await stack.startApi();
    stack.startWorker();
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 160 });

    // Fail until enough runs have exhausted their attempts, whatever the machine's speed: first 451, then 554.
    const FAILED = "SELECT count(*)::int AS n FROM inbox_events WHERE status = 'failed'";
    await waitForRuns(stack, 100);
    stack.smtp.mode = 'defer';
    stack.fault('SMTP answers 451 at RCPT TO');
    await waitForCount(stack, '15 runs failed for good', FAILED, (n) => n >= 15);
    stack.smtp.mode = 'reject';
    stack.fault('SMTP answers 554 after DATA');
    await waitForCount(stack, '30 runs failed for good', FAILED, (n) => n >= 30);
    await sleep(300);
    stack.smtp.mode = 'ok';
    stack.fault(`SMTP recovers (${stack.smtp.rejected} messages refused)`);

    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries, { failedToo: true });

    // Exhausted runs are failed and listed by the API.
    const failed = await listFailedRuns(stack);
    const failedEvents = await scalar(
      stack.pg.pool,
      "SELECT count(*)::int AS n FROM inbox_events WHERE status = 'failed'",
    );
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.length).toBe(failedEvents);
    expect(failed.every((run) => /step reply \(reply\): email to .* failed/.test(run.error))).toBe(true);
    const recoveredByBackoff = await scalar(
      stack.pg.pool,
      "SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'succeeded' AND attempts > 1",
    );

    await retryThroughApi(stack, failed, deliveries);

    const report = await reconcile(
      stack,
      'SMTP failing (451, then 554) until 30 runs exhausted their attempts, then recovering; those retried through the API',
      outcomes,
      {
        smtpRefused: stack.smtp.rejected,
        failedVisible: failed.length,
        retriedThroughApi: failed.length,
        recoveredByBackoff,
      },
    );
    expectClean(report);
    expect(stack.smtp.rejected).toBeGreaterThan(0);
  });
});
