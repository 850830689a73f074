import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import { enqueueInboxEvents, type JobData } from './queues.js';
import { withTimeout } from './timeout.js';

export interface IngestOptions {
  queue: Queue<JobData>;
  logger: Pick<Logger, 'warn'>;
  /** Longest wait for Redis before going on anyway (the events are stored; the reconciler enqueues them). Default 2000 ms. */
  enqueueTimeoutMs?: number;
}

/**
 * The one way vendor events enter the engine, for webhooks and pulls alike: `store` writes them to the inbox (and
 * whatever must commit with them, such as a pull's cursor) and returns the new inbox ids; then each gets its job.
 * A failed store throws (nothing was acknowledged); a failed or slow enqueue only delays the events: the
 * reconciler enqueues stored events that have no job.
 */
export async function ingest(
  options: IngestOptions,
  store: () => Promise<number[]>,
  about: Record<string, unknown>,
): Promise<number[]> {
  const ids = await store();
  const timeoutMs = options.enqueueTimeoutMs ?? 2000;
  await withTimeout(timeoutMs, () => enqueueInboxEvents(options.queue, ids)).catch((error: unknown) =>
    options.logger.warn(
      { ...about, events: ids, err: error },
      'stored but not enqueued (Redis unavailable): the reconciler will enqueue',
    ),
  );
  return ids;
}
