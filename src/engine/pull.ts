import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectorContext, ConnectorDefinition } from '../connectors/define-connector.js';
import { pulledEvents, pullLag } from '../observability/metrics.js';
import { loadCursor, saveCursor } from '../store/cursors.js';
import { insertInboxEvents } from '../store/inbox.js';
import { unstorableReason } from '../connectors/shared/storable.js';
import { withTransaction, type Pool } from '../store/pool.js';
import { ingest } from './ingest.js';
import type { JobData } from './queues.js';

/** What to pull, from where, and who wants to hear about each page. */
export interface PullRequest {
  connector: ConnectorDefinition;
  resource: string;
  /** Key the cursor is stored under: the resource for poll triggers; backfills keep their own so polls are not moved. */
  cursorKey: string;
  /** Where a pull with no stored cursor starts. */
  since: Date;
  pageSize: number;
  onPage?: (progress: PullResult & { newestOccurredAt?: Date }) => void;
  /** Region for phone numbers without a country code, when the items' identities are recorded. */
  region?: string;
  /** Told about each pulled item that cannot be stored (it is skipped, the cursor moves on). */
  onSkipped?: (message: string) => void;
}

export interface PullResult {
  pages: number;
  received: number;
  stored: number;
  /** Items skipped because PostgreSQL can never store them (a NUL character, an unpaired surrogate). */
  skipped: number;
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
export async function runPull(
  request: PullRequest,
  context: ConnectorContext,
  deps: { pool: Pool; queue: Queue<JobData>; logger: Pick<Logger, 'info' | 'warn'> },
): Promise<PullResult> {
  const connector = request.connector.id;
  const resource = request.connector.pull![request.resource]!;
  const origin = `pull:${request.resource}`;
  const lockKey = `pull:${connector}:${request.cursorKey}`;
  let newestOccurredAt: Date | undefined;
  const lock = await deps.pool.connect();
  const result: PullResult = { pages: 0, received: 0, stored: 0, skipped: 0, ran: false };
  try {
    const { rows } = await lock.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
      [lockKey],
    );
    if (!rows[0]!.locked) return result;
    result.ran = true;
    try {
      let cursor = await loadCursor(deps.pool, connector, request.cursorKey);
      const since = cursor === null ? request.since : undefined;
      const labels = { connector, resource: request.resource };
      while (result.pages < MAX_PAGES_PER_RUN) {
        const page = await resource.list(context, cursor, { since, pageSize: request.pageSize });
        const next = page.nextCursor ?? page.resumeCursor ?? null;
        // An item PostgreSQL cannot store would fail its page forever and stall the cursor: it is skipped and reported.
        const storable = page.events.filter((event) => {
          const reason = unstorableReason({ type: event.type, id: event.externalId, payload: event.payload });
          if (!reason) return true;
          const message = `pulled ${event.type} ${JSON.stringify(event.externalId)} skipped: it cannot be stored (${reason})`;
          deps.logger.warn({ connector, resource: request.resource }, message);
          request.onSkipped?.(message);
          result.skipped++;
          return false;
        });
        const events = storable.map((event) => ({
          connector,
          type: event.type,
          externalId: event.externalId,
          occurredAt: new Date(event.occurredAt),
          payload: event.payload,
          origin,
          region: request.region,
        }));
        const ids = await ingest(
          deps,
          () =>
            withTransaction(deps.pool, async (client) => {
              const stored = await insertInboxEvents(client, events);
              await saveCursor(client, connector, request.cursorKey, next);
              return stored;
            }),
          { connector, resource: request.resource },
        );
        result.pages++;
        result.received += page.events.length;
        pulledEvents.inc(labels, page.events.length);
        result.stored += ids.length;
        for (const event of page.events) {
          const at = new Date(event.occurredAt);
          if (!Number.isNaN(at.getTime()) && (!newestOccurredAt || at > newestOccurredAt)) newestOccurredAt = at;
        }
        request.onPage?.({ ...result, newestOccurredAt });
        cursor = next;
        if (page.nextCursor === null) break;
      }
      if (newestOccurredAt) pullLag.set(labels, Math.max(0, (Date.now() - newestOccurredAt.getTime()) / 1000));
      deps.logger.info({ connector, resource: request.resource, ...result }, 'pull finished');
      return result;
    } finally {
      await lock.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]);
    }
  } finally {
    lock.release();
  }
}
