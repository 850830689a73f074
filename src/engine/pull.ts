import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { loadCursor, saveCursor } from '../store/cursors.js';
import { insertInboxEvents } from '../store/inbox.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { enqueueInboxEvents, type JobData } from './queues.js';
import type { CompiledTrigger } from './triggers/define-trigger.js';

type PollTrigger = Extract<CompiledTrigger, { kind: 'poll' }>;

export interface PullResult {
  pages: number;
  received: number;
  stored: number;
  /** False when another process held the resource's pull lock: this run did nothing. */
  ran: boolean;
}

/** Safety net against a vendor whose cursor never ends; the next poll carries on from the stored cursor. */
const MAX_PAGES_PER_RUN = 1000;

/**
 * Pulls a connector resource from its stored cursor until the vendor has no more pages. Each page's events and the
 * cursor after it are written in one transaction, so a crash between pages resumes at the next page: nothing is
 * skipped and nothing stored twice (the inbox also de-duplicates on the vendor's event ids). One puller per resource
 * at a time across all processes (a session advisory lock); a second one skips.
 */
export async function runPull(trigger: PollTrigger, context: ConnectorContext, deps: { pool: Pool; queue: Queue<JobData>; logger: Logger }): Promise<PullResult> {
  const connector = trigger.connector.id;
  const resource = trigger.connector.pull![trigger.resource]!;
  const origin = `pull:${trigger.resource}`;
  const lock = await deps.pool.connect();
  const result: PullResult = { pages: 0, received: 0, stored: 0, ran: false };
  try {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked', [`pull:${connector}:${trigger.resource}`]);
    if (!rows[0]!.locked) return result;
    result.ran = true;
    try {
      let cursor = await loadCursor(deps.pool, connector, trigger.resource);
      const since = cursor === null ? new Date(Date.now() - trigger.backfillMs) : undefined;
      while (result.pages < MAX_PAGES_PER_RUN) {
        const page = await resource.list(context, cursor, { since, pageSize: trigger.pageSize });
        const next = page.nextCursor ?? page.resumeCursor ?? null;
        const ids = await withTransaction(deps.pool, async (client) => {
          const stored = await insertInboxEvents(
            client,
            page.events.map((event) => ({ connector, type: event.type, externalId: event.externalId, occurredAt: new Date(event.occurredAt), payload: event.payload, origin })),
          );
          await saveCursor(client, connector, trigger.resource, next);
          return stored;
        });
        // Redis down here only delays these events: the reconciler enqueues stored events that have no job.
        await enqueueInboxEvents(deps.queue, ids).catch((error: Error) => deps.logger.warn({ err: error, connector }, 'pulled events stored, enqueue deferred'));
        result.pages++;
        result.received += page.events.length;
        result.stored += ids.length;
        cursor = next;
        if (page.nextCursor === null) break;
      }
      deps.logger.info({ connector, resource: trigger.resource, ...result }, 'pull finished');
      return result;
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`pull:${connector}:${trigger.resource}`]);
    }
  } finally {
    lock.release();
  }
}
