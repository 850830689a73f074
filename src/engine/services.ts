import { ratingLinks } from './rating-links.js';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { EmailTransport } from '../mail/mailer.js';
import { identityMerges } from '../observability/metrics.js';
import { assignLead } from '../store/assignments.js';
import { loadCustomerSummary } from '../store/customer-queries.js';
import { ErasedPersonError, upsertCustomer } from '../store/customers.js';
import { withRetriedTransaction, type Pool } from '../store/pool.js';
import { suggestReplyMerge } from '../store/merge-suggestions.js';
import { findEmailsByMessageId } from '../store/messages.js';
import { createSla } from '../store/slas.js';
import { listTimelineSince, upsertTimelineEntry } from '../store/timeline.js';
import { addScore, setLifecycleStage } from '../store/lifecycle-score.js';
import { createTask } from '../store/tasks.js';
import { changeDeal } from '../store/deals.js';
import { engineEventPublisher, listenedEventTypes } from './event-dispatch.js';
import { scheduleTaskJobs } from './task-jobs.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { createCaseServices } from './case-services.js';
import { createGuardedHttp } from './guarded-http.js';
import { createOutbound } from './outbound.js';
import { attributeAgent, referencedMessageIds } from './person-contacts.js';
import { createCustomerRefresher } from './customer-refresh.js';
import type { CustomerRefresh } from '../store/traits.js';
import { enqueueAt, jobIds, type JobData } from './queues.js';
import { StepError, type StepServices } from './steps/define-step.js';

export interface ServiceOptions {
  pool: Pool;
  config: LoadedConfig;
  email: EmailTransport;
  emailFrom: string;
  defaultRegion: string;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** Where delayed checks (SLAs), engine events and task due-time jobs are queued once their change has committed. */
  queue: Queue<JobData>;
  logger: Logger;
  /** The clock of time-based steps; default the system clock. Tests inject other dates. */
  now?: () => Date;
  /** The public one-click unsubscribe URL for an email address (signed with CRMFLOW_SECRET_KEY). */
  unsubscribeUrl: (address: string) => string;
  /** Hosts the `http` step may call at internal addresses (CRMFLOW_HTTP_ALLOW_HOSTS). */
  httpAllowHosts?: readonly string[];
  /** The public URL and key of rating links (cases' satisfaction question); absent: none are sent. */
  feedback?: { publicUrl: string; secretKey: string };
}

/** Binds the store and transports into the services steps receive. */
export function createStepServices(options: ServiceOptions): StepServices {
  const { pool } = options;
  const outbound = createOutbound(options);
  const now = options.now ?? (() => new Date());
  const cases = createCaseServices({ ...options, now });
  const publish = engineEventPublisher(options);
  // Events nobody starts on are not written at all: two statements per event saved on the hot path.
  const listenedEvents = listenedEventTypes(options.config);
  const region = options.config.defaultRegion ?? options.defaultRegion;

  /**
   * An entry's data with who made it (`agent_id`: a person's contact, see `attributeAgent`) and, for an email that
   * answers one of ours, the message it answers (`in_reply_to_message`: our outbound message, its customer, run and
   * agent). A reply whose sender is another customer than the one we wrote to makes a merge suggestion.
   */
  async function personAndThread(entry: {
    customerId: number;
    type: string;
    externalId: string;
    data?: unknown;
  }): Promise<unknown> {
    if (entry.data === null || typeof entry.data !== 'object' || Array.isArray(entry.data)) return entry.data;
    const data = { ...(entry.data as Record<string, unknown>) };
    const agentId = attributeAgent(entry, options.config.agents, region);
    if (agentId) data.agent_id = agentId;
    else delete data.agent_id;
    const [answered] = await findEmailsByMessageId(pool, referencedMessageIds(data));
    if (answered) {
      data.in_reply_to_message = {
        message_id: answered.id,
        customer_id: answered.customerId,
        run_id: answered.runId,
        agent_id: answered.agentId,
      };
      // A reply from another address than the one we wrote to: probably the same person, for an admin to confirm.
      if (answered.customerId !== null && answered.customerId !== entry.customerId) {
        await suggestReplyMerge(pool, entry.customerId, answered.customerId, {
          why: 'a reply to our email to the other customer',
          message_id: answered.id,
          reply: entry.externalId,
        });
      }
    }
    return data;
  }
  const refresher = createCustomerRefresher({
    pool,
    config: options.config,
    now,
    listenedEvents,
    logger: options.logger,
  });
  // Runs coalescing their refreshes (see coalesceRefreshes), by id: the customers each owes a refresh (true: their
  // rows changed, so the built-in traits are recomputed) and the engine events queued only after it.
  const coalescing = new Map<number, { owed: Map<number, boolean>; events: number[] }>();
  /** Leaves the refresh (and the events) to the run when it coalesces them; false: the caller refreshes now. */
  const owe = (runId: number | null | undefined, customerId: number, rowsChanged: boolean, events: number[]) => {
    const run = runId == null ? undefined : coalescing.get(runId);
    if (!run) return false;
    if (rowsChanged || refresher.readsProfile)
      run.owed.set(customerId, (run.owed.get(customerId) ?? false) || rowsChanged);
    run.events.push(...events);
    return true;
  };
  /** Traits and segments after a change that committed on its own (a failure fails the step, whose retry does it again). */
  const refreshAfter = async (customerId: number | null, runId: number | null, rowsChanged = true) => {
    if (customerId === null || (!rowsChanged && !refresher.readsProfile)) return;
    if (owe(runId, customerId, rowsChanged, [])) return;
    await publish(
      (await refresher.refreshNow(customerId, { cause: 'change', runId: runId ?? undefined, recompute: rowsChanged }))
        .events,
    );
  };
  return {
    defaultRegion: region,
    identityPolicy: options.config.identityPolicy,
    agents: options.config.agents,
    pools: options.config.pools,
    upsertCustomer: async (input) => {
      try {
        const refresh: CustomerRefresh = (client, customerId, change) =>
          refresher.refresh(client, customerId, {
            cause: 'change',
            runId: input.runId,
            recompute: change?.rowsChanged !== false,
          });
        const coalesced = input.runId !== undefined && coalescing.has(input.runId);
        const result = await upsertCustomer(pool, {
          ...input,
          listenedEvents,
          refresh: coalesced ? undefined : refresh,
          refreshProfile: refresher.readsProfile,
        });
        identityMerges.inc(result.mergedIds.length);
        const rowsChanged = result.created || result.mergedIds.length > 0 || result.attached.length > 0;
        if (!owe(input.runId, result.customerId, rowsChanged, result.events)) await publish(result.events);
        return result;
      } catch (error) {
        if (error instanceof ErasedPersonError) throw new StepError(error.message, false);
        throw error;
      }
    },
    coalesceRefreshes: (runId) => {
      const run = { owed: new Map<number, boolean>(), events: [] as number[] };
      coalescing.set(runId, run);
      return {
        pending: () => run.owed.size > 0 || run.events.length > 0,
        owe: (customerId) => run.owed.set(customerId, true),
        flush: async (work) => {
          const owed = [...run.owed];
          const traits = new Map<number, Record<string, unknown>>();
          let events: number[] = [];
          const result = await withRetriedTransaction(pool, async (client) => {
            traits.clear();
            events = [...run.events];
            for (const [customerId, rowsChanged] of owed) {
              const refreshed = await refresher.refresh(client, customerId, {
                cause: 'change',
                runId,
                recompute: rowsChanged,
              });
              traits.set(customerId, refreshed.traits);
              events.push(...refreshed.events);
            }
            return work ? await work(client) : undefined;
          });
          run.owed.clear();
          run.events = [];
          await publish(events);
          return { result, traits };
        },
        end: () => {
          if (coalescing.get(runId) === run) coalescing.delete(runId);
        },
      };
    },
    loadCustomer: async (customerId) => {
      const customer = await loadCustomerSummary(pool, customerId);
      if (!customer) throw new Error(`customer ${customerId} vanished`);
      return customer;
    },
    upsertTimeline: async (entry) => {
      const refresh: CustomerRefresh = (client, customerId) =>
        refresher.refresh(client, customerId, { cause: 'change', runId: entry.runId });
      const coalesced = entry.runId !== undefined && coalescing.has(entry.runId);
      // Coalesced, the entry is one statement: its refresh comes later in the run (see coalesceRefreshes).
      const result = await upsertTimelineEntry(pool, {
        ...entry,
        data: await personAndThread(entry),
        listenedEvents,
        refresh: coalesced ? undefined : refresh,
      });
      const events = [result.event, ...(result.refreshed?.events ?? [])].filter((id) => id !== undefined);
      if (!owe(entry.runId, entry.customerId, true, events)) await publish(events);
      return { id: result.id, inserted: result.inserted, traits: result.refreshed?.traits };
    },
    assignLead: async (request) => {
      const result = await assignLead(pool, { ...request, listenedEvents });
      await publish([result.event]);
      // A new owner is a change declared segments may read. Also on a retry (`already_assigned`): the step may have
      // crashed between the assignment and this line.
      if (result.outcome === 'assigned' || result.outcome === 'already_assigned')
        await refreshAfter(result.customerId, request.runId ?? null, false);
      return result;
    },
    createTask: async (task) => {
      const { task: row, created } = await createTask(pool, task);
      await refreshAfter(row.customer_id, task.runId); // also when retried: a crash may have come before it
      // Scheduled on every attempt: a crash between the insert and this line must not leave a task without its jobs.
      await scheduleTaskJobs(options.queue, { id: row.id, dueAt: row.due_at, overdueAt: row.overdue_at }).catch(
        (error: unknown) =>
          options.logger.warn(
            { task_id: row.id, err: error },
            'task stored but its due-time jobs not queued: the reconciler will',
          ),
      );
      return { taskId: row.id, created, agentId: row.agent_id, dueAt: row.due_at.toISOString() };
    },
    setLifecycle: async (change) => {
      const result = await setLifecycleStage(pool, { ...change, listenedEvents });
      await publish(result.events);
      await refreshAfter(change.customerId, change.runId, false);
      return result;
    },
    addScore: async (change) => {
      const result = await addScore(pool, { ...change, listenedEvents });
      await publish(result.events);
      await refreshAfter(change.customerId, change.runId, false);
      return result;
    },
    sendEmail: async (message) => {
      const result = await outbound.sendEmail(message);
      if (result.status === 'sent') await refreshAfter(message.customerId, message.runId);
      return result;
    },
    sendMessage: async (message) => {
      const result = await outbound.sendMessage(message);
      if (result.status === 'sent') await refreshAfter(message.customerId, message.runId);
      return result;
    },
    openCase: cases.open,
    changeDeal: async (change) => {
      const { events, ...result } = await changeDeal(pool, { ...change, listenedEvents });
      await publish(events);
      return result;
    },
    channelOf: (event, payload) =>
      event
        ? options.config.connectors.get(event.connector)?.definition.channelOf?.({ type: event.type, payload })
        : undefined,
    automatedInbound: (event, payload) => {
      if (event?.connector === 'engine') {
        // A message.received engine event names a machine's message (see upsertTimelineEntry).
        const data = payload as { automated?: unknown; from?: unknown } | null;
        return typeof data?.automated === 'string'
          ? { reason: data.automated, address: String(data.from ?? '') }
          : undefined;
      }
      const inbound =
        event &&
        options.config.connectors.get(event.connector)?.definition.inboundMessage?.({ type: event.type, payload });
      return inbound?.automated ? { reason: inbound.automated, address: inbound.address } : undefined;
    },
    http: createGuardedHttp({ allowHosts: options.httpAllowHosts }),
    now,
    ratingLinks: (messageKey, kind) =>
      options.feedback ? ratingLinks(options.feedback, now(), { messageKey, caseId: null, kind }) : undefined,
    timelineSince: (customerId, since) => listTimelineSince(pool, customerId, since),
    scheduleSla: async ({ assignmentKey, runId, dueAt, action }) => {
      const assignmentId = await createSla(pool, { assignmentKey, runId, dueAt, action });
      // Stored first: should Redis miss the job, the reconciler adds it once the SLA is due.
      if (assignmentId !== undefined)
        await enqueueAt(options.queue, { kind: 'sla', assignmentId }, jobIds.sla(assignmentId), dueAt, now());
    },
  };
}
