import { NEEDS_PERSON_SQL } from './needs-person.js';
import { inboxStatusSql } from './inbox.js';
import type { Pool, PoolClient } from './pool.js';

/** Every status a run can have (the table's CHECK constraint lists the same). */
export const RUN_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'filtered', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** The statuses from which a person may cancel a run: it has not finished well. */
export const CANCELLABLE_RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'waiting', 'failed'];

export interface RunRow {
  id: number;
  workflow: string;
  workflowVersion: string;
  triggerKey: string;
  inboxEventId: number | null;
  trigger: Record<string, unknown>;
  status: RunStatus;
  error: string | null;
  errorRetryable: boolean;
  attempts: number;
  customerId: number | null;
  /** The enriched payload the run works on; null when it is the stored webhook's. */
  payload: unknown;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** While `waiting`: when the run continues. Afterwards the time of its last suspension. */
  resumeAt: Date | null;
  /** The step that suspended the run (it runs again at `resumeAt`) and when it did. */
  suspendedStep: number | null;
  suspendedAt: Date | null;
  /** When retention removed the run's step records and payload (src/store/retention.ts); null while it has them. */
  stepsPrunedAt: Date | null;
}

/** Every status of a step record. */
export const STEP_STATUSES = ['succeeded', 'failed', 'waiting'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

export interface StepRecord {
  stepIndex: number;
  stepId: string;
  type: string;
  status: StepStatus;
  input: unknown;
  output: unknown;
  state: Record<string, unknown> | null;
  error: string | null;
  attempt: number;
  startedAt: Date;
  durationMs: number;
}

const RUN_COLUMNS = `id, workflow, workflow_version AS "workflowVersion", trigger_key AS "triggerKey",
  inbox_event_id AS "inboxEventId", trigger, status, error, error_retryable AS "errorRetryable", attempts, customer_id AS "customerId", payload,
  created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt", resume_at AS "resumeAt",
  suspended_step AS "suspendedStep", suspended_at AS "suspendedAt", steps_pruned_at AS "stepsPrunedAt"`;

export interface NewRun {
  workflow: string;
  workflowVersion: string;
  triggerKey: string;
  inboxEventId?: number;
  trigger: Record<string, unknown>;
  payload?: unknown;
}

/** The run of `workflow` for this trigger: created on first sight, the existing one afterwards. */
export async function ensureRun(pool: Pool, run: NewRun): Promise<RunRow> {
  return (await ensureRunToStart(pool, run, false)).run;
}

/**
 * `ensureRun` for a run about to be executed: a new run is created already started (attempt 1, no steps done), one
 * write instead of an insert and an update; `started` then says so. An existing run is returned as it is.
 */
export async function ensureRunToStart(
  pool: Pool,
  run: NewRun,
  start = true,
): Promise<{ run: RunRow; started?: StartedRun }> {
  const inserted = await pool.query<RunRow>(
    `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, inbox_event_id, trigger, payload, status, attempts, started_at)
     VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN 'running' ELSE 'queued' END, CASE WHEN $7 THEN 1 ELSE 0 END, CASE WHEN $7 THEN now() END)
     ON CONFLICT (trigger_key, workflow) DO NOTHING RETURNING ${RUN_COLUMNS}`,
    [
      run.workflow,
      run.workflowVersion,
      run.triggerKey,
      run.inboxEventId ?? null,
      JSON.stringify(run.trigger),
      run.payload === undefined ? null : JSON.stringify(run.payload),
      start,
    ],
  );
  if (inserted.rows[0]) return { run: inserted.rows[0], ...(start ? { started: { attempt: 1, completed: [] } } : {}) };
  const existing = await pool.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE trigger_key = $1 AND workflow = $2`,
    [run.triggerKey, run.workflow],
  );
  return { run: existing.rows[0]! };
}

export async function getRun(pool: Pool, id: number): Promise<RunRow | undefined> {
  const { rows } = await pool.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM workflow_runs WHERE id = $1`, [id]);
  return rows[0];
}

/** A step an earlier attempt completed: what a resumed run reuses instead of running it again. */
export interface CompletedStep {
  stepIndex: number;
  stepId: string;
  output: unknown;
  state: Record<string, unknown> | null;
}

/** A run's attempt as it starts, with the steps earlier attempts completed. */
export interface StartedRun {
  attempt: number;
  completed: CompletedStep[];
}

/**
 * Marks the run running and returns its attempt number with the steps earlier attempts completed, in one round trip;
 * undefined when it was cancelled (it must not run).
 */
export async function startRun(pool: Pool, id: number): Promise<StartedRun | undefined> {
  const { rows } = await pool.query<{ attempts: number; completed: CompletedStep[] }>(
    `WITH started AS (
       UPDATE workflow_runs SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()), error = NULL
       WHERE id = $1 AND status <> 'cancelled' RETURNING attempts)
     SELECT attempts, coalesce((SELECT json_agg(json_build_object('stepIndex', step_index, 'stepId', step_id, 'output', output, 'state', state))
                                FROM run_steps WHERE run_id = $1 AND status = 'succeeded'), '[]') AS completed
     FROM started`,
    [id],
  );
  return rows[0] && { attempt: rows[0].attempts, completed: rows[0].completed };
}

/** Cancels a run that has not finished well, with a person's reason; undefined when its status does not allow it. */
export async function cancelRun(pool: Pool, id: number, reason: string): Promise<RunRow | undefined> {
  const { rows } = await pool.query<RunRow>(
    `UPDATE workflow_runs SET status = 'cancelled', error = $2, error_retryable = false, finished_at = now()
     WHERE id = $1 AND status = ANY($3::text[]) RETURNING ${RUN_COLUMNS}`,
    [id, `cancelled: ${reason}`, CANCELLABLE_RUN_STATUSES],
  );
  return rows[0];
}

/**
 * How many replays of a stored event a workflow has had (their trigger keys end in `@<replay name>`), not counting
 * those created in the last `recentMs`.
 */
export async function countReplays(pool: Pool, inboxEventId: number, workflow: string, recentMs = 0): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workflow_runs
     WHERE inbox_event_id = $1 AND workflow = $2 AND trigger_key LIKE '%@%' AND created_at <= now() - make_interval(secs => $3 / 1000.0)`,
    [inboxEventId, workflow, recentMs],
  );
  return rows[0]!.n;
}

export interface RunEnd {
  status: 'succeeded' | 'filtered' | 'failed';
  error?: string;
  retryable?: boolean;
  customerId: number | null;
  /** The inbox event marked processed with this end (its last run's end: one write fewer per event). */
  settlesInbox?: number;
}

/** The UPDATE finishing run $1 with the RunEnd parameters (finishParams) from `$first` on. */
function finishRunSql(first: number): string {
  const [status, error, retryable, customer] = [0, 1, 2, 3].map((i) => `$${first + i}`);
  // The customer as it is now: another run may have merged the one this run resolved.
  return `UPDATE workflow_runs SET status = ${status}, error = ${error}, error_retryable = ${retryable}, finished_at = now(),
       customer_id = coalesce((SELECT coalesce(merged_into, id) FROM customers WHERE id = ${customer}), customer_id)
     WHERE id = $1 AND status <> 'cancelled'`;
}
const finishParams = (end: RunEnd) => [end.status, end.error ?? null, end.retryable ?? false, end.customerId];

export async function markRunFinished(pool: Pool, id: number, end: RunEnd): Promise<void> {
  await pool.query(finishRunSql(2), [id, ...finishParams(end)]);
}

/**
 * Failed runs that will run again (the job's next automatic attempt, or a person's retry) become `queued` with their
 * last error kept, so every view shows one state, "retrying", instead of `failed` with a Retry button; the attempt
 * that starts them marks them running. Runs whose records retention removed are left alone (nothing to resume from).
 * Returns the ids changed.
 */
export async function markRunsRetrying(pool: Pool, ids: number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const { rows } = await pool.query<{ id: number }>(
    `UPDATE workflow_runs SET status = 'queued', finished_at = NULL
     WHERE id = ANY($1) AND status = 'failed' AND steps_pruned_at IS NULL RETURNING id`,
    [ids],
  );
  return rows.map((row) => Number(row.id));
}

/** Undoes {@link markRunsRetrying} when the retry could not be queued. */
export async function markRetryNotQueued(pool: Pool, id: number): Promise<void> {
  await pool.query(
    `UPDATE workflow_runs SET status = 'failed', finished_at = now() WHERE id = $1 AND status = 'queued'`,
    [id],
  );
}

/** Suspends the run until `resumeAt`; `stepIndex` runs again then. */
export async function markRunWaiting(
  pool: Pool,
  id: number,
  suspension: { stepIndex: number; resumeAt: Date; customerId: number | null },
): Promise<void> {
  await pool.query(
    `UPDATE workflow_runs SET status = 'waiting', resume_at = $2, suspended_step = $3, suspended_at = now(), error = NULL,
       customer_id = coalesce((SELECT coalesce(merged_into, id) FROM customers WHERE id = $4), customer_id)
     WHERE id = $1 AND status <> 'cancelled'`,
    [id, suspension.resumeAt, suspension.stepIndex, suspension.customerId],
  );
}

/** Waiting runs whose time has come (at `now`), oldest first, after `afterId`. */
export async function listDueWaitingRuns(
  pool: Pool,
  now: Date,
  limit: number,
  afterId = 0,
): Promise<Array<{ id: number; resumeAt: Date }>> {
  const { rows } = await pool.query<{ id: number; resumeAt: Date }>(
    `SELECT id, resume_at AS "resumeAt" FROM workflow_runs WHERE status = 'waiting' AND resume_at <= $1 AND id > $2 ORDER BY id LIMIT $3`,
    [now, afterId, limit],
  );
  return rows;
}

export async function listStepRecords(pool: Pool, runId: number): Promise<StepRecord[]> {
  const { rows } = await pool.query<StepRecord>(
    `SELECT step_index AS "stepIndex", step_id AS "stepId", type, status, input, output, state, error, attempt,
            started_at AS "startedAt", duration_ms AS "durationMs"
     FROM run_steps WHERE run_id = $1 ORDER BY step_index`,
    [runId],
  );
  return rows;
}

/**
 * Records steps' latest attempts (a retry overwrites the failed attempt of the same step) and returns whether the
 * run has been cancelled meanwhile, in the same round trip, so the run stops before its next step. With `end`, the
 * last step recorded was the run's last: the run is finished in that round trip too.
 */
export async function recordSteps(
  db: Pool | PoolClient,
  runId: number,
  steps: StepRecord[],
  end?: RunEnd,
): Promise<{ cancelled: boolean }> {
  const COLUMNS = 11;
  const params: unknown[] = [runId];
  const rows = steps.map((step) => {
    const first = params.length + 1;
    params.push(
      step.stepIndex,
      step.stepId,
      step.type,
      step.status,
      JSON.stringify(step.input ?? null),
      JSON.stringify(step.output ?? null),
      step.state === null ? null : JSON.stringify(step.state),
      step.error,
      step.attempt,
      step.startedAt,
      step.durationMs,
    );
    return `($1, ${Array.from({ length: COLUMNS }, (_, i) => `$${first + i}`).join(', ')})`;
  });
  const record = `INSERT INTO run_steps (run_id, step_index, step_id, type, status, input, output, state, error, attempt, started_at, duration_ms)
       VALUES ${rows.join(', ')}
       ON CONFLICT (run_id, step_index) DO UPDATE SET status = EXCLUDED.status, input = EXCLUDED.input,
         output = EXCLUDED.output, state = EXCLUDED.state, error = EXCLUDED.error, attempt = EXCLUDED.attempt,
         started_at = EXCLUDED.started_at, duration_ms = EXCLUDED.duration_ms`;
  const writes = steps.length > 0 ? [`recorded AS (${record})`] : [];
  if (end) writes.push(`finished AS (${finishRunSql(params.length + 1)})`);
  if (end) params.push(...finishParams(end));
  if (end?.settlesInbox !== undefined) {
    params.push(end.settlesInbox);
    writes.push(`processed AS (${inboxStatusSql(`$${params.length}`, "'processed'")})`);
  }
  // The SELECT sees the run as it was before this statement: cancelled by someone else, not finished by us.
  const { rows: run } = await db.query<{ cancelled: boolean }>(
    `${writes.length > 0 ? `WITH ${writes.join(', ')} ` : ''}SELECT status = 'cancelled' AS cancelled FROM workflow_runs WHERE id = $1`,
    params,
  );
  return { cancelled: run[0]?.cancelled ?? false };
}

export interface RunFilter {
  workflow?: string;
  status?: string;
  customerId?: number;
  /** Runs of any of these customers (a customer and those merged into it). */
  customerIds?: number[];
  /** The connector of the triggering event. */
  connector?: string;
  /** Runs created at or after this time. */
  since?: Date;
  /** Only runs with an uncertain reply (see `src/store/needs-person.ts`). */
  needsPerson?: boolean;
  /** Keyset pagination: runs with an id below this. */
  before?: number;
  /** Runs with an id above this (newest first, as always). */
  after?: number;
  limit: number;
}

export async function listRuns(pool: Pool, filter: RunFilter): Promise<RunRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.workflow) add('workflow = ?', filter.workflow);
  if (filter.status) add('status = ?', filter.status);
  // Spelled out so that a prepared (generic) plan can use the partial index of runs not succeeded (migration 0024).
  if (filter.status && filter.status !== 'succeeded') where.push("status <> 'succeeded'");
  if (filter.customerId !== undefined) add('customer_id = ?', filter.customerId);
  if (filter.customerIds) add('customer_id = ANY(?)', filter.customerIds);
  if (filter.connector) add("trigger->>'connector' = ?", filter.connector);
  if (filter.since) add('created_at >= ?', filter.since);
  if (filter.needsPerson) where.push(NEEDS_PERSON_SQL('workflow_runs.id'));
  if (filter.before !== undefined) add('id < ?', filter.before);
  if (filter.after !== undefined) add('id > ?', filter.after);
  params.push(filter.limit);
  const { rows } = await pool.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM workflow_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/**
 * Stored events received since `since` that a replay would run again: with a run of `workflow` (any workflow when
 * absent) in `status` when one is given, else every event; never those whose payload retention removed.
 */
export async function listReplayableEvents(
  pool: Pool,
  filter: { since: Date; workflow?: string; status?: string },
): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT DISTINCT i.id FROM inbox_events i
     LEFT JOIN workflow_runs r ON r.inbox_event_id = i.id AND ($2::text IS NULL OR r.workflow = $2)
     WHERE i.received_at >= $1 AND i.payload_pruned_at IS NULL AND ($3::text IS NULL OR r.status = $3)
     ORDER BY i.id`,
    [filter.since, filter.workflow ?? null, filter.status ?? null],
  );
  return rows.map((row) => row.id);
}
