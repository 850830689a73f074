import type { Logger } from 'pino';
import type { SecretRedactor } from '../config/secret-redactor.js';
import { observeRun } from '../observability/metrics.js';
import type { Pool, PoolClient } from '../store/pool.js';
import {
  markRunWaiting,
  recordSteps,
  startRun,
  type RunEnd,
  type RunRow,
  type StartedRun,
  type StepRecord,
  type StepStatus,
} from '../store/runs.js';
import type { CompiledStep, CompiledWorkflow } from '../workflows/load.js';
import { initialRunState } from './run-subject.js';
import { withTimeout } from './timeout.js';
import { isRetryable } from '../connectors/shared/retry-signal.js';
import {
  StepError,
  type CoalescedRefreshes,
  type RunState,
  type StepServices,
  type TriggerEvent,
} from './steps/define-step.js';

export interface RunInput {
  run: RunRow;
  workflow: CompiledWorkflow;
  event: TriggerEvent | undefined;
  payload: unknown;
  /** The run was created already started (ensureRunToStart): no need to mark it. */
  started?: StartedRun;
  /**
   * The inbox event whose last run this is: the run's end marks it processed in the same statement, unless the run
   * fails in a way that is retried. The outcome says `settledInbox` when it did.
   */
  settlesInbox?: number;
}

export type RunOutcome = (
  | { status: 'succeeded' | 'filtered' | 'cancelled' }
  /** Suspended by a step until `resumeAt`: the caller schedules the resumption. */
  | { status: 'waiting'; resumeAt: Date }
  | { status: 'failed'; error: string; retryable: boolean; runId?: number }
) & {
  /** The run's end marked its inbox event processed (RunInput.settlesInbox). */
  settledInbox?: true;
};

/** A failure that may heal: the job runs again with backoff (the worker's `settle`), its event stays pending. */
export const willRetry = (outcome: { status: string; retryable?: boolean }) =>
  outcome.status === 'failed' && outcome.retryable === true;

export interface RunDependencies {
  pool: Pool;
  services: StepServices;
  logger: Logger;
  /** Hides configured secret values from what runs record (outputs, errors); default: nothing hidden. */
  redactor?: SecretRedactor;
}

/**
 * Runs a workflow's steps in order, recording each. A run that was interrupted or failed resumes at the first step
 * without a success record: earlier steps are not executed again, their recorded outputs and state are reused.
 * A step may suspend the run until a time; the run is then `waiting` and, resumed, runs that step again.
 */
export async function runWorkflow(input: RunInput, deps: RunDependencies): Promise<RunOutcome> {
  const finished = observeRun(input.workflow.id);
  const refreshes = deps.services.coalesceRefreshes?.(input.run.id);
  const inbox = { settled: false };
  const outcome = await executeRun(input, deps, refreshes, inbox)
    .catch((error: unknown) => {
      finished('failed');
      throw error;
    })
    .finally(() => refreshes?.end());
  finished(outcome.status);
  return inbox.settled ? { ...outcome, settledInbox: true } : outcome;
}

/** readsTraits' answers, once per compiled step (its configuration never changes), not per step of every run. */
const traitReaders = new WeakMap<CompiledStep, boolean>();
/**
 * Whether a step's configuration may read the customer's traits: `$customer.traits…`, or `$customer` other than one
 * of its plain fields (errs towards "reads them"). Such a step waits for the run's owed refresh.
 */
const readsTraits = (step: CompiledStep) => {
  let reads = traitReaders.get(step);
  if (reads === undefined) {
    reads = /\$customer(?!\.(?!traits\b)[A-Za-z_])/.test(JSON.stringify(step.config));
    traitReaders.set(step, reads);
  }
  return reads;
};

async function executeRun(
  input: RunInput,
  deps: RunDependencies,
  refreshes: CoalescedRefreshes | undefined,
  inbox: { settled: boolean },
): Promise<RunOutcome> {
  const { run, workflow } = input;
  const redact = deps.redactor ?? { text: (text: string) => text, json: <T>(value: T) => value };
  const logger = deps.logger.child({
    run_id: run.id,
    workflow: workflow.id,
    ...(input.event ? { connector: input.event.connector, event_id: input.event.external_id } : {}),
  });
  const start = input.started ?? (await startRun(deps.pool, run.id));
  if (start === undefined) return { status: 'cancelled' };
  const { attempt } = start;
  const done = new Map(start.completed.map((record) => [record.stepIndex, record]));
  const lastIndex = workflow.steps.at(-1)?.index;
  const state: RunState = await initialRunState(run, deps.services);
  const outputs: Record<string, unknown> = {};
  // An earlier attempt may have stopped between a change and the refresh it owed: this attempt owes it too.
  let earlierAttemptOwes = attempt > 1;
  /** The owed refreshes, with `work` in their transaction when given; `$customer.traits` is then up to date. */
  const flush = async <T>(work?: (db: Pool | PoolClient) => Promise<T>): Promise<T | undefined> => {
    if (earlierAttemptOwes && state.customer) {
      refreshes?.owe(state.customer.id);
      earlierAttemptOwes = false;
    }
    if (!refreshes?.pending()) return work?.(deps.pool);
    const { result, traits } = await refreshes.flush(work);
    const customer = state.customer;
    const refreshed = customer && traits.get(customer.id);
    if (customer && refreshed) state.customer = { ...customer, traits: refreshed };
    return result;
  };
  /** The run's end, marking the inbox event it settles processed, unless it is a failure that will be retried. */
  const ending = (end: RunEnd): RunEnd => {
    if (input.settlesInbox === undefined || willRetry(end)) return end;
    inbox.settled = true;
    return { ...end, settlesInbox: input.settlesInbox };
  };
  // Records of effect-free and rerunnable steps, written with the next record (before the next step reaching outside).
  let deferred: StepRecord[] = [];
  let holdsRerunnable = false;
  // Failures of `on_error: continue` steps: the run goes on, and ends with them named in its error.
  const failures: string[] = [];
  const failedSteps = () =>
    failures.length === 0
      ? undefined
      : `${failures.length} failed step${failures.length === 1 ? '' : 's'}, the run went on (on_error: continue): ${failures.join('; ')}`;

  for (const step of workflow.steps) {
    const previous = done.get(step.index);
    if (previous && previous.stepId === step.id) {
      Object.assign(state, previous.state ?? {});
      outputs[step.id] = previous.output;
      continue;
    }
    if (readsTraits(step)) await flush();
    // A step reaching outside runs (and is retried) after the records of the rerunnable steps before it.
    if (holdsRerunnable && !step.definition.effectFree && !step.definition.rerunnable) {
      const { cancelled } = await recordSteps(deps.pool, run.id, deferred);
      [deferred, holdsRerunnable] = [[], false];
      if (cancelled) {
        await flush();
        return { status: 'cancelled' };
      }
    }
    const bindings = {
      event: input.event,
      record: state.record,
      customer: state.customer,
      owner: state.owner,
      steps: outputs,
    };
    const startedAt = new Date();
    const started = performance.now();
    // `end` finishes the run with the step's record, in one round trip.
    const record = async (
      status: StepStatus,
      output: unknown,
      stepState: RunState | null,
      error: string | null,
      end?: RunEnd,
    ) => {
      const stepRecord: StepRecord = {
        stepIndex: step.index,
        stepId: step.id,
        type: step.definition.type,
        status,
        input: redact.json(stepInput(step)),
        output: redact.json(output),
        state: stepState as Record<string, unknown> | null,
        error: error === null ? null : redact.text(error),
        attempt,
        startedAt,
        durationMs: performance.now() - started,
      };
      if (status === 'succeeded' && (step.definition.effectFree || step.definition.rerunnable) && !end) {
        deferred.push(stepRecord);
        holdsRerunnable ||= step.definition.rerunnable === true;
        return { cancelled: false };
      }
      const records = [...deferred, stepRecord];
      [deferred, holdsRerunnable] = [[], false];
      // The run's end commits with its owed refresh; a cancelled run still gets it.
      if (end) return (await flush((db) => recordSteps(db, run.id, records, ending(end))))!;
      const recorded = await recordSteps(deps.pool, run.id, records);
      if (recorded.cancelled) await flush();
      return recorded;
    };
    const customerId = () => state.customer?.id ?? null;
    const succeeded = () =>
      step.index === lastIndex
        ? { status: 'succeeded' as const, customerId: customerId(), error: failedSteps() }
        : undefined;
    try {
      if (step.condition && (await step.condition.evaluate(input.payload, bindings)) !== true) {
        const end = succeeded();
        if ((await record('succeeded', { skipped: 'condition is false' }, null, null, end)).cancelled)
          return { status: 'cancelled' };
        if (end) return { status: 'succeeded' };
        continue;
      }
      const result = await withTimeout(
        step.timeoutMs,
        (signal) =>
          step.definition.run(step.compiled, {
            runId: run.id,
            workflowId: workflow.id,
            stepId: step.id,
            attempt,
            idempotencyKey: `run:${run.id}:${step.id}`,
            event: input.event,
            payload: input.payload,
            state,
            steps: outputs,
            bindings,
            services: deps.services,
            resumed:
              run.suspendedStep === step.index && run.resumeAt && run.suspendedAt
                ? { since: run.suspendedAt, until: run.resumeAt }
                : undefined,
            signal,
            logger,
          }),
        () => new StepError(`step ${step.id} timed out after ${step.timeoutMs} ms`, true),
      );
      if (result.suspend) {
        const output = {
          ...(result.output as Record<string, unknown> | undefined),
          waiting_until: result.suspend.until.toISOString(),
          reason: result.suspend.reason,
        };
        await flush();
        await record('waiting', output, null, null);
        await markRunWaiting(deps.pool, run.id, {
          stepIndex: step.index,
          resumeAt: result.suspend.until,
          customerId: state.customer?.id ?? null,
        });
        logger.info({ step: step.id, resume_at: result.suspend.until }, 'run waiting');
        return { status: 'waiting', resumeAt: result.suspend.until };
      }
      Object.assign(state, result.state ?? {});
      outputs[step.id] = result.output ?? null;
      const end = result.stop ? { status: result.stop, customerId: customerId(), error: failedSteps() } : succeeded();
      const { cancelled } = await record('succeeded', result.output ?? null, result.state ?? null, null, end);
      if (cancelled) return { status: 'cancelled' };
      if (end) return { status: end.status };
    } catch (error) {
      const reason = redact.text((error as Error).message);
      const message = `step ${step.id} (${step.definition.type}): ${reason}`;
      if (step.onError === 'continue') {
        failures.push(message);
        outputs[step.id] = { error: reason };
        const end = succeeded();
        if ((await record('failed', outputs[step.id], null, reason, end)).cancelled) return { status: 'cancelled' };
        logger.warn({ step: step.id, err: error }, 'step failed; the run goes on (on_error: continue)');
        if (end) return { status: 'succeeded' };
        continue;
      }
      // A broken expression, or an error that says it will fail again (StepError, a vendor's refusal), fails the run now.
      const retryable = isRetryable(error);
      await record('failed', null, null, reason, {
        status: 'failed',
        error: message,
        retryable,
        customerId: customerId(),
      });
      logger.warn({ step: step.id, retryable, err: error }, 'run failed');
      return { status: 'failed', error: message, retryable };
    }
  }
  // The last steps had completed in earlier attempts (one stopped after their records): only the run's end is left.
  const end: RunEnd = { status: 'succeeded', customerId: state.customer?.id ?? null, error: failedSteps() };
  await flush((db) => recordSteps(db, run.id, deferred, ending(end)));
  return { status: 'succeeded' };
}

/** What the run record shows as a step's input: its configuration as written (`${VAR}` not substituted). */
function stepInput(step: CompiledStep): Record<string, unknown> {
  const { type: _type, ...config } = step.written;
  return config;
}
