import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { ConnectorContext } from '../connectors/define-connector.js';
import type { Redis } from 'ioredis';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import type { CaseTargetChecks } from './case-services.js';
import type { Logger } from 'pino';
import { setInboxStatus } from '../store/inbox.js';
import type { Pool } from '../store/pool.js';
import { markRunsRetrying } from '../store/runs.js';
import type { LoadedConfig } from '../workflows/load.js';
import { checkStaleDeals } from './deal-staleness.js';
import { DEFAULT_EVENT_CHAIN_LIMIT, processEngineEvent, type ChainDependencies } from './event-dispatch.js';
import { handleCaseCheck } from './jobs/case.js';
import type { JobContext, JobHandler } from './jobs/context.js';
import { handleEvent, handleReplay } from './jobs/event.js';
import { handlePruneRuns } from './jobs/prune-runs.js';
import { handlePull } from './jobs/pull.js';
import { handleResume, handleRetry } from './jobs/run.js';
import { handleSchedule } from './jobs/schedule.js';
import { handleSuggestDuplicates } from './jobs/suggest-duplicates.js';
import { enqueueAt, EVENTS_QUEUE, jobIds, type JobData } from './queues.js';
import { createSecretRedactor } from '../config/secret-redactor.js';
import { runWorkflow, willRetry, type RunOutcome } from './run-workflow.js';
import { checkSla } from './sla.js';
import type { StepServices } from './steps/define-step.js';
import { processTaskPhase } from './task-jobs.js';

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
  /** Checks case targets at their due times. */
  cases: CaseTargetChecks;
}

/** Thrown to make BullMQ retry the job with backoff; `runIds` are the runs that failed and will run again with it. */
class RetryLater extends Error {
  override name = 'RetryLater';
  constructor(
    message: string,
    readonly runIds: number[],
  ) {
    super(message);
  }
}

/** Each job kind's handler (src/engine/jobs/, and the SLA, engine-event, task and deal-staleness modules). */
const HANDLERS: { [K in JobData['kind']]: JobHandler<K> } = {
  event: handleEvent,
  replay: handleReplay,
  run: handleRetry,
  resume: handleResume,
  pull: handlePull,
  schedule: handleSchedule,
  sla: (data, context) => checkSla(data.assignmentId, context),
  'engine-event': (data, context) => processEngineEvent(context.chain, data.eventId),
  task: (data, context) => processTaskPhase(context.pool, context.queue, data.taskId, data.phase),
  'suggest-duplicates': handleSuggestDuplicates,
  case: handleCaseCheck,
  'deal-stale-check': async (_data, context) =>
    void (await checkStaleDeals(context.pool, context.queue, context.config, context.services.now())),
  'prune-runs': handlePruneRuns,
};

export function createJobProcessor(
  options: Pick<
    WorkerOptions,
    'pool' | 'config' | 'services' | 'logger' | 'connectorContext' | 'queue' | 'signals' | 'eventChainLimit' | 'cases'
  >,
) {
  const deps = {
    pool: options.pool,
    services: options.services,
    logger: options.logger,
    redactor: createSecretRedactor(options.config.secretValues),
  };

  const settle = (outcomes: RunOutcome[]) => {
    const failed = outcomes.flatMap((outcome) => (outcome.status === 'failed' && willRetry(outcome) ? [outcome] : []));
    if (failed.length > 0) {
      throw new RetryLater(
        failed.map((outcome) => outcome.error).join('; '),
        failed.flatMap((outcome) => (outcome.runId === undefined ? [] : [outcome.runId])),
      );
    }
  };

  /** The job that resumes a waiting run at its time; adding it again is a no-op. */
  const scheduleResume = (runId: number, resumeAt: Date) =>
    enqueueAt(
      options.queue,
      { kind: 'resume', runId },
      jobIds.resume(runId, resumeAt),
      resumeAt,
      options.services.now(),
    );

  const execute: JobContext['execute'] = async (
    run,
    workflow,
    event,
    payload,
    { mode = 'auto', started, settlesInbox } = {},
  ) => {
    if (run.status === 'succeeded' || run.status === 'filtered' || run.status === 'cancelled')
      return { status: run.status };
    if (run.status === 'failed' && !run.errorRetryable && mode !== 'manual')
      return { status: 'failed', error: run.error ?? '', retryable: false };
    if (run.status === 'waiting' && mode !== 'resume') {
      await scheduleResume(run.id, run.resumeAt!);
      return { status: 'waiting', resumeAt: run.resumeAt! };
    }
    const outcome = await runWorkflow({ run, workflow, event, payload, started, settlesInbox }, deps);
    if (outcome.status === 'waiting') await scheduleResume(run.id, outcome.resumeAt);
    return outcome.status === 'failed' ? { ...outcome, runId: run.id } : outcome;
  };
  const chain: ChainDependencies = {
    ...deps,
    config: options.config,
    execute,
    settle,
    chainLimit: options.eventChainLimit ?? DEFAULT_EVENT_CHAIN_LIMIT,
  };
  const context: JobContext = {
    ...options,
    workflows: new Map(options.config.workflows.map((workflow) => [workflow.id, workflow])),
    execute,
    settle,
    chain,
  };

  const dispatch = async (job: Job<JobData>): Promise<void> => {
    const handler = HANDLERS[job.data.kind] as JobHandler<JobData['kind']>;
    return handler(job.data, context);
  };

  return async (job: Job<JobData>): Promise<void> => {
    try {
      await dispatch(job);
    } catch (error) {
      // The job will run again: its failed runs are retrying, not failed (see markRunsRetrying).
      if (error instanceof RetryLater && job.attemptsMade + 1 < (job.opts.attempts ?? 1))
        await markRunsRetrying(options.pool, error.runIds);
      throw error;
    }
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
    options.logger[final ? 'error' : 'warn'](
      { job_id: job.id, attempts: job.attemptsMade, err: error },
      final ? 'job failed for good' : 'job failed; will retry',
    );
    if (final && job.data.kind === 'event')
      void setInboxStatus(options.pool, job.data.inboxId, 'failed').catch(() => {});
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'worker error'));
  return worker;
}
