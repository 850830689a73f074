import { ratingQuestion } from '../engine/rating-links.js';
import { randomUUID } from 'node:crypto';
import type { CaseServices } from '../engine/case-services.js';
import {
  addCaseEntry,
  assignCase as assignStoredCase,
  CASE_STATUSES,
  caseFigureRows,
  CaseNotFoundError,
  caseThread,
  countActiveCases,
  getCase,
  listCases,
  setCaseStatus,
  type CaseActor,
  type CaseFigureRow,
  type CaseRow,
  type CaseStatus,
} from '../store/cases.js';
import { caseFeedback } from '../store/feedback.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export { CASE_PRIORITIES, CASE_STATUSES, type CaseEntry, type CaseRow } from '../store/cases.js';
export type { FeedbackRow } from '../store/feedback.js';

/** Case operations also send (replies, the satisfaction question) and schedule: the engine's case services. */
type CaseOperationContext = OperationContext & { cases: CaseServices };

/** The context with its case services, on the cases' clock; a process built without them refuses. */
function withCases(ctx: OperationContext): CaseOperationContext {
  if (!ctx.cases) throw new NotFoundError('cases are not available in this process');
  return { ...ctx, now: ctx.cases.now, cases: ctx.cases };
}

const MAX_TEXT = 10_000;

function caseActor(ctx: CaseOperationContext, actor: Actor): CaseActor {
  return { author: actor.name, now: ctx.now?.() ?? new Date(), clock: ctx.cases.clockFor, events: ctx.cases.events };
}

function textInput(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidInputError(`${field} is required`);
  if (value.length > MAX_TEXT) throw new InvalidInputError(`${field} is longer than ${MAX_TEXT} characters`);
  return value.trim();
}

async function found<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof CaseNotFoundError) throw new NotFoundError(error.message);
    throw error;
  }
}

async function loadCase(ctx: CaseOperationContext, caseId: number): Promise<CaseRow> {
  const row = await getCase(ctx.pool, caseId);
  if (!row) throw new NotFoundError(`there is no case ${caseId}`);
  return row;
}

/** An internal note on the thread. A person noting the case has looked at it: the first-response clock stops. */
export async function noteCase(context: OperationContext, actor: Actor, input: { caseId: number; body: unknown }) {
  const ctx = withCases(context);
  requireRole(actor, 'support');
  const body = textInput(input.body, 'body');
  const result = await found(
    addCaseEntry(ctx.pool, input.caseId, { kind: 'note', body, byPerson: true }, caseActor(ctx, actor)),
  );
  await audit(ctx, actor, 'case.note', `case:${input.caseId}`, { entry_id: result.entry?.id });
  return { ...result, case: ctx.cases.view(result.case) };
}

/**
 * A person's reply to the customer on the case's channel, through the outbound path (consent, vendor windows,
 * record-before-send), recorded on the thread with its author. Once per `requestId` (a resubmitted form or a retried
 * API call sends nothing twice). A reply that reaches the customer stops the first-response clock; one the policy
 * stopped (no consent, no address) is refused with the reason.
 */
export async function replyToCase(
  context: OperationContext,
  actor: Actor,
  input: { caseId: number; body: unknown; requestId?: string },
) {
  const ctx = withCases(context);
  requireRole(actor, 'support');
  const body = textInput(input.body, 'body');
  const row = await loadCase(ctx, input.caseId);
  if (row.status === 'closed') throw new ConflictError(`case ${row.id} is closed`, 'case_closed');
  const key = `case:${row.id}:reply:${input.requestId ?? randomUUID()}`;
  // A person's reply: the SLA and speed to lead count it for them (a user who is not a declared agent answers for the owner).
  const agentId = ctx.config.agents.has(actor.name) ? actor.name : row.owner_agent_id;
  const sent = await ctx.cases.send(row, { idempotencyKey: key, text: body, runId: null, agentId });
  if (sent.messageId === undefined || sent.status === 'skipped' || sent.status === 'failed') {
    await audit(ctx, actor, 'case.reply', `case:${row.id}`, {
      status: sent.status,
      reason: sent.reason ?? null,
      channel: sent.channel,
    });
    throw new ConflictError(`the reply was not sent: ${sent.reason ?? sent.status}`, 'not_sent');
  }
  const result = await addCaseEntry(
    ctx.pool,
    row.id,
    {
      kind: 'reply',
      body,
      channel: sent.channel,
      outboundMessageId: sent.messageId,
      key,
      byPerson: true,
      data: { status: sent.status },
    },
    caseActor(ctx, actor),
  );
  await audit(ctx, actor, 'case.reply', `case:${row.id}`, {
    message_id: sent.messageId,
    status: sent.status,
    channel: sent.channel,
  });
  return { ...result, case: ctx.cases.view(result.case), message: sent };
}

/**
 * Moves a case: waiting on the customer pauses its clocks, open resumes them, resolved and closed stop them. On
 * resolve `askFeedback` sends the satisfaction question (1–5 rating links) on the case's channel; the answer is
 * recorded on the case.
 */
export async function setCaseStatusOperation(
  context: OperationContext,
  actor: Actor,
  input: { caseId: number; status: unknown; reason?: unknown; askFeedback?: boolean },
) {
  const ctx = withCases(context);
  requireRole(actor, 'support');
  if (typeof input.status !== 'string' || !(CASE_STATUSES as readonly string[]).includes(input.status)) {
    throw new InvalidInputError(`status must be one of ${CASE_STATUSES.join(', ')}`);
  }
  const reason = input.reason === undefined || input.reason === '' ? undefined : textInput(input.reason, 'reason');
  const result = await found(
    setCaseStatus(ctx.pool, input.caseId, input.status as CaseStatus, { ...caseActor(ctx, actor), reason }),
  );
  await ctx.cases.settle(result);
  let feedback: { status: string; reason?: string } | undefined;
  if (result.changed && result.case.status === 'resolved' && input.askFeedback)
    feedback = await askFeedback(ctx, actor, result.case);
  await audit(ctx, actor, 'case.status', `case:${input.caseId}`, {
    from: result.from,
    to: result.case.status,
    changed: result.changed,
    feedback: feedback?.status ?? null,
  });
  return { ...result, case: ctx.cases.view(result.case), feedback };
}

async function askFeedback(
  ctx: CaseOperationContext,
  actor: Actor,
  row: CaseRow,
): Promise<{ status: string; reason?: string }> {
  // One question per resolution: resolving again after a reopen asks again.
  const key = `case:${row.id}:csat:${row.reopened_count}`;
  const links = ctx.cases.ratingLinks(key, row.id);
  if (!links) return { status: 'skipped', reason: 'rating links need CRMFLOW_SECRET_KEY and CRMFLOW_PUBLIC_URL' };
  const text = `Your case #${row.id} is resolved. ${ratingQuestion('csat', links)}`;
  const sent = await ctx.cases.send(row, { idempotencyKey: key, text, runId: null });
  if (sent.messageId !== undefined) {
    await addCaseEntry(
      ctx.pool,
      row.id,
      {
        kind: 'auto_reply',
        body: text,
        channel: sent.channel,
        outboundMessageId: sent.messageId,
        key,
        byPerson: false,
        data: { status: sent.status, question: 'csat' },
      },
      caseActor(ctx, actor),
    );
  }
  return { status: sent.status, ...(sent.reason ? { reason: sent.reason } : {}) };
}

/** Gives the case to a declared agent. */
export async function assignCaseOperation(
  context: OperationContext,
  actor: Actor,
  input: { caseId: number; agentId: unknown },
) {
  const ctx = withCases(context);
  requireRole(actor, 'support');
  if (typeof input.agentId !== 'string' || !ctx.config.agents.has(input.agentId))
    throw new InvalidInputError('agent_id must be a declared agent');
  const result = await found(assignStoredCase(ctx.pool, input.caseId, input.agentId, caseActor(ctx, actor)));
  await audit(ctx, actor, 'case.assign', `case:${input.caseId}`, {
    from: result.from,
    to: input.agentId,
    changed: result.changed,
  });
  return { ...result, case: ctx.cases.view(result.case) };
}

/** Who may see cases: everyone signed in (viewers included), like customers. */
export interface CaseQuery {
  status?: unknown;
  owner?: unknown;
  pool?: unknown;
  customerId?: number;
  limit?: number;
}

function list(value: unknown, field: string, allowed?: readonly string[]): string[] | undefined {
  if (value === undefined || value === '') return undefined;
  const values = String(value)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const bad = allowed && values.find((item) => !allowed.includes(item));
  if (bad) throw new InvalidInputError(`${field} must be among ${allowed!.join(', ')}; got ${bad}`);
  return values;
}

/** Cases by status (comma-separated), owner, pool or customer; overdue and soonest due first, each with its time left. */
export async function listCaseQueue(context: OperationContext, query: CaseQuery) {
  const ctx = withCases(context);
  const rows = await listCases(ctx.pool, {
    status: list(query.status, 'status', CASE_STATUSES) as CaseStatus[] | undefined,
    owners: list(query.owner, 'owner'),
    pools: list(query.pool, 'pool'),
    customerId: query.customerId,
    limit: Math.min(query.limit ?? 100, 500),
  });
  return rows.map(ctx.cases.view);
}

/** The customer page's cases (the 20 most urgent, any status); none in a process without case services. */
export async function casesOfCustomer(ctx: OperationContext, customerId: number) {
  return ctx.cases ? listCaseQueue(ctx, { customerId, limit: 20 }) : [];
}

/** One case with its thread (oldest first) and the satisfaction answers about it. */
export async function caseDetail(context: OperationContext, caseId: number) {
  const ctx = withCases(context);
  const row = await loadCase(ctx, caseId);
  const [thread, feedback] = await Promise.all([caseThread(ctx.pool, caseId), caseFeedback(ctx.pool, caseId)]);
  return { ...ctx.cases.view(row), thread, feedback };
}

/** Figures of the cases opened in a period; null where nothing was measured (never 0 for "unknown"). */
export interface CaseFigures {
  from: string;
  to: string;
  /** Cases open or waiting on the customer now, whenever opened. */
  active_now: number;
  opened: number;
  /** Median open time (business hours of each case's pool) from opening to the first answer of a person. */
  median_first_response_ms: number | null;
  /** Median open time from opening to resolution, time waiting on the customer included. */
  median_resolution_ms: number | null;
  /** Share of cases with a first-response target that breached it. */
  first_response_breach_rate: number | null;
  /** Share of cases with a resolution target that breached it. */
  resolution_breach_rate: number | null;
  /** Average rating (1–5) of resolved cases that were rated, and how many were. */
  csat_average: number | null;
  csat_answers: number;
}

/** Default period of the figures: the last 30 days. */
const FIGURES_DEFAULT_MS = 30 * 86_400_000;

const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

const rate = (
  rows: CaseFigureRow[],
  counted: (row: CaseFigureRow) => boolean,
  hit: (row: CaseFigureRow) => boolean,
): number | null => {
  const base = rows.filter(counted);
  return base.length === 0 ? null : base.filter(hit).length / base.length;
};

function instant(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const at = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new InvalidInputError(`${field} must be an ISO 8601 date or date-time`);
  return at;
}

/**
 * The figures the reports show for the cases opened from `from` (included) to `to` (excluded; default now, `from`
 * default 30 days before `to`): response and resolution in business hours, breaches, CSAT, each as known now.
 */
export async function caseFigures(
  context: OperationContext,
  period: { from?: unknown; to?: unknown } = {},
): Promise<CaseFigures> {
  const ctx = withCases(context);
  const to = instant(period.to, 'to') ?? ctx.cases.now();
  const from = instant(period.from, 'from') ?? new Date(to.getTime() - FIGURES_DEFAULT_MS);
  if (from.getTime() >= to.getTime()) throw new InvalidInputError('from must be before to');
  const [rows, active] = await Promise.all([caseFigureRows(ctx.pool, from, to), countActiveCases(ctx.pool)]);
  const between = (row: CaseFigureRow, end: Date | null) =>
    end === null ? [] : [ctx.cases.clockFor(row.business_hours).between(row.opened_at, end)];
  const rated = rows.filter((row) => row.resolved_at !== null && row.csat !== null).map((row) => row.csat!);
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    active_now: active,
    opened: rows.length,
    median_first_response_ms: median(rows.flatMap((row) => between(row, row.first_responded_at))),
    median_resolution_ms: median(rows.flatMap((row) => between(row, row.resolved_at))),
    first_response_breach_rate: rate(
      rows,
      (row) => row.had_first_response_target,
      (row) => row.first_response_breached,
    ),
    resolution_breach_rate: rate(
      rows,
      (row) => row.had_resolution_target,
      (row) => row.resolution_breached,
    ),
    csat_average: rated.length === 0 ? null : rated.reduce((sum, score) => sum + score, 0) / rated.length,
    csat_answers: rated.length,
  };
}
