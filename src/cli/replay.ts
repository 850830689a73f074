import { replayEvents } from '../operations/runs.js';
import type { Crmflow } from '../runtime.js';
import { cliActor } from './actor.js';
import { parseSince } from './backfill.js';

export interface ReplayOptions {
  since?: string;
  workflow?: string;
  /** Only events whose run of `workflow` (or of any workflow) has this status. */
  status?: string;
  dryRun?: boolean;
  now?: () => number;
}

/**
 * `crmflow replay`: runs stored events through the current workflows again, as new runs (the earlier runs stay as
 * they were). Replies are sent again by the new runs: narrow with --workflow and --status.
 */
export async function replay(
  app: Pick<Crmflow, 'operations'>,
  options: ReplayOptions,
): Promise<{ events: number; name: string }> {
  const now = (options.now ?? Date.now)();
  const since = parseSince(options.since ?? '24h', now);
  return replayEvents({ ...app.operations, now: () => new Date(now) }, cliActor(), {
    since,
    workflow: options.workflow,
    status: options.status,
    dryRun: options.dryRun,
  });
}
