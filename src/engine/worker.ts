import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { ConnectorContext, ParsedEvent } from '../connectors/define-connector.js';
import { VendorAuthError } from '../connectors/shared/vendor-http.js';
import type { Redis } from 'ioredis';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import type { Logger } from 'pino';
import { getInboxEvent, setInboxStatus } from '../store/inbox.js';
import { suggestDuplicates } from '../store/merge-suggestions.js';
import type { Pool } from '../store/pool.js';
import { ensureRun, ensureRunToStart, getRun, type RunRow, type StartedRun } from '../store/runs.js';
import type { CompiledWorkflow, LoadedConfig } from '../workflows/load.js';
import { processAudienceTick } from './audience-runs.js';
import { DEFAULT_EVENT_CHAIN_LIMIT, processEngineEvent, type ChainDependencies } from './event-dispatch.js';
import { enqueueAt, EVENTS_QUEUE, jobIds, type JobData } from './queues.js';
import { processTaskPhase } from './task-jobs.js';
import { createSecretRedactor } from '../config/secret-redactor.js';
import { runPull } from './pull.js';
import { applyInboundMessage } from './reply-policy/inbound.js';
import { runWorkflow, type RunOutcome } from './run-workflow.js';
import { checkSla } from './sla.js';
import type { StepServices, TriggerEvent } from './steps/define-step.js';

export interface WorkerOptions {
  pool: Pool;
  connection: Redis;
  prefix: string;
  config: LoadedConfig;
  services: StepServices;
  logger: Logger;
  /** Jobs run at once in this process. */
  concurrency: number;
  /** BullMQ lock duration: a job whose worker died is stalled and recovered after about this long. */
  lockDurationMs: number;
  /** The context a connector's `enrich` and pull resources receive. */
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** Where pulled events are enqueued. */
  queue: Queue<JobData>;
  /** Where pull and enrichment failures are shown to the dashboard's connector health. */
  signals: ConnectorSignals;
  /** Loop guard of event triggers; default DEFAULT_EVENT_CHAIN_LIMIT. */
  eventChainLimit?: number;
}

/** Thrown to make BullMQ retry the job with backoff. */
class RetryLater extends Error {
  override name = 'RetryLater';
}

export function createJobProcessor(options: Pick<WorkerOptions, 'pool' | 'config' | 'services' | 'logger' | 'connectorContext' | 'queue' | 'signals' | 'eventChainLimit'>) {
  const deps = { pool: options.pool, services: options.services, logger: options.logger, redactor: createSecretRedactor(options.config.secretValues) };
  const byId = new Map(options.config.workflows.map((workflow) => [workflow.id, workflow]));

  const settle = (outcomes: RunOutcome[]) => {
    const retryable = outcomes.filter((outcome) => outcome.status === 'failed' && outcome.retryable);
    if (retryable.length > 0) throw new RetryLater(retryable.map((outcome) => (outcome as { error: string }).error).join('; '));
  };

  /** The job that resumes a waiting run at its time; adding it again is a no-op. */
  const scheduleResume = (runId: number, resumeAt: Date) =>
    enqueueAt(options.queue, { kind: 'resume', runId }, jobIds.resume(runId, resumeAt), resumeAt, options.services.now());

  /**
   * Runs (or resumes) a run unless it is finished or cancelled; a run that failed for good waits for a manual retry,
   * a waiting run for its resume job (`resume`), which is (re-)added here in case it was lost.
   */
  const execute = async (
    run: RunRow,
    workflow: CompiledWorkflow,
    event: TriggerEvent | undefined,
    payload: unknown,
    mode: 'auto' | 'manual' | 'resume' = 'auto',
    started?: StartedRun,
  ): Promise<RunOutcome> => {
    if (run.status === 'succeeded' || run.status === 'filtered' || run.status === 'cancelled') return { status: run.status };
    if (run.status === 'failed' && !run.errorRetryable && mode !== 'manual') return { status: 'failed', error: run.error ?? '', retryable: false };
    if (run.status === 'waiting' && mode !== 'resume') {
      await scheduleResume(run.id, run.resumeAt!);
      return { status: 'waiting', resumeAt: run.resumeAt! };
    }
    const outcome = await runWorkflow({ run, workflow, event, payload, started }, deps);
    if (outcome.status === 'waiting') await scheduleResume(run.id, outcome.resumeAt);
    return outcome;
  };
  const chain: ChainDependencies = { ...deps, config: options.config, execute, settle, chainLimit: options.eventChainLimit ?? DEFAULT_EVENT_CHAIN_LIMIT };

  /**
   * Thin webhooks (ids only) are completed over the vendor API before any workflow sees them. Bad credentials fail
   * the event for good (an admin must act); anything else is retried with the job.
   */
  async function enrich(connectorId: string, stored: ParsedEvent): Promise<{ events: ParsedEvent[]; enriched: boolean }> {
    const enrichEvent = options.config.connectors.get(connectorId)?.definition.enrich;
    if (!enrichEvent) return { events: [stored], enriched: false };
    try {
      return { events: await enrichEvent(options.connectorContext(connectorId, AbortSignal.timeout(60_000)), stored), enriched: true };
    } catch (error) {
      options.signals.error(connectorId, `fetching ${stored.type} ${stored.externalId} failed: ${(error as Error).message}`);
      if (error instanceof VendorAuthError) throw new UnrecoverableError(`${connectorId}: ${error.message}`);
      throw error;
    }
  }

  /** Webhook triggers take their connector's events however they arrived; poll triggers take what their pull read. */
  async function triggerMatches(workflow: CompiledWorkflow, connector: string, origin: string, parsed: ParsedEvent, event: TriggerEvent): Promise<boolean> {
    const trigger = workflow.trigger;
    if (trigger.kind === 'poll') return trigger.connector.id === connector && origin === `pull:${trigger.resource}`;
    if (trigger.kind !== 'webhook' || trigger.connector.id !== connector || !trigger.eventTypes.includes(parsed.type)) return false;
    return !trigger.when || (await trigger.when.evaluate(parsed.payload, { event })) === true;
  }

  async function processPull(workflowId: string): Promise<void> {
    const workflow = byId.get(workflowId);
    if (!workflow?.enabled || workflow.trigger.kind !== 'poll') return;
    const connectorId = workflow.trigger.connector.id;
    try {
      const { trigger } = workflow;
      await runPull(
        { connector: trigger.connector, resource: trigger.resource, cursorKey: trigger.resource, since: new Date(Date.now() - trigger.backfillMs), pageSize: trigger.pageSize,
          onSkipped: (message) => options.signals.error(connectorId, message), region: options.config.identityPolicy.regions?.[connectorId] ?? options.services.defaultRegion },
        options.connectorContext(connectorId, AbortSignal.timeout(15 * 60_000)),
        { pool: options.pool, queue: options.queue, logger: options.logger },
      );
    } catch (error) {
      options.signals.error(connectorId, `pull of ${workflow.trigger.resource} failed: ${(error as Error).message}`);
      if (error instanceof VendorAuthError) throw new UnrecoverableError(`${connectorId}: ${error.message}`);
      throw error;
    }
  }

  /**
   * Runs the workflows an inbox event triggers. A replay runs them again as new runs (trigger key suffixed with the
   * replay's name), optionally only one workflow, and leaves the event's status alone.
   */
  async function processEvent(inboxId: number, replay?: { name: string; workflow?: string }): Promise<void> {
    const inbox = await getInboxEvent(options.pool, inboxId);
    if (!inbox || (!replay && inbox.status !== 'pending')) return;
    const stored: ParsedEvent = { type: inbox.type, externalId: inbox.externalId, occurredAt: inbox.occurredAt.toISOString(), payload: inbox.payload };
    const { events, enriched } = await enrich(inbox.connector, stored);
    const outcomes: RunOutcome[] = [];
    for (const [index, parsed] of events.entries()) {
      const event: TriggerEvent = { connector: inbox.connector, type: parsed.type, external_id: parsed.externalId, occurred_at: parsed.occurredAt };
      // Opt-outs and messaging windows take effect before any reply to this very message is considered.
      const connector = options.config.connectors.get(inbox.connector)?.definition;
      if (connector) await applyInboundMessage(options.pool, connector, parsed, options.services.defaultRegion);
      for (const workflow of options.config.workflows) {
        if (replay?.workflow && workflow.id !== replay.workflow) continue;
        if (!workflow.enabled || !(await triggerMatches(workflow, inbox.connector, inbox.origin, parsed, event))) continue;
        const { run, started } = await ensureRunToStart(options.pool, {
          workflow: workflow.id,
          workflowVersion: workflow.version,
          triggerKey: `inbox:${inbox.id}${index === 0 ? '' : `#${index}`}${replay ? `@${replay.name}` : ''}`,
          inboxEventId: inbox.id,
          trigger: { ...event },
          payload: enriched ? parsed.payload : undefined,
        });
        outcomes.push(await execute(run, workflow, event, run.payload ?? parsed.payload, 'auto', started));
      }
    }
    settle(outcomes);
    if (!replay) await setInboxStatus(options.pool, inbox.id, 'processed');
  }

  /** A manual retry (`run`) or the resumption of a waiting run (`resume`). */
  async function processRun(runId: number, mode: 'manual' | 'resume'): Promise<void> {
    const run = await getRun(options.pool, runId);
    if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
    const workflow = byId.get(run.workflow);
    if (!workflow) throw new UnrecoverableError(`workflow ${run.workflow} is no longer in the configuration`);
    const inbox = run.inboxEventId === null ? undefined : await getInboxEvent(options.pool, run.inboxEventId);
    // Runs of stored and engine events keep their trigger event (`$event`) when retried.
    const event = inbox || run.triggerKey.startsWith('engine:') ? (run.trigger as unknown as TriggerEvent) : undefined;
    settle([await execute(run, workflow, event, run.payload ?? inbox?.payload ?? run.trigger, mode)]);
    // A manual retry that succeeds also settles an event whose job had failed for good.
    if (inbox && inbox.status !== 'processed') await setInboxStatus(options.pool, inbox.id, 'processed');
  }

  async function processSchedule(workflowId: string, tick: string): Promise<void> {
    const workflow = byId.get(workflowId);
    if (!workflow?.enabled) return;
    if (workflow.trigger.kind === 'audience') return processAudienceTick(chain, workflow, tick);
    const trigger = { tick };
    const run = await ensureRun(options.pool, { workflow: workflow.id, workflowVersion: workflow.version, triggerKey: `schedule:${tick}`, trigger });
    settle([await execute(run, workflow, undefined, trigger)]);
  }

  async function findDuplicates(): Promise<void> {
    if (!options.config.duplicateFinder) return;
    const found = await suggestDuplicates(options.pool, { minScore: options.config.duplicateFinder.minScore });
    options.logger.info(found, 'duplicate finder: candidate pairs examined, suggestions added');
  }

  return async (job: Job<JobData>): Promise<void> => {
    const data = job.data;
    if (data.kind === 'event') return processEvent(data.inboxId);
    if (data.kind === 'run') return processRun(data.runId, 'manual');
    if (data.kind === 'resume') return processRun(data.runId, 'resume');
    if (data.kind === 'sla') return checkSla(data.assignmentId, deps);
    if (data.kind === 'pull') return processPull(data.workflow);
    if (data.kind === 'replay') return processEvent(data.inboxId, { name: data.replay, workflow: data.workflow });
    if (data.kind === 'engine-event') return processEngineEvent(chain, data.eventId);
    if (data.kind === 'task') return processTaskPhase(options.pool, options.queue, data.taskId, data.phase);
    if (data.kind === 'suggest-duplicates') return findDuplicates();
    return processSchedule(data.workflow, data.tick);
  };
}

/** A BullMQ worker running crmflow jobs. Any number of these, in any number of processes and machines, may run. */
export function startWorker(options: WorkerOptions): Worker<JobData> {
  const worker = new Worker<JobData>(EVENTS_QUEUE, createJobProcessor(options), {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    lockDuration: options.lockDurationMs,
    stalledInterval: Math.max(1000, Math.floor(options.lockDurationMs / 2)),
    maxStalledCount: 5,
  });
  worker.on('failed', (job, error) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1) || error instanceof UnrecoverableError;
    options.logger[final ? 'error' : 'warn']({ job_id: job.id, attempts: job.attemptsMade, err: error }, final ? 'job failed for good' : 'job failed; will retry');
    if (final && job.data.kind === 'event') void setInboxStatus(options.pool, job.data.inboxId, 'failed').catch(() => {});
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'worker error'));
  return worker;
}
