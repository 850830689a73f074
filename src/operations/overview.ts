import {
  connectorHealth as storedConnectorHealth,
  latestFailures as storedLatestFailures,
  runsPerMinute as storedRunsPerMinute,
} from '../store/run-stats.js';
import { countRunsNeedingPerson } from '../store/needs-person.js';
import type { OperationContext } from './context.js';

export type { ConnectorHealth, FailedRun, MinuteCount } from '../store/run-stats.js';

/** What the dashboard's overview shows: runs per minute, the latest failures, each connector's health, the runs needing a person. */
export async function overviewStats(ctx: OperationContext) {
  const [perMinute, failures, connectors, needsPerson] = await Promise.all([
    storedRunsPerMinute(ctx.pool),
    // The failures of the workflows the overview counts, over the same 24 h, so its count and its list agree.
    storedLatestFailures(
      ctx.pool,
      ctx.config.workflows.map((workflow) => workflow.id),
    ),
    storedConnectorHealth(ctx.pool, [...ctx.config.connectors.keys()]),
    countRunsNeedingPerson(ctx.pool),
  ]);
  return { perMinute, failures, connectors, needsPerson };
}
