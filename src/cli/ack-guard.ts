import type { Worker } from 'bullmq';
import { createConcurrencyGovernor } from '../engine/concurrency-governor.js';

/** How often the API's acknowledgement times steer the worker that shares its machine. */
export const STEER_EVERY_MS = 250;

/**
 * `crmflow start`: a function taking the API's latest acknowledgement p95 (undefined when no webhook came) and
 * setting the worker's concurrency from it (see createConcurrencyGovernor); BullMQ takes the new value at its next
 * fetch, jobs already running finish.
 */
export function steerWorker(worker: Worker, targetMs: number): (ackP95: number | undefined) => void {
  const govern = createConcurrencyGovernor({ max: worker.concurrency, targetMs });
  return (ackP95) => {
    const next = govern(ackP95);
    if (next !== worker.concurrency) worker.concurrency = next;
  };
}
