import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { loadCustomerSummary } from '../store/customer-queries.js';
import {
  addCaseEntry,
  emitCaseBreach,
  listDueCaseChecks,
  openCase,
  type CaseChange,
  type CaseClock,
  type CaseRow,
  type CaseTarget,
  type ClockFor,
  type DueCheck,
  type EventOptions,
} from '../store/cases.js';
import { addBusinessTime, businessTimeBetween } from './business-time.js';
import { engineEventPublisher, listenedEventTypes } from './event-dispatch.js';
import type { OpeningHours } from './opening-hours.js';
import { createOutbound, type OutboundOptions } from './outbound.js';
import { ratingLinks } from './rating-links.js';
import { jobIds, jobPresence, type JobData } from './queues.js';
import { StepError, type OpenCaseOutput, type StepServices } from './steps/define-step.js';

/** What case services need (declared here, beside the step services' options, so neither module imports the other). */
export interface CaseServiceOptions extends OutboundOptions {
  queue: Queue<JobData>;
  logger: Logger;
  now: () => Date;
  /** The public base URL and the key rating links are signed with; absent: no rating question can be sent. */
  feedback?: { publicUrl: string; secretKey: string };
}

/** What a case reply did: the outbound message, or why none went out. */
export interface CaseSendResult {
  status: string;
  messageId?: number;
  reason?: string;
  channel: string;
}

/**
 * Everything about cases that needs more than the store: the clock of each pool's business hours, queuing the engine
 * events and breach checks a change produced, and sending on the case's channel. Every message of a case leaves
 * through `send` (and so through the outbound path of the reply step): one place to record who sent it.
 */
export function createCaseServices(options: CaseServiceOptions) {
  const { pool, config, queue, logger, now } = options;
  const outbound = createOutbound(options);
  const publish = engineEventPublisher(options);
  const listened = listenedEventTypes(config);

  const clockFor: ClockFor = (name) => {
    const rule = name === null ? undefined : config.businessHours.get(name);
    const hours: OpeningHours | undefined = rule && {
      timeZone: rule.timeZone,
      week: rule.week,
      holidays: rule.holidays,
    };
    const clock: CaseClock = {
      dueAfter: (from, ms) => addBusinessTime(hours, from, ms) ?? null,
      between: (from, to) => businessTimeBetween(hours, from, to),
    };
    return clock;
  };

  /** The pool lead goes with every case event, so a breach workflow can notify them without knowing the pools. */
  const events: EventOptions = {
    listened,
    extra: (row) => {
      const lead = config.pools.get(row.pool)?.lead;
      const agent = lead === undefined ? undefined : config.agents.get(lead);
      return { pool_lead: agent ? { id: agent.id, name: agent.name, email: agent.email ?? null } : null };
    },
  };

  async function scheduleChecks(checks: DueCheck[]): Promise<void> {
    if (checks.length === 0) return;
    const at = now().getTime();
    await queue
      .addBulk(
        checks.map((check) => ({
          name: 'case',
          data: { kind: 'case' as const, caseId: check.caseId, target: check.target },
          opts: {
            jobId: jobIds.caseCheck(check.caseId, check.target, check.dueAt),
            delay: Math.max(0, check.dueAt.getTime() - at),
          },
        })),
      )
      .catch((error: unknown) =>
        logger.warn({ err: error, checks }, 'case stored but its due-time checks not queued: the reconciler will'),
      );
  }

  /** After a change committed: its events queued, its due-time checks scheduled. */
  async function settle(change: CaseChange): Promise<void> {
    await publish(change.events);
    await scheduleChecks(change.checks);
  }

  /** A due time as the customer reads it: in the pool's business-hours zone, else UTC. */
  function localTime(row: CaseRow, at: Date | null): string | null {
    if (at === null) return null;
    const zone = (row.business_hours && config.businessHours.get(row.business_hours)?.timeZone) || 'UTC';
    return new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      hour: '2-digit',
      minute: '2-digit',
      timeZoneName: 'short',
    }).format(at);
  }

  /**
   * The open_case step: opens, joins or reopens (store), queues what followed, and acknowledges a newly opened case
   * once on its channel (an automated answer: the first-response clock keeps running).
   */
  const open: StepServices['openCase'] = async ({ acknowledge, ...input }) => {
    const result = await openCase(pool, { ...input, now: now(), clock: clockFor(input.businessHours), events });
    await settle(result);
    const row = result.case;
    if (row === null)
      return {
        case_id: null,
        action: 'none',
        owner_agent_id: null,
        priority: input.priority,
        first_response_due_at: null,
        resolution_due_at: null,
      };
    const output: OpenCaseOutput = {
      case_id: row.id,
      action: result.action,
      owner_agent_id: row.owner_agent_id,
      priority: row.priority,
      first_response_due_at: row.first_response_due_at?.toISOString() ?? null,
      resolution_due_at: row.resolution_due_at?.toISOString() ?? null,
    };
    if (!acknowledge || result.action !== 'opened') return output;
    const facts = {
      id: row.id,
      subject: row.subject,
      priority: row.priority,
      owner_agent_id: row.owner_agent_id,
      first_response_due: localTime(row, row.first_response_due_at),
      resolution_due: localTime(row, row.resolution_due_at),
    };
    const key = `${input.idempotencyKey}:ack`;
    const text = await acknowledge(facts);
    const sent = await send(row, { idempotencyKey: key, text, runId: input.runId });
    if (sent.status === 'failed')
      throw new StepError(`acknowledgement of case ${row.id} on ${sent.channel} failed: ${sent.reason}`, true);
    if (sent.messageId !== undefined) {
      await addCaseEntry(
        pool,
        row.id,
        {
          kind: 'auto_reply',
          body: text,
          channel: sent.channel,
          outboundMessageId: sent.messageId,
          key,
          byPerson: false,
          data: { status: sent.status },
        },
        { author: null, now: now(), clock: clockFor, events },
      );
    }
    return {
      ...output,
      acknowledgement: {
        status: sent.status,
        channel: sent.channel,
        message_id: sent.messageId,
        ...(sent.reason ? { reason: sent.reason } : {}),
      },
    };
  };

  /** A case target's check at its due time: the breach event once, if the target is still running and overdue. */
  async function checkTarget(caseId: number, target: CaseTarget): Promise<void> {
    await publish([await emitCaseBreach(pool, caseId, target, now(), events)]);
  }

  /** Re-adds the checks of overdue running targets whose job Redis lost. Returns how many. */
  async function reconcile(redis: Redis): Promise<number> {
    let added = 0;
    for (let afterId = 0; ;) {
      const checks = await listDueCaseChecks(pool, now(), 500, afterId);
      if (checks.length === 0) return added;
      const states = await jobPresence(
        redis,
        queue,
        checks.map((check) => jobIds.caseCheck(check.caseId, check.target, check.dueAt)),
      );
      const lost = checks.filter((_, i) => states[i] === 'missing');
      await scheduleChecks(lost);
      added += lost.length;
      afterId = checks.at(-1)!.caseId;
    }
  }

  /** The 1–5 rating links of a message sent under `messageKey`, about `caseId`. */
  function caseRatingLinks(messageKey: string, caseId: number | null): string[] | undefined {
    return options.feedback ? ratingLinks(options.feedback, now(), { messageKey, caseId, kind: 'csat' }) : undefined;
  }

  /**
   * Sends `text` to the case's customer on the case's channel (email when it has none), once per `idempotencyKey`,
   * through the same outbound path as the reply step (consent, vendor windows, record-before-send).
   */
  async function send(
    row: CaseRow,
    message: { idempotencyKey: string; text: string; runId: number | null; agentId?: string | null },
  ): Promise<CaseSendResult> {
    const customer = await loadCustomerSummary(pool, row.customer_id);
    if (!customer)
      return { status: 'skipped', reason: `customer ${row.customer_id} vanished`, channel: row.channel ?? 'email' };
    const channel = row.channel && row.channel !== 'form' ? row.channel : 'email';
    if (channel === 'email') {
      if (!customer.email) return { status: 'skipped', reason: 'the customer has no email address', channel };
      const subject = `Re: [Case #${row.id}] ${row.subject}`;
      return {
        ...(await outbound.sendEmail({
          idempotencyKey: message.idempotencyKey,
          customerId: customer.id,
          runId: message.runId,
          to: customer.email,
          subject,
          text: message.text,
          agentId: message.agentId ?? undefined,
        })),
        channel,
      };
    }
    const result = await outbound.sendMessage({
      channel,
      idempotencyKey: message.idempotencyKey,
      customerId: customer.id,
      runId: message.runId,
      preferred: [],
      identities: customer.identities,
      text: message.text,
      trigger: undefined,
      agentId: message.agentId ?? undefined,
    });
    return { ...result, channel };
  }

  /**
   * A case as the API and dashboard show it: with the open time left on each running target (negative: overdue by
   * that much), or the time left when it was paused.
   */
  function view(row: CaseRow) {
    const clock = clockFor(row.business_hours);
    const at = now();
    const left = (due: Date | null, paused: number | null) => (due ? clock.between(at, due) : paused);
    const firstResponseLeft = left(row.first_response_due_at, row.first_response_left_ms);
    const resolutionLeft = left(row.resolution_due_at, row.resolution_left_ms);
    const running = row.status === 'open';
    return {
      ...row,
      first_response_time_left_ms: row.first_responded_at ? null : firstResponseLeft,
      resolution_time_left_ms: resolutionLeft,
      overdue:
        running &&
        ((row.first_response_due_at !== null && row.first_response_due_at <= at) ||
          (row.resolution_due_at !== null && row.resolution_due_at <= at)),
    };
  }

  return { clockFor, events, settle, open, checkTarget, reconcile, ratingLinks: caseRatingLinks, send, view, now };
}

export type CaseServices = ReturnType<typeof createCaseServices>;

/** What a worker or a reconciler pass needs to check case targets. */
export type CaseTargetChecks = Pick<CaseServices, 'checkTarget' | 'reconcile'>;
