import { writeForLiveCustomer } from './customers.js';
import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from './pool.js';
import { lockCustomerForUpdate, type CustomerRefresh, type Refreshed } from './traits.js';

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
  /** What the entry is worth as a purchase (paid order net of refunds, paid invoice), in `currency`; null when not one. */
  amount?: number | null;
  currency?: string | null;
  /** The run adding it: the message.received event of an inbound message continues its chain. */
  runId?: number;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
  /** Recomputes the customer's traits and segments in the same transaction as the entry (see CustomerRefresh). */
  refresh?: CustomerRefresh;
}

/** Timeline types that are inbound messages: a new one emits the message.received engine event. */
const INBOUND_MESSAGE_TYPES = new Set(['message.received']);

/**
 * Timeline types that are a contact with the customer. With `data.agent_id` set they are a contact by a person (the
 * only contacts an SLA counts) and emit the engine event of their type.
 */
export const PERSON_CONTACT_TYPES = new Set(['message.sent', 'call.completed'] as const);

/**
 * Adds a vendor object to the customer's timeline once, however many times it is delivered. A redelivery with
 * newer data updates the entry; an older one changes nothing. Returns whether a row was inserted. With `refresh`, the
 * customer's traits and segments are recomputed in the same transaction (the customer locked first, so concurrent
 * entries for one customer are counted one after the other); `refreshed` says what it wrote.
 */
export async function upsertTimelineEntry(
  pool: Pool,
  entry: TimelineEntry,
): Promise<{ id: number; inserted: boolean; event?: number; refreshed?: Refreshed }> {
  const refresh = entry.refresh;
  if (!refresh) return writeTimelineEntry(pool, entry);
  return withRetriedTransaction(pool, async (client) => {
    const customerId = await lockCustomerForUpdate(client, entry.customerId);
    const result = await writeTimelineEntry(client, { ...entry, customerId });
    return { ...result, refreshed: await refresh(client, customerId) };
  });
}

async function writeTimelineEntry(
  db: Pool | PoolClient,
  entry: TimelineEntry,
): Promise<{ id: number; inserted: boolean; event?: number }> {
  // The customer may have been merged since the run resolved it: the entry goes to the customer it is now.
  const [row] = await writeForLiveCustomer<{ id: number; inserted: boolean; customer_id: number }>(
    db,
    entry.customerId,
    `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, summary, data, amount, currency)
     SELECT live.id, $2::text, $3::text, $4::text, $5::timestamptz, $8::timestamptz, $6::text, $7::jsonb, $9::numeric, $10::text FROM live WHERE live.merged_into IS NULL
     ON CONFLICT (source, external_id) DO UPDATE SET
       type = EXCLUDED.type, occurred_at = EXCLUDED.occurred_at, version_at = EXCLUDED.version_at,
       summary = EXCLUDED.summary, data = EXCLUDED.data, amount = EXCLUDED.amount, currency = EXCLUDED.currency, updated_at = now()
       WHERE timeline_events.version_at <= EXCLUDED.version_at
     RETURNING id, customer_id, (xmax = 0) AS inserted`,
    [
      entry.source,
      entry.externalId,
      entry.type,
      entry.occurredAt,
      entry.summary ?? null,
      JSON.stringify(entry.data ?? {}),
      entry.versionAt ?? entry.occurredAt,
      entry.amount ?? null,
      entry.currency ?? null,
    ],
  );
  const stored = row ?? { ...(await findTimelineEntry(db, entry.source, entry.externalId)), inserted: false };
  const data = entry.data as { agent_id?: unknown; automated?: unknown; from?: unknown } | null | undefined;
  const agentId = data?.agent_id;
  if (PERSON_CONTACT_TYPES.has(entry.type as 'message.sent') && typeof agentId === 'string') {
    const event = await emitEngineEvent(db, {
      type: entry.type as 'message.sent' | 'call.completed',
      customerId: stored.customer_id,
      sourceRunId: entry.runId,
      listened: entry.listenedEvents,
      dedupeKey: `contact:${stored.id}`,
      data: {
        customer_id: stored.customer_id,
        timeline_event_id: stored.id,
        agent_id: agentId,
        source: entry.source,
        external_id: entry.externalId,
        summary: entry.summary ?? null,
      },
    });
    return { id: stored.id, inserted: stored.inserted, event };
  }
  if (!INBOUND_MESSAGE_TYPES.has(entry.type)) return { id: stored.id, inserted: stored.inserted };
  // Keyed by the entry, so a retry after a crash right after the insert emits it, and a redelivery does not again.
  const event = await emitEngineEvent(db, {
    type: 'message.received',
    customerId: stored.customer_id,
    sourceRunId: entry.runId,
    listened: entry.listenedEvents,
    dedupeKey: `timeline:${stored.id}`,
    data: {
      customer_id: stored.customer_id,
      timeline_event_id: stored.id,
      source: entry.source,
      external_id: entry.externalId,
      summary: entry.summary ?? null,
      channel: channelOf(entry),
      // A machine's message (auto-reply, bounce: RFC 3834) stays unanswered by workflows chained on this event too.
      ...(typeof data?.automated === 'string' ? { automated: data.automated, from: data.from ?? null } : {}),
    },
  });
  return { id: stored.id, inserted: stored.inserted, event };
}

/** The channel an inbound message came on, as its mapping records it (`data.channel`); null when it does not say. */
function channelOf(entry: TimelineEntry): string | null {
  const channel = (entry.data as { channel?: unknown } | null | undefined)?.channel;
  return typeof channel === 'string' ? channel : null;
}

async function findTimelineEntry(
  db: Pool | PoolClient,
  source: string,
  externalId: string,
): Promise<{ id: number; customer_id: number }> {
  const { rows } = await db.query<{ id: number; customer_id: number }>(
    'SELECT id, customer_id FROM timeline_events WHERE source = $1 AND external_id = $2',
    [source, externalId],
  );
  return rows[0]!;
}

export interface TimelineItem {
  type: string;
  source: string;
  occurred_at: string;
  summary: string | null;
  data: unknown;
}

/** The customer's entries (and those of customers merged into it) that occurred at or after `since`, oldest first. */
export async function listTimelineSince(
  pool: Pool,
  customerId: number,
  since: Date,
  limit = 500,
): Promise<TimelineItem[]> {
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
