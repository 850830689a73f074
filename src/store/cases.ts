import { lockLiveCustomer } from './customers.js';
import { emitEngineEvent, type EngineEventType } from './engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from './pool.js';

export const CASE_STATUSES = ['open', 'waiting_on_customer', 'resolved', 'closed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];
export const CASE_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export type CasePriority = (typeof CASE_PRIORITIES)[number];
/** The two targets of a case; each breaches at most once. */
export type CaseTarget = 'first_response' | 'resolution';
export type CaseEntryKind = 'inbound' | 'reply' | 'auto_reply' | 'note' | 'status' | 'assignment' | 'feedback';

/**
 * How a case's targets are counted: in its pool's business hours, or round the clock. Given by the engine (the store
 * knows no hours); `dueAfter` is null when the hours never open again.
 */
export interface CaseClock {
  dueAfter: (from: Date, ms: number) => Date | null;
  /** Open time from `from` to `to` (negative when `to` is earlier). */
  between: (from: Date, to: Date) => number;
}
export type ClockFor = (businessHours: string | null) => CaseClock;

export interface CaseRow {
  id: number;
  customer_id: number;
  run_id: number | null;
  subject: string;
  channel: string | null;
  source_event: string | null;
  priority: CasePriority;
  status: CaseStatus;
  pool: string;
  owner_agent_id: string | null;
  business_hours: string | null;
  first_response_target_ms: number | null;
  resolution_target_ms: number | null;
  first_response_due_at: Date | null;
  resolution_due_at: Date | null;
  first_response_left_ms: number | null;
  resolution_left_ms: number | null;
  first_responded_at: Date | null;
  first_responded_by: string | null;
  first_response_breached_at: Date | null;
  resolution_breached_at: Date | null;
  opened_at: Date;
  status_changed_at: Date;
  resolved_at: Date | null;
  closed_at: Date | null;
  reopened_count: number;
}

export interface CaseEntry {
  id: number;
  case_id: number;
  kind: CaseEntryKind;
  author: string | null;
  body: string | null;
  channel: string | null;
  timeline_event_id: number | null;
  outbound_message_id: number | null;
  data: Record<string, unknown>;
  at: Date;
}

const CASE_COLUMNS = `id, customer_id, run_id, subject, channel, source_event, priority, status, pool, owner_agent_id, business_hours,
  first_response_target_ms::float8 AS first_response_target_ms, resolution_target_ms::float8 AS resolution_target_ms,
  first_response_due_at, resolution_due_at, first_response_left_ms::float8 AS first_response_left_ms,
  resolution_left_ms::float8 AS resolution_left_ms, first_responded_at, first_responded_by, first_response_breached_at,
  resolution_breached_at, opened_at, status_changed_at, resolved_at, closed_at, reopened_count`;
const ENTRY_COLUMNS = 'id, case_id, kind, author, body, channel, timeline_event_id, outbound_message_id, data, at';

/** A due time whose delayed breach check must exist (the caller queues it after commit). */
export interface DueCheck {
  caseId: number;
  target: CaseTarget;
  dueAt: Date;
}

/** What a change of cases produced: engine events to queue and breach checks to schedule, once it committed. */
export interface CaseChange {
  events: Array<number | undefined>;
  checks: DueCheck[];
}

function dueChecks(row: CaseRow): DueCheck[] {
  if (row.status !== 'open') return [];
  const checks: DueCheck[] = [];
  if (row.first_response_due_at && !row.first_response_breached_at)
    checks.push({ caseId: row.id, target: 'first_response', dueAt: row.first_response_due_at });
  if (row.resolution_due_at && !row.resolution_breached_at)
    checks.push({ caseId: row.id, target: 'resolution', dueAt: row.resolution_due_at });
  return checks;
}

/** The facts every case event carries; `extra` per event. */
function eventData(row: CaseRow, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    case_id: row.id,
    customer_id: row.customer_id,
    subject: row.subject,
    status: row.status,
    priority: row.priority,
    pool: row.pool,
    owner_agent_id: row.owner_agent_id,
    channel: row.channel,
    first_response_due_at: row.first_response_due_at?.toISOString() ?? null,
    resolution_due_at: row.resolution_due_at?.toISOString() ?? null,
    ...extra,
  };
}

export interface EventOptions {
  listened?: ReadonlySet<string>;
  sourceRunId?: number;
  /** Facts added to every event of the case (the pool lead, for notifications). */
  extra?: (row: CaseRow) => Record<string, unknown>;
}

function emit(
  client: PoolClient,
  type: EngineEventType,
  row: CaseRow,
  options: EventOptions,
  extra: Record<string, unknown> = {},
  dedupeKey?: string,
) {
  return emitEngineEvent(client, {
    type,
    customerId: row.customer_id,
    data: eventData(row, { ...options.extra?.(row), ...extra }),
    sourceRunId: options.sourceRunId,
    listened: options.listened,
    dedupeKey,
  });
}

async function insertEntry(
  client: PoolClient,
  row: CaseRow,
  entry: {
    kind: CaseEntryKind;
    author?: string | null;
    body?: string | null;
    channel?: string | null;
    timelineEventId?: number | null;
    outboundMessageId?: number | null;
    data?: Record<string, unknown>;
    key?: string;
    at: Date;
  },
): Promise<CaseEntry | undefined> {
  const { rows } = await client.query<CaseEntry>(
    `INSERT INTO case_entries (case_id, customer_id, kind, author, body, channel, timeline_event_id, outbound_message_id, data, idempotency_key, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING ${ENTRY_COLUMNS}`,
    [
      row.id,
      row.customer_id,
      entry.kind,
      entry.author ?? null,
      entry.body ?? null,
      entry.channel ?? null,
      entry.timelineEventId ?? null,
      entry.outboundMessageId ?? null,
      JSON.stringify(entry.data ?? {}),
      entry.key ?? null,
      entry.at,
    ],
  );
  return rows[0];
}

async function lockCase(client: PoolClient, id: number): Promise<CaseRow | undefined> {
  const { rows } = await client.query<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cases WHERE id = $1 FOR UPDATE`, [id]);
  return rows[0];
}

/** Writes the columns given and returns the case as it is now. */
async function updateCase(client: PoolClient, id: number, set: Record<string, unknown>): Promise<CaseRow> {
  const columns = Object.keys(set);
  const { rows } = await client.query<CaseRow>(
    `UPDATE cases SET ${columns.map((column, i) => `${column} = $${i + 2}`).join(', ')} WHERE id = $1 RETURNING ${CASE_COLUMNS}`,
    [id, ...columns.map((column) => set[column])],
  );
  return rows[0]!;
}

/** The clock's columns when a case starts waiting: what is left of each running target is kept, the due times cleared. */
function pausedClock(row: CaseRow, clock: CaseClock, now: Date): Record<string, unknown> {
  const left = (due: Date | null) => (due === null ? null : Math.max(0, clock.between(now, due)));
  return {
    first_response_left_ms: left(row.first_response_due_at),
    resolution_left_ms: left(row.resolution_due_at),
    first_response_due_at: null,
    resolution_due_at: null,
  };
}

/** The clock's columns when a case runs again: the open time left of each target from now. */
function resumedClock(row: CaseRow, clock: CaseClock, now: Date): Record<string, unknown> {
  const due = (left: number | null) => (left === null ? null : clock.dueAfter(now, left));
  return {
    first_response_due_at: due(row.first_response_left_ms),
    resolution_due_at: due(row.resolution_left_ms),
    first_response_left_ms: null,
    resolution_left_ms: null,
  };
}

/**
 * The columns and events of a status change, applied in the caller's transaction. Waiting on the customer pauses the
 * clocks; open again resumes them; resolving stops them; a resolved case opened again gets its full resolution target.
 */
async function changeStatus(
  client: PoolClient,
  row: CaseRow,
  to: CaseStatus,
  by: { author: string | null; now: Date; clock: CaseClock; reason?: string; key?: string },
  options: EventOptions,
): Promise<{ row: CaseRow; events: Array<number | undefined> }> {
  const { now, clock } = by;
  const from = row.status;
  let set: Record<string, unknown> = { status: to, status_changed_at: now };
  if (to === 'waiting_on_customer') set = { ...set, ...pausedClock(row, clock, now) };
  if (to === 'open' && from === 'waiting_on_customer') set = { ...set, ...resumedClock(row, clock, now) };
  if (to === 'open' && (from === 'resolved' || from === 'closed')) {
    set = {
      ...set,
      resolution_due_at: row.resolution_target_ms === null ? null : clock.dueAfter(now, row.resolution_target_ms),
      resolution_left_ms: null,
      resolved_at: null,
      closed_at: null,
      reopened_count: row.reopened_count + 1,
    };
  }
  if (to === 'resolved' || to === 'closed') {
    set = {
      ...set,
      first_response_due_at: null,
      resolution_due_at: null,
      first_response_left_ms: null,
      resolution_left_ms: null,
    };
    set[to === 'resolved' ? 'resolved_at' : 'closed_at'] = now;
    if (to === 'closed' && row.resolved_at === null) set.resolved_at = now;
  }
  const updated = await updateCase(client, row.id, set);
  await insertEntry(client, updated, {
    kind: 'status',
    author: by.author,
    body: by.reason ?? null,
    data: { from, to },
    key: by.key,
    at: now,
  });
  const events = [await emit(client, 'case.status_changed', updated, options, { from, to, by: by.author })];
  if (to === 'resolved') events.push(await emit(client, 'case.resolved', updated, options, { by: by.author }));
  return { row: updated, events };
}

export interface OpenCaseInput {
  /** The step opening it: a retry finds the case (or the entry it added to another). */
  idempotencyKey: string;
  customerId: number;
  runId: number | null;
  subject: string;
  channel: string | null;
  sourceEvent: string | null;
  /** The customer's message, put on the thread. */
  message: { body: string; timelineEventId: number | null; at: Date } | null;
  priority: CasePriority;
  pool: string;
  /** Agents of the pool who may take it now, in the pool's order: the one with the fewest active cases gets it. */
  candidates: string[];
  businessHours: string | null;
  firstResponseMs: number | null;
  resolutionMs: number | null;
  /** Join the customer's open (or waiting) case instead of opening another. */
  joinOpen: boolean;
  /** False: the message only joins (or reopens) a case; none is opened for it. */
  mayOpen: boolean;
  /** Open again the customer's case resolved less than this long ago (ms), instead of opening another. */
  reopenWithinMs: number | null;
  now: Date;
  clock: CaseClock;
  events: EventOptions;
}

export type OpenCaseResult = CaseChange &
  ({ case: CaseRow; action: 'opened' | 'joined' | 'reopened' } | { case: null; action: 'none' });

/**
 * Opens a case for the customer, or adds the message to their open case (`joinOpen`), or opens again a case resolved
 * less than `reopenWithinMs` ago. Once per key: a retried step returns what the first attempt did.
 */
export async function openCase(pool: Pool, input: OpenCaseInput): Promise<OpenCaseResult> {
  return withRetriedTransaction(pool, async (client) => {
    const customerId = await lockLiveCustomer(client, input.customerId);
    // The customer lock is shared: two messages arriving together take turns here, so they never open two cases.
    await client.query('SELECT pg_advisory_xact_lock(18, ($1::bigint % 2147483647)::int)', [customerId]);
    const { rows: done } = await client.query<CaseRow & { entry: boolean }>(
      `SELECT ${CASE_COLUMNS}, idempotency_key <> $1 AS entry FROM cases
       WHERE idempotency_key = $1 OR id = (SELECT case_id FROM case_entries WHERE idempotency_key = $1)`,
      [input.idempotencyKey],
    );
    if (done[0]) {
      const { entry: joined, ...row } = done[0];
      return {
        case: row,
        action: joined ? (row.reopened_count > 0 ? 'reopened' : 'joined') : 'opened',
        events: [],
        checks: dueChecks(row),
      };
    }
    const message = (row: CaseRow) =>
      input.message &&
      insertEntry(client, row, {
        kind: 'inbound',
        body: input.message.body,
        channel: input.channel,
        timelineEventId: input.message.timelineEventId,
        key: input.idempotencyKey,
        at: input.message.at,
      });
    const { rows: existing } = await client.query<CaseRow>(
      `SELECT ${CASE_COLUMNS} FROM cases WHERE customer_id = $1
         AND (($2 AND status IN ('open', 'waiting_on_customer')) OR ($3::float8 IS NOT NULL AND status = 'resolved' AND resolved_at > $4::timestamptz - make_interval(secs => $3 / 1000.0)))
       ORDER BY (status IN ('open', 'waiting_on_customer')) DESC, id DESC LIMIT 1 FOR UPDATE`,
      [customerId, input.joinOpen, input.reopenWithinMs, input.now],
    );
    const found = existing[0];
    if (found) {
      let row = found;
      const events: Array<number | undefined> = [];
      if (row.status !== 'open') {
        const changed = await changeStatus(
          client,
          row,
          'open',
          { author: null, now: input.now, clock: input.clock, reason: 'the customer wrote again' },
          input.events,
        );
        row = changed.row;
        events.push(...changed.events);
      }
      // Without a message the key is kept on a status entry, so a retry still finds this case.
      if (!input.message)
        await insertEntry(client, row, {
          kind: 'status',
          data: { joined: true },
          key: input.idempotencyKey,
          at: input.now,
        });
      else await message(row);
      return { case: row, action: found.status === 'resolved' ? 'reopened' : 'joined', events, checks: dueChecks(row) };
    }
    if (!input.mayOpen) return { case: null, action: 'none', events: [], checks: [] };
    const { rows: load } = await client.query<{ agent_id: string }>(
      `SELECT a.agent_id FROM unnest($1::text[]) WITH ORDINALITY AS a(agent_id, n)
       ORDER BY (SELECT count(*) FROM cases c WHERE c.owner_agent_id = a.agent_id AND c.status IN ('open', 'waiting_on_customer')), n LIMIT 1`,
      [input.candidates],
    );
    const due = (ms: number | null) => (ms === null ? null : input.clock.dueAfter(input.now, ms));
    const { rows } = await client.query<CaseRow>(
      `INSERT INTO cases (idempotency_key, customer_id, run_id, subject, channel, source_event, priority, pool, owner_agent_id, business_hours,
         first_response_target_ms, resolution_target_ms, first_response_due_at, resolution_due_at, opened_at, status_changed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING ${CASE_COLUMNS}`,
      [
        input.idempotencyKey,
        customerId,
        input.runId,
        input.subject,
        input.channel,
        input.sourceEvent,
        input.priority,
        input.pool,
        load[0]?.agent_id ?? null,
        input.businessHours,
        input.firstResponseMs,
        input.resolutionMs,
        due(input.firstResponseMs),
        due(input.resolutionMs),
        input.now,
      ],
    );
    const row = rows[0]!;
    await message(row);
    const events = [await emit(client, 'case.opened', row, input.events)];
    return { case: row, action: 'opened', events, checks: dueChecks(row) };
  });
}

/** Who acts on a case and when; `key` makes a retried request one change. */
export interface CaseActor {
  author: string | null;
  now: Date;
  clock: ClockFor;
  events: EventOptions;
}

export class CaseNotFoundError extends Error {
  override name = 'CaseNotFoundError';
}

async function withCase<T>(pool: Pool, id: number, work: (client: PoolClient, row: CaseRow) => Promise<T>): Promise<T> {
  return withRetriedTransaction(pool, async (client) => {
    const row = await lockCase(client, id);
    if (!row) throw new CaseNotFoundError(`there is no case ${id}`);
    return work(client, row);
  });
}

/** Sets the status; `changed: false` when it already was. */
export async function setCaseStatus(
  pool: Pool,
  id: number,
  to: CaseStatus,
  actor: CaseActor & { reason?: string },
): Promise<CaseChange & { case: CaseRow; changed: boolean; from: CaseStatus }> {
  return withCase(pool, id, async (client, row) => {
    if (row.status === to) return { case: row, changed: false, from: row.status, events: [], checks: [] };
    const changed = await changeStatus(
      client,
      row,
      to,
      { author: actor.author, now: actor.now, clock: actor.clock(row.business_hours), reason: actor.reason },
      actor.events,
    );
    return {
      case: changed.row,
      changed: true,
      from: row.status,
      events: changed.events,
      checks: dueChecks(changed.row),
    };
  });
}

/** Gives the case to another agent; `changed: false` when they already own it. */
export async function assignCase(
  pool: Pool,
  id: number,
  agentId: string,
  actor: CaseActor,
): Promise<{ case: CaseRow; changed: boolean; from: string | null }> {
  return withCase(pool, id, async (client, row) => {
    if (row.owner_agent_id === agentId) return { case: row, changed: false, from: row.owner_agent_id };
    const updated = await updateCase(client, id, { owner_agent_id: agentId });
    await insertEntry(client, updated, {
      kind: 'assignment',
      author: actor.author,
      data: { from: row.owner_agent_id, to: agentId },
      at: actor.now,
    });
    return { case: updated, changed: true, from: row.owner_agent_id };
  });
}

/**
 * Adds to the thread: a note or a reply of a person stops the first-response clock (`byPerson`); automated messages
 * and the customer's messages do not. A customer's message on a case waiting on them opens it again.
 */
export async function addCaseEntry(
  pool: Pool,
  id: number,
  entry: {
    kind: CaseEntryKind;
    body: string | null;
    channel?: string | null;
    outboundMessageId?: number | null;
    data?: Record<string, unknown>;
    key?: string;
    byPerson: boolean;
  },
  actor: CaseActor,
): Promise<CaseChange & { case: CaseRow; entry: CaseEntry | undefined }> {
  return withCase(pool, id, async (client, row) => {
    const added = await insertEntry(client, row, { ...entry, author: actor.author, at: actor.now });
    if (!added) return { case: row, entry: undefined, events: [], checks: [] };
    if (entry.byPerson && row.first_responded_at === null) {
      row = await updateCase(client, id, {
        first_responded_at: actor.now,
        first_responded_by: actor.author,
        first_response_due_at: null,
        first_response_left_ms: null,
      });
    }
    return { case: row, entry: added, events: [], checks: [] };
  });
}

/**
 * Announces a breached target once (engine event keyed by case and target), when the case is open, the target still
 * running and its due time passed. A due time moved later (the clock was paused) is left to its own check.
 */
export async function emitCaseBreach(
  pool: Pool,
  id: number,
  target: CaseTarget,
  now: Date,
  events: EventOptions,
): Promise<number | undefined> {
  return withRetriedTransaction(pool, async (client) => {
    const row = await lockCase(client, id);
    if (!row || row.status !== 'open') return undefined;
    const due = target === 'first_response' ? row.first_response_due_at : row.resolution_due_at;
    const breached = target === 'first_response' ? row.first_response_breached_at : row.resolution_breached_at;
    if (!due || breached || due.getTime() > now.getTime()) return undefined;
    const updated = await updateCase(client, id, { [`${target}_breached_at`]: now });
    return emit(
      client,
      target === 'first_response' ? 'case.first_response_breached' : 'case.resolution_breached',
      updated,
      events,
      { target, due_at: due.toISOString() },
      `case:${id}:${target}`,
    );
  });
}

/** Open cases (after `afterId`) with a running target due at `now` that has not breached: the reconciler checks their jobs. */
export async function listDueCaseChecks(pool: Pool, now: Date, limit: number, afterId = 0): Promise<DueCheck[]> {
  const { rows } = await pool.query<CaseRow>(
    `SELECT ${CASE_COLUMNS} FROM cases WHERE status = 'open' AND id > $2
       AND ((first_response_due_at <= $1 AND first_response_breached_at IS NULL) OR (resolution_due_at <= $1 AND resolution_breached_at IS NULL))
     ORDER BY id LIMIT $3`,
    [now, afterId, limit],
  );
  return rows.flatMap((row) => dueChecks(row).filter((check) => check.dueAt.getTime() <= now.getTime()));
}

export async function getCase(pool: Pool, id: number): Promise<CaseRow | undefined> {
  const { rows } = await pool.query<CaseRow>(`SELECT ${CASE_COLUMNS} FROM cases WHERE id = $1`, [id]);
  return rows[0];
}

export async function caseThread(pool: Pool, id: number): Promise<CaseEntry[]> {
  const { rows } = await pool.query<CaseEntry>(
    `SELECT ${ENTRY_COLUMNS} FROM case_entries WHERE case_id = $1 ORDER BY at, id`,
    [id],
  );
  return rows;
}

export interface CaseFilter {
  status?: CaseStatus[];
  owners?: string[];
  pools?: string[];
  /** Cases of this customer (and of those merged into it). */
  customerId?: number;
  limit: number;
}

/** Soonest due first: overdue cases on top, then by the nearer of the two due times, cases without one last. */
export async function listCases(pool: Pool, filter: CaseFilter): Promise<CaseRow[]> {
  const { rows } = await pool.query<CaseRow>(
    `SELECT ${CASE_COLUMNS} FROM cases
     WHERE ($1::text[] IS NULL OR status = ANY($1)) AND ($2::text[] IS NULL OR owner_agent_id = ANY($2)) AND ($3::text[] IS NULL OR pool = ANY($3))
       AND ($4::bigint IS NULL OR customer_id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $4))
     ORDER BY least(first_response_due_at, resolution_due_at) NULLS LAST, id DESC LIMIT $5`,
    [filter.status ?? null, filter.owners ?? null, filter.pools ?? null, filter.customerId ?? null, filter.limit],
  );
  return rows;
}

/** What the figures of a period are computed from: the cases opened in it (at most 5000, newest first). */
export interface CaseFigureRow {
  business_hours: string | null;
  status: CaseStatus;
  opened_at: Date;
  first_responded_at: Date | null;
  resolved_at: Date | null;
  first_response_breached: boolean;
  had_first_response_target: boolean;
  resolution_breached: boolean;
  had_resolution_target: boolean;
  csat: number | null;
}

/** The cases opened from `from` (included) to `to` (excluded). */
export async function caseFigureRows(pool: Pool, from: Date, to: Date): Promise<CaseFigureRow[]> {
  const { rows } = await pool.query<CaseFigureRow>(
    `SELECT c.business_hours, c.status, c.opened_at, c.first_responded_at, c.resolved_at,
            c.first_response_breached_at IS NOT NULL AS first_response_breached, c.first_response_target_ms IS NOT NULL AS had_first_response_target,
            c.resolution_breached_at IS NOT NULL AS resolution_breached, c.resolution_target_ms IS NOT NULL AS had_resolution_target,
            (SELECT f.score FROM feedback f WHERE f.case_id = c.id AND f.kind = 'csat' ORDER BY f.answered_at DESC LIMIT 1) AS csat
     FROM cases c WHERE c.opened_at >= $1 AND c.opened_at < $2 ORDER BY c.id DESC LIMIT 5000`,
    [from, to],
  );
  return rows;
}

/** Cases open or waiting now, whenever opened. */
export async function countActiveCases(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM cases WHERE status IN ('open', 'waiting_on_customer')",
  );
  return rows[0]!.n;
}
