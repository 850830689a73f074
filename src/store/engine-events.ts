import type { Pool, PoolClient } from './pool.js';
import type { InboxStatus } from './inbox.js';

/** The engine events workflows can start `on:` (trigger type `event`). */
export const ENGINE_EVENT_TYPES = [
  'customer.created',
  'customer.merged',
  'lead.assigned',
  'lifecycle.changed',
  'task.due',
  'task.overdue',
  'message.received',
  'score.threshold',
  'case.opened',
  'case.status_changed',
  'case.resolved',
  'case.first_response_breached',
  'case.resolution_breached',
  'feedback.received',
  'deal.opened',
  'deal.stage_changed',
  'deal.won',
  'deal.lost',
  'deal.stale',
  'segment.entered',
  'segment.exited',
  'message.sent',
  'call.completed',
] as const;
export type EngineEventType = (typeof ENGINE_EVENT_TYPES)[number];

export interface EngineEventInput {
  type: EngineEventType;
  customerId: number | null;
  data: Record<string, unknown>;
  /** The run whose step caused the event: the event continues that run's chain. */
  sourceRunId?: number;
  /** Emits at most once per key (a retried change that is not itself idempotent). */
  dedupeKey?: string;
  /** The types some workflow starts on: an event of another type is not written, as nothing would run. Default: all. */
  listened?: ReadonlySet<string>;
}

export interface EngineEvent {
  id: number;
  type: EngineEventType;
  customerId: number | null;
  data: Record<string, unknown>;
  /** Events before this one in its chain: 0 for a change made outside event-started runs. */
  depth: number;
  /** Workflows that ran on the way here, oldest first. */
  chain: string[];
  sourceRunId: number | null;
  status: InboxStatus;
  createdAt: Date;
}

/**
 * Writes an engine event in the caller's transaction, so it exists exactly when the change does (or on its own, keyed
 * by `dedupeKey`, after a change that emits it again whenever it is retried). An event caused by
 * a run extends that run's chain: one level deeper than the event that started it, with its workflow appended.
 * Returns the event id, or undefined when `dedupeKey` was already emitted or nobody listens for the type.
 */
export async function emitEngineEvent(client: Pool | PoolClient, event: EngineEventInput): Promise<number | undefined> {
  if (event.listened && !event.listened.has(event.type)) return undefined;
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO engine_events (type, customer_id, data, depth, chain, source_run_id, dedupe_key)
     SELECT $1, $2, $3,
            coalesce((r.trigger->>'depth')::int + 1, 0),
            CASE WHEN r.id IS NULL THEN '{}' ELSE ARRAY(SELECT jsonb_array_elements_text(coalesce(r.trigger->'chain', '[]'))) || r.workflow END,
            $4, $5
     FROM (SELECT 1) AS one LEFT JOIN workflow_runs r ON r.id = $4
     ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    [event.type, event.customerId, JSON.stringify(event.data), event.sourceRunId ?? null, event.dedupeKey ?? null],
  );
  return rows[0]?.id;
}

const EVENT_COLUMNS = `id, type, customer_id AS "customerId", data, depth, chain, source_run_id AS "sourceRunId", status, created_at AS "createdAt"`;

export async function getEngineEvent(pool: Pool, id: number): Promise<EngineEvent | undefined> {
  const { rows } = await pool.query<EngineEvent>(`SELECT ${EVENT_COLUMNS} FROM engine_events WHERE id = $1`, [id]);
  return rows[0];
}

export async function setEngineEventStatus(pool: Pool, id: number, status: 'processed' | 'failed'): Promise<void> {
  await pool.query('UPDATE engine_events SET status = $2, processed_at = now() WHERE id = $1', [id, status]);
}

/** Pending events older than `olderThanMs` (their job may be lost), by id after `afterId`. */
export async function listStalePendingEngineEvents(
  pool: Pool,
  olderThanMs: number,
  limit: number,
  afterId = 0,
): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id FROM engine_events
     WHERE status = 'pending' AND id > $3 AND created_at < now() - make_interval(secs => $1 / 1000.0)
     ORDER BY id LIMIT $2`,
    [olderThanMs, limit, afterId],
  );
  return rows.map((row) => row.id);
}
