import { runRetentionDays, type Env } from '../config/env.js';
import { pruneRuns } from '../operations/runs.js';
import type { Crmflow } from '../runtime.js';
import { cliActor } from './actor.js';

export const RUNS_PRUNE_USAGE = 'usage: crmflow runs prune [--older-than 90d] [--dry-run]';

export interface RunsPruneOptions {
  /** Whole days, `90` or `90d`; default `CRMFLOW_RUN_RETENTION_DAYS` from `env`. */
  olderThan?: string;
  dryRun?: boolean;
  env: Env;
}

/** `crmflow runs prune`: the daily retention pass, now (the same operation, audited as the OS user). Returns its line. */
export async function runsPrune(app: Pick<Crmflow, 'operations'>, options: RunsPruneOptions): Promise<string> {
  const given = options.olderThan;
  const days = given === undefined ? runRetentionDays(options.env) : Number(/^(\d+)d?$/.exec(given)?.[1] ?? NaN);
  if (days === undefined)
    throw new Error(`retention is off (CRMFLOW_RUN_RETENTION_DAYS); give --older-than. ${RUNS_PRUNE_USAGE}`);
  if (Number.isNaN(days)) throw new Error(`--older-than must be a number of days such as 90d, got "${given}"`);
  const result = await pruneRuns(app.operations, cliActor(), { olderThanDays: days, dryRun: options.dryRun });
  const before = result.finishedBefore.toISOString();
  return options.dryRun
    ? `would remove the step records of ${result.runs} runs finished before ${before} (${result.steps} step records)`
    : `removed the step records of ${result.runs} runs finished before ${before} (${result.steps} step records, ${result.events} stored event payloads)`;
}
