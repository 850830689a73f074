import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import {
  getEngineEvent,
  listStalePendingEngineEvents,
  setEngineEventStatus,
  type EngineEvent,
} from '../store/engine-events.js';
import type { Pool } from '../store/pool.js';
import { ensureRun, markRunFinished, type RunRow } from '../store/runs.js';
import type { CompiledWorkflow, LoadedConfig } from '../workflows/load.js';
import { jobIds, type JobData } from './queues.js';
import type { RunOutcome } from './run-workflow.js';
import type { StepServices, TriggerEvent } from './steps/define-step.js';

/** Stored events that each become one job (the inbox, engine events), as the reconciler walks them. */
export interface StoredEventSource {
  /** A page of ids, after `afterId`, of events still pending after the grace period. */
  listStale: (afterId: number) => Promise<number[]>;
  jobId: (id: number) => string;
  enqueue: (ids: number[]) => Promise<void>;
  markFailed: (id: number) => Promise<void>;
}

/** Chains deeper than this many events do not start runs (`CRMFLOW_EVENT_CHAIN_LIMIT`). */
export const DEFAULT_EVENT_CHAIN_LIMIT = 5;

/** Queues engine events written by a committed change; one job per event, whoever enqueues it how often. */
export async function enqueueEngineEvents(queue: Queue<JobData>, eventIds: Array<number | undefined>): Promise<void> {
  const ids = eventIds.filter((id): id is number => id !== undefined);
  if (ids.length === 0) return;
  await queue.addBulk(
    ids.map((eventId) => ({
      name: 'engine-event',
      data: { kind: 'engine-event', eventId },
      opts: { jobId: jobIds.engineEvent(eventId) },
    })),
  );
}

/** The engine event types some enabled workflow starts on: the worker writes no others. */
export function listenedEventTypes(config: LoadedConfig): ReadonlySet<string> {
  return new Set(
    config.workflows.flatMap((workflow) =>
      workflow.enabled && workflow.trigger.kind === 'event' ? workflow.trigger.on : [],
    ),
  );
}

/**
 * Queues events right after the change that wrote them committed. Redis being away loses nothing: the events are
 * stored, and the reconciler queues what is still pending.
 */
export function engineEventPublisher(deps: {
  queue: Queue<JobData>;
  logger?: Pick<Logger, 'warn'>;
}): (eventIds: Array<number | undefined>) => Promise<void> {
  return async (eventIds) => {
    const ids = eventIds.filter((id): id is number => id !== undefined);
    if (ids.length === 0) return;
    try {
      await enqueueEngineEvents(deps.queue, ids);
    } catch (error) {
      deps.logger?.warn(
        { events: ids, err: error },
        'engine events stored but not queued: the reconciler will queue them',
      );
    }
  };
}

/** What running the workflows of an engine event needs from the worker. */
export interface ChainDependencies {
  pool: Pool;
  config: LoadedConfig;
  services: StepServices;
  /** Runs (or resumes) a run unless it is finished (the worker's own rules). */
  execute: (
    run: RunRow,
    workflow: CompiledWorkflow,
    event: TriggerEvent | undefined,
    payload: unknown,
  ) => Promise<RunOutcome>;
  /** Throws to retry the job when a run failed with a transient error. */
  settle: (outcomes: RunOutcome[]) => void;
  /** See DEFAULT_EVENT_CHAIN_LIMIT. */
  chainLimit: number;
}

/** Why a run of `workflow` for this event must not start (a runaway or looping chain), or undefined. */
export function chainStop(
  event: Pick<EngineEvent, 'depth' | 'chain'>,
  workflow: string,
  limit: number,
): string | undefined {
  const path = [...event.chain, workflow].join(' → ');
  if (event.chain.includes(workflow))
    return `event chain limit: workflow ${workflow} is already in this chain (${path})`;
  if (event.depth >= limit) return `event chain limit: ${event.depth + 1} chained events (limit ${limit}): ${path}`;
  return undefined;
}

/**
 * Starts every enabled workflow whose `event` trigger matches, once per event (trigger key `engine:<id>`, so a
 * duplicate job finds the runs already made). A run the loop guard stops is recorded as failed with the reason.
 */
export async function processEngineEvent(deps: ChainDependencies, eventId: number): Promise<void> {
  const event = await getEngineEvent(deps.pool, eventId);
  if (!event || event.status !== 'pending') return;
  const listeners = deps.config.workflows.filter(
    (workflow) => workflow.enabled && workflow.trigger.kind === 'event' && workflow.trigger.on.includes(event.type),
  );
  const trigger: TriggerEvent = {
    connector: 'engine',
    type: event.type,
    external_id: String(event.id),
    occurred_at: event.createdAt.toISOString(),
  };
  const customer =
    event.customerId === null || listeners.length === 0
      ? undefined
      : await deps.services.loadCustomer(event.customerId);
  const bindings = { event: { ...trigger, depth: event.depth, chain: event.chain }, customer };
  const outcomes: RunOutcome[] = [];
  for (const workflow of listeners) {
    const on = workflow.trigger;
    if (on.kind === 'event' && on.when && (await on.when.evaluate(event.data, bindings)) !== true) continue;
    const run = await ensureRun(deps.pool, {
      workflow: workflow.id,
      workflowVersion: workflow.version,
      triggerKey: `engine:${event.id}`,
      trigger: { ...trigger, depth: event.depth, chain: event.chain, customer_id: customer?.id ?? null },
      payload: event.data,
    });
    const stop = chainStop(event, workflow.id, deps.chainLimit);
    if (stop) {
      if (run.status === 'queued')
        await markRunFinished(deps.pool, run.id, {
          status: 'failed',
          error: stop,
          retryable: false,
          customerId: customer?.id ?? null,
        });
      continue;
    }
    outcomes.push(await deps.execute(run, workflow, trigger, run.payload));
  }
  deps.settle(outcomes);
  await setEngineEventStatus(deps.pool, event.id, 'processed');
}

/** Engine events for the reconciler: pending ones whose job Redis never took or lost are queued again. */
export function engineEventSource(pool: Pool, queue: Queue<JobData>, graceMs: number): StoredEventSource {
  return {
    listStale: (afterId) => listStalePendingEngineEvents(pool, graceMs, 1000, afterId),
    jobId: jobIds.engineEvent,
    enqueue: (ids) => enqueueEngineEvents(queue, ids),
    markFailed: (id) => setEngineEventStatus(pool, id, 'failed'),
  };
}
