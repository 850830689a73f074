import { deliveryIdentities } from '../customers/delivery-identities.js';
import type { Pool, PoolClient } from './pool.js';

/** Every status of a stored event (inbox and engine events; the tables' CHECK constraints list the same). */
export const INBOX_STATUSES = ['pending', 'processed', 'failed'] as const;
export type InboxStatus = (typeof INBOX_STATUSES)[number];

/** One vendor event as parsed from a delivery, ready to be stored. */
export interface InboxEventInput {
  connector: string;
  type: string;
  externalId: string;
  occurredAt: Date;
  payload: unknown;
  /** 'webhook' (default) or 'pull:<resource>'. */
  origin?: string;
  /** Region for phone numbers written without a country code when the payload's identities are recorded. Default US. */
  region?: string;
}

export interface InboxEvent extends Required<Omit<InboxEventInput, 'region'>> {
  id: number;
  receivedAt: Date;
  status: InboxStatus;
  /** When retention removed the payload (then null): every run of the event had lost its records. */
  payloadPrunedAt: Date | null;
}

/**
 * Stores events idempotently on (connector, external id), all or none, with the identities each payload names
 * (`inbox_event_identities`, for erasure). Returns the ids of the events that are new; a redelivered event returns
 * nothing, so it is neither enqueued nor run again.
 */
export async function insertInboxEvents(db: Pool | PoolClient, events: InboxEventInput[]): Promise<number[]> {
  return (await storeInboxEvents(db, events)).filter((id): id is number => id !== undefined);
}

/**
 * `insertInboxEvents`, answered per event: its new id, or undefined when it was stored before (or earlier in the
 * same list).
 */
export async function storeInboxEvents(
  db: Pool | PoolClient,
  events: InboxEventInput[],
): Promise<Array<number | undefined>> {
  if (events.length === 0) return [];
  const { rows } = await db.query<{ id: number; connector: string; external_id: string }>(
    `WITH input AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::text[], $7::jsonb[])
                      AS u(connector, type, external_id, occurred_at, payload, origin, identities)),
     stored AS (INSERT INTO inbox_events (connector, type, external_id, occurred_at, payload, origin)
                SELECT connector, type, external_id, occurred_at, payload, origin FROM input
                ON CONFLICT (connector, external_id) DO NOTHING RETURNING id, connector, external_id),
     named AS (INSERT INTO inbox_event_identities (inbox_event_id, kind, value)
               SELECT DISTINCT stored.id, x.kind, x.value FROM stored JOIN input USING (connector, external_id),
                      jsonb_to_recordset(input.identities) AS x(kind text, value text)
               ON CONFLICT DO NOTHING)
     SELECT id, connector, external_id FROM stored`,
    [
      events.map((event) => event.connector),
      events.map((event) => event.type),
      events.map((event) => event.externalId),
      events.map((event) => event.occurredAt),
      events.map((event) => JSON.stringify(event.payload)),
      events.map((event) => event.origin ?? 'webhook'),
      events.map((event) => JSON.stringify(deliveryIdentities(event.payload, event.region ?? 'US'))),
    ],
  );
  const key = (connector: string, externalId: string) => `${connector}\u0000${externalId}`;
  const stored = new Map(rows.map((row) => [key(row.connector, row.external_id), row.id]));
  return events.map((event) => {
    const id = stored.get(key(event.connector, event.externalId));
    stored.delete(key(event.connector, event.externalId));
    return id;
  });
}

export async function getInboxEvent(pool: Pool, id: number): Promise<InboxEvent | undefined> {
  const { rows } = await pool.query(
    `SELECT id, connector, type, external_id AS "externalId", occurred_at AS "occurredAt", payload,
            received_at AS "receivedAt", status, origin, payload_pruned_at AS "payloadPrunedAt"
     FROM inbox_events WHERE id = $1`,
    [id],
  );
  return rows[0] as InboxEvent | undefined;
}

/** The UPDATE setting an inbox event's status, from SQL for its id and status (placeholders or literals). */
export const inboxStatusSql = (id: string, status: string) =>
  `UPDATE inbox_events SET status = ${status}, processed_at = now() WHERE id = ${id}`;

export async function setInboxStatus(pool: Pool, id: number, status: 'processed' | 'failed'): Promise<void> {
  await pool.query(inboxStatusSql('$1', '$2'), [id, status]);
}

/**
 * Pending events received more than `olderThanMs` ago: stored but possibly never enqueued (Redis was down) or
 * whose job was lost with Redis' memory. Re-enqueueing them is safe: jobs are keyed by inbox id.
 */
export async function listStalePendingEvents(
  pool: Pool,
  olderThanMs: number,
  limit: number,
  afterId = 0,
): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM inbox_events
     WHERE status = 'pending' AND id > $3 AND received_at < now() - make_interval(secs => $1 / 1000.0)
     ORDER BY id LIMIT $2`,
    [olderThanMs, limit, afterId],
  );
  return rows.map((row) => row.id);
}

/** A stored event as an identity simulation reads it: the payload its run worked on, and today's customer of its first run. */
export interface SimulationEvent {
  id: number;
  connector: string;
  type: string;
  external_id: string;
  occurred_at: Date;
  origin: string;
  payload: unknown;
  current: number | null;
}

/**
 * One page of stored events in id order, after `after` (keyset pagination); those whose payload retention removed
 * are left out (there is nothing to map). Reads only.
 */
export async function listEventsForSimulation(pool: Pool, after: number, limit: number): Promise<SimulationEvent[]> {
  const { rows } = await pool.query<SimulationEvent>(
    `SELECT i.id, i.connector, i.type, i.external_id, i.occurred_at, i.origin,
            coalesce((SELECT r.payload FROM workflow_runs r WHERE r.inbox_event_id = i.id AND r.payload IS NOT NULL ORDER BY r.id DESC LIMIT 1), i.payload) AS payload,
            (SELECT coalesce(c.merged_into, c.id) FROM workflow_runs r JOIN customers c ON c.id = r.customer_id
              WHERE r.inbox_event_id = i.id ORDER BY r.id LIMIT 1) AS current
       FROM inbox_events i WHERE i.id > $1 AND i.payload_pruned_at IS NULL ORDER BY i.id LIMIT $2`,
    [after, limit],
  );
  return rows;
}
