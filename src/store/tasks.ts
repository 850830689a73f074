import { markForRecheck } from './segments.js';
import { lockLiveCustomer } from './customers.js';
import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool } from './pool.js';

export const TASK_STATUSES = ['open', 'done', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/** The two moments a task announces: its due time, and `overdue_at` if it is still open then. */
export type TaskPhase = 'due' | 'overdue';

export interface TaskRow {
  id: number;
  customer_id: number | null;
  run_id: number | null;
  agent_id: string | null;
  title: string;
  notes: string | null;
  status: TaskStatus;
  due_at: Date;
  overdue_at: Date;
  created_at: Date;
  completed_at: Date | null;
  completed_by: string | null;
}

const TASK_COLUMNS =
  'id, customer_id, run_id, agent_id, title, notes, status, due_at, overdue_at, created_at, completed_at, completed_by';

export interface NewTask {
  /** The step that creates it: a retried step finds its task. */
  idempotencyKey: string;
  customerId: number | null;
  runId: number | null;
  agentId: string | null;
  title: string;
  notes: string | null;
  dueAt: Date;
  overdueAt: Date;
}

/** Creates the task once per key; a retry returns the task the first attempt made (`created: false`). */
export async function createTask(pool: Pool, task: NewTask): Promise<{ task: TaskRow; created: boolean }> {
  return withRetriedTransaction(pool, async (client) => {
    const customerId = task.customerId === null ? null : await lockLiveCustomer(client, task.customerId);
    const { rows } = await client.query<TaskRow>(
      `INSERT INTO tasks (idempotency_key, customer_id, run_id, agent_id, title, notes, due_at, overdue_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${TASK_COLUMNS}`,
      [task.idempotencyKey, customerId, task.runId, task.agentId, task.title, task.notes, task.dueAt, task.overdueAt],
    );
    if (rows[0]) return { task: rows[0], created: true };
    const existing = await client.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE idempotency_key = $1`, [
      task.idempotencyKey,
    ]);
    return { task: existing.rows[0]!, created: false };
  });
}

export async function getTask(pool: Pool, id: number): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`, [id]);
  return rows[0];
}

export interface TaskFilter {
  agentId?: string;
  status?: string;
  /** Tasks of any of these customers (a customer and those merged into it). */
  customerId?: number;
  before?: number;
  limit: number;
}

export async function listTasks(pool: Pool, filter: TaskFilter): Promise<TaskRow[]> {
  const { rows } = await pool.query<TaskRow>(
    `SELECT ${TASK_COLUMNS} FROM tasks
     WHERE ($1::text IS NULL OR agent_id = $1) AND ($2::text IS NULL OR status = $2)
       AND ($3::bigint IS NULL OR customer_id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $3))
       AND ($4::bigint IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [filter.agentId ?? null, filter.status ?? null, filter.customerId ?? null, filter.before ?? null, filter.limit],
  );
  return rows;
}

/** Marks an open task done. Undefined when there is no such task; `changed: false` when it was not open. */
export async function completeTask(
  pool: Pool,
  id: number,
  by: string,
): Promise<{ task: TaskRow; changed: boolean } | undefined> {
  const { rows } = await pool.query<TaskRow>(
    `UPDATE tasks SET status = 'done', completed_at = now(), completed_by = $2 WHERE id = $1 AND status = 'open' RETURNING ${TASK_COLUMNS}`,
    [id, by],
  );
  if (rows[0]) {
    if (rows[0].customer_id !== null) await markForRecheck(pool, [rows[0].customer_id]); // open_tasks, at the next sweep
    return { task: rows[0], changed: true };
  }
  const task = await getTask(pool, id);
  return task && { task, changed: false };
}

/**
 * Emits task.due or task.overdue for an open task whose time has come, once (keyed by task and phase, so a
 * duplicate or re-created job emits nothing). Returns the event id; undefined when nothing was emitted.
 */
export async function emitTaskEvent(pool: Pool, id: number, phase: TaskPhase): Promise<number | undefined> {
  return withRetriedTransaction(pool, async (client) => {
    const { rows } = await client.query<TaskRow>(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1 FOR UPDATE`, [id]);
    const task = rows[0];
    if (!task || task.status !== 'open') return undefined;
    return emitEngineEvent(client, {
      type: phase === 'due' ? 'task.due' : 'task.overdue',
      customerId: task.customer_id,
      sourceRunId: task.run_id ?? undefined,
      dedupeKey: `task:${task.id}:${phase}`,
      data: {
        task_id: task.id,
        customer_id: task.customer_id,
        agent_id: task.agent_id,
        title: task.title,
        due_at: task.due_at.toISOString(),
        overdue_at: task.overdue_at.toISOString(),
      },
    });
  });
}

/**
 * A page of open tasks (by id after `afterId`) with a phase whose time passed before `cutoff` but that was never
 * announced: its delayed job is gone (Redis lost it). `lastId` is where the next page starts; undefined at the end.
 */
export async function listUnannouncedTaskPhases(
  pool: Pool,
  cutoff: Date,
  limit: number,
  afterId = 0,
): Promise<{ phases: Array<{ id: number; phase: TaskPhase }>; lastId: number | undefined }> {
  const { rows: open } = await pool.query<{ id: number; due_at: Date; overdue_at: Date }>(
    `SELECT id, due_at, overdue_at FROM tasks WHERE status = 'open' AND id > $2 AND due_at < $3 ORDER BY id LIMIT $1`,
    [limit, afterId, cutoff],
  );
  const candidates = open.flatMap((task) =>
    (['due', 'overdue'] as const)
      .filter((phase) => (phase === 'due' ? task.due_at : task.overdue_at) < cutoff)
      .map((phase) => ({ id: task.id, phase })),
  );
  const { rows: announced } = await pool.query<{ dedupe_key: string }>(
    'SELECT dedupe_key FROM engine_events WHERE dedupe_key = ANY($1::text[])',
    [candidates.map((candidate) => `task:${candidate.id}:${candidate.phase}`)],
  );
  const done = new Set(announced.map((row) => row.dedupe_key));
  return {
    phases: candidates.filter((candidate) => !done.has(`task:${candidate.id}:${candidate.phase}`)),
    lastId: open.at(-1)?.id,
  };
}
