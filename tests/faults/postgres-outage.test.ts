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

describe('fault: PostgreSQL stopped and restarted during ingest', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack('postgres-outage');
  });
  afterAll(async () => stack?.close());

  it('answers 503 (never 2xx) while it is down, workers retry, nothing is half-written', async () => {
    const deliveries = mixedWorkload('postgres-outage', 1800, 450, 13);
    await stack.startApi();
    stack.startWorker();
    stack.startWorker();
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 150 });

    await waitForRuns(stack, 100);
    stack.fault(`PostgreSQL stopped (fast shutdown) at ${sender.acked()} acknowledged`);
    await stack.pg.stop();
    const ackedBefore = sender.acked();
    await sleep(4000);
    const ackedWhileDown = sender.acked() - ackedBefore;
    await stack.pg.start();
    stack.fault(`PostgreSQL restarted after 4 s; ${ackedWhileDown} deliveries acknowledged meanwhile`);

    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries);
    const report = await reconcile(stack, 'PostgreSQL stopped and restarted during ingest', outcomes, {
      ackedWhilePostgresDown: ackedWhileDown,
    });
    expectClean(report);
    // Senders were told to come back (503) and did; an acknowledgement while the database was away would be a lie.
    expect(report.answers['503'] ?? 0).toBeGreaterThan(0);
    expect(ackedWhileDown).toBeLessThanOrEqual(24); // at most the requests already past their INSERT when it stopped
  });
});
