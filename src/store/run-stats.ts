import type { Pool } from './pool.js';
import type { RunStatus } from './runs.js';

export interface MinuteCount {
  /** Start of the minute. */
  minute: Date;
  total: number;
  failed: number;
}

/** Runs created per minute over the last `minutes` minutes; minutes without runs are absent. */
export async function runsPerMinute(pool: Pool, minutes = 60): Promise<MinuteCount[]> {
  const { rows } = await pool.query<MinuteCount>(
    `SELECT date_trunc('minute', created_at) AS minute, count(*)::int AS total, count(*) FILTER (WHERE status = 'failed')::int AS failed
     FROM workflow_runs WHERE created_at >= date_trunc('minute', now()) - make_interval(mins => $1 - 1)
     GROUP BY 1 ORDER BY 1`,
    [minutes],
  );
  return rows;
}

export interface WorkflowStats {
  workflow: string;
  total: number;
  succeeded: number;
  failed: number;
  lastRunId: number | null;
  lastStatus: RunStatus | null;
  lastRunAt: Date | null;
}

/**
 * Per workflow: finished runs over the last `hours` (succeeded counts filtered runs too: they did what was asked)
 * and the latest run of all time.
 */
export async function workflowStats(pool: Pool, workflows: string[], hours = 24): Promise<WorkflowStats[]> {
  // The last run: a range on workflow, ordered by (workflow, id), which only workflow_runs_workflow_idx provides.
  // With `workflow = w ORDER BY id DESC` the planner walks the primary key backwards instead: every run is read
  // for a workflow that never ran.
  const { rows } = await pool.query<WorkflowStats>(
    `SELECT w.workflow,
            coalesce(s.total, 0)::int AS total, coalesce(s.succeeded, 0)::int AS succeeded, coalesce(s.failed, 0)::int AS failed,
            l.id AS "lastRunId", l.status AS "lastStatus", l.created_at AS "lastRunAt"
     FROM unnest($1::text[]) WITH ORDINALITY AS w(workflow, position)
     LEFT JOIN (
       SELECT workflow,
              count(*) FILTER (WHERE status IN ('succeeded', 'filtered', 'failed')) AS total,
              count(*) FILTER (WHERE status IN ('succeeded', 'filtered')) AS succeeded,
              count(*) FILTER (WHERE status = 'failed') AS failed
       FROM workflow_runs WHERE created_at >= now() - make_interval(hours => $2) GROUP BY workflow
     ) s ON s.workflow = w.workflow
     LEFT JOIN LATERAL (
       SELECT id, status, created_at FROM workflow_runs r
       WHERE r.workflow >= w.workflow AND r.workflow <= w.workflow ORDER BY r.workflow, r.id DESC LIMIT 1
     ) l ON true
     ORDER BY w.position`,
    [workflows, hours],
  );
  return rows;
}

export interface ConnectorHealth {
  connector: string;
  lastWebhookAt: Date | null;
  /** Webhook deliveries stored over the last hour. */
  webhooksLastHour: number;
  /** Events of this connector whose job failed for good (latest first). */
  lastFailedEvent: { id: number; type: string; receivedAt: Date } | null;
  cursors: Array<{ resource: string; cursor: unknown; updatedAt: Date }>;
}

/**
 * Per connector: the latest webhook stored, deliveries in the last hour, the latest failed event, pull cursors.
 * The latest webhook is the newest `received_at` (inbox_events_webhook_idx answers it with the hourly count).
 */
export async function connectorHealth(pool: Pool, connectors: string[]): Promise<ConnectorHealth[]> {
  const { rows } = await pool.query<ConnectorHealth>(
    `SELECT c AS connector,
            (SELECT max(received_at) FROM inbox_events WHERE connector = c AND origin = 'webhook') AS "lastWebhookAt",
            (SELECT count(*)::int FROM inbox_events WHERE connector = c AND origin = 'webhook' AND received_at >= now() - interval '1 hour') AS "webhooksLastHour",
            (SELECT json_build_object('id', id, 'type', type, 'receivedAt', received_at) FROM inbox_events
              WHERE connector = c AND status = 'failed' ORDER BY id DESC LIMIT 1) AS "lastFailedEvent",
            coalesce((SELECT json_agg(json_build_object('resource', resource, 'cursor', cursor, 'updatedAt', updated_at) ORDER BY resource)
              FROM connector_cursors WHERE connector = c), '[]') AS cursors
     FROM unnest($1::text[]) AS c`,
    [connectors],
  );
  return rows;
}

export interface FailedRun {
  id: number;
  workflow: string;
  error: string | null;
  finishedAt: Date | null;
}

/**
 * The latest failed runs of `workflows` over the same window as {@link workflowStats}, so the overview's failed counts
 * and the failures it lists are the same runs.
 */
export async function latestFailures(pool: Pool, workflows: string[], limit = 10, hours = 24): Promise<FailedRun[]> {
  const { rows } = await pool.query<FailedRun>(
    `SELECT id, workflow, error, finished_at AS "finishedAt" FROM workflow_runs
     WHERE status = 'failed' AND workflow = ANY($2) AND created_at >= now() - make_interval(hours => $3) ORDER BY id DESC LIMIT $1`,
    [limit, workflows, hours],
  );
  return rows;
}

/** Current status of the given runs (for live updates of rows a viewer shows). */
export async function runStatuses(
  pool: Pool,
  ids: number[],
): Promise<Array<{ id: number; status: RunStatus; attempts: number }>> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<{ id: number; status: RunStatus; attempts: number }>(
    'SELECT id, status, attempts FROM workflow_runs WHERE id = ANY($1)',
    [ids],
  );
  return rows;
}
