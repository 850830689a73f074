import { lockLiveCustomer } from './customers.js';
import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool } from './pool.js';

export interface TimelineEntry {
  customerId: number;
  /** Connector id, e.g. `shopify`; with `externalId` it names the vendor object. */
  source: string;
  externalId: string;
  type: string;
  occurredAt: Date;
  /** The vendor's updated time of the object; defaults to `occurredAt`. */
  versionAt?: Date;
  summary?: string | null;
  data?: unknown;
  /** The run adding it: the message.received event of an inbound message continues its chain. */
  runId?: number;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
}

/** Timeline types that are inbound messages: a new one emits the message.received engine event. */
const INBOUND_MESSAGE_TYPES = new Set(['message.received']);

/**
 * Adds a vendor object to the customer's timeline once, however many times it is delivered. A redelivery with
 * newer data updates the entry; an older one changes nothing. Returns whether a row was inserted.
 */
export async function upsertTimelineEntry(pool: Pool, entry: TimelineEntry): Promise<{ id: number; inserted: boolean; event?: number }> {
  return withRetriedTransaction(pool, async (client) => {
    // The customer may have been merged since the run resolved it: the entry goes to the customer it is now.
    const customerId = await lockLiveCustomer(client, entry.customerId);
    const { rows } = await client.query<{ id: number; inserted: boolean }>(
      `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, summary, data)
       VALUES ($1, $2, $3, $4, $5, $8, $6, $7)
       ON CONFLICT (source, external_id) DO UPDATE SET
         type = EXCLUDED.type, occurred_at = EXCLUDED.occurred_at, version_at = EXCLUDED.version_at,
         summary = EXCLUDED.summary, data = EXCLUDED.data, updated_at = now()
         WHERE timeline_events.version_at <= EXCLUDED.version_at
       RETURNING id, (xmax = 0) AS inserted`,
      [customerId, entry.source, entry.externalId, entry.type, entry.occurredAt, entry.summary ?? null, JSON.stringify(entry.data ?? {}), entry.versionAt ?? entry.occurredAt],
    );
    if (rows[0]?.inserted && INBOUND_MESSAGE_TYPES.has(entry.type)) {
      const event = await emitEngineEvent(client, {
        type: 'message.received',
        customerId,
        sourceRunId: entry.runId,
        listened: entry.listenedEvents,
        data: { customer_id: customerId, timeline_event_id: rows[0].id, source: entry.source, external_id: entry.externalId, summary: entry.summary ?? null },
      });
      return { ...rows[0], event };
    }
    if (rows[0]) return rows[0];
    const existing = await client.query<{ id: number }>('SELECT id FROM timeline_events WHERE source = $1 AND external_id = $2', [entry.source, entry.externalId]);
    return { id: existing.rows[0]!.id, inserted: false };
  });
}

export interface TimelineItem {
  type: string;
  source: string;
  occurred_at: string;
  summary: string | null;
  data: unknown;
}

/** The customer's entries (and those of customers merged into it) that occurred at or after `since`, oldest first. */
export async function listTimelineSince(pool: Pool, customerId: number, since: Date, limit = 500): Promise<TimelineItem[]> {
  const { rows } = await pool.query<TimelineItem>(
    `WITH live AS (SELECT coalesce(merged_into, id) AS id FROM customers WHERE id = $1)
     SELECT type, source, to_json(occurred_at)#>>'{}' AS occurred_at, summary, data FROM timeline_events
     WHERE customer_id IN (SELECT id FROM customers WHERE id = (SELECT id FROM live) OR merged_into = (SELECT id FROM live))
       AND occurred_at >= $2
     ORDER BY occurred_at, id LIMIT $3`,
    [customerId, since, limit],
  );
  return rows;
}
