import { connectorHealth as storedConnectorHealth, latestFailures as storedLatestFailures, runsPerMinute as storedRunsPerMinute } from '../store/run-stats.js';
import type { OperationContext } from './context.js';

export type { ConnectorHealth, FailedRun, MinuteCount } from '../store/run-stats.js';

/** What the dashboard's overview shows: runs per minute, the latest failures, each connector's health. */
export async function overviewStats(ctx: OperationContext) {
  const [perMinute, failures, connectors] = await Promise.all([
    storedRunsPerMinute(ctx.pool),
    storedLatestFailures(ctx.pool),
    storedConnectorHealth(ctx.pool, [...ctx.config.connectors.keys()]),
  ]);
  return { perMinute, failures, connectors };
}
