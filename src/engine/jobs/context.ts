import type { ConnectorContext } from '../../connectors/define-connector.js';
import type { ConnectorSignals } from '../../observability/connector-signals.js';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Pool } from '../../store/pool.js';
import type { RunRow, StartedRun } from '../../store/runs.js';
import type { CompiledWorkflow, LoadedConfig } from '../../workflows/load.js';
import type { CaseTargetChecks } from '../case-services.js';
import type { ChainDependencies } from '../event-dispatch.js';
import type { JobData } from '../queues.js';
import type { RunOutcome } from '../run-workflow.js';
import type { StepServices, TriggerEvent } from '../steps/define-step.js';

export interface ExecuteOptions {
  /** `manual`: a person's retry (also runs a run that failed for good); `resume`: a waiting run's time came. */
  mode?: 'auto' | 'manual' | 'resume';
  /** The run was created already started (ensureRunToStart). */
  started?: StartedRun;
  /** The inbox event this run's end marks processed (see RunInput.settlesInbox). */
  settlesInbox?: number;
}

/** What every job handler receives: the worker's dependencies and the run executor they share. */
export interface JobContext {
  pool: Pool;
  config: LoadedConfig;
  services: StepServices;
  logger: Logger;
  queue: Queue<JobData>;
  signals: ConnectorSignals;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** Enabled or not, by id. */
  workflows: ReadonlyMap<string, CompiledWorkflow>;
  /**
   * Runs (or resumes) a run unless it is finished or cancelled; a run that failed for good waits for a manual retry,
   * a waiting run for its resume job (`resume`), which is (re-)added here in case it was lost.
   */
  execute: (
    run: RunRow,
    workflow: CompiledWorkflow,
    event: TriggerEvent | undefined,
    payload: unknown,
    options?: ExecuteOptions,
  ) => Promise<RunOutcome>;
  /** Throws (BullMQ retries the job with backoff) when any outcome failed in a way that may heal. */
  settle: (outcomes: RunOutcome[]) => void;
  /** What engine-event dispatch needs (event triggers chain runs). */
  chain: ChainDependencies;
  /** Checks case targets at their due times. */
  cases: CaseTargetChecks;
}

/** A handler of one job kind. */
export type JobHandler<K extends JobData['kind']> = (
  data: Extract<JobData, { kind: K }>,
  context: JobContext,
) => Promise<void>;
