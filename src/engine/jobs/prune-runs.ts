import { pruneOldRunRecords } from '../run-retention.js';
import type { JobHandler } from './context.js';

/** `prune-runs`: the daily retention pass (`CRMFLOW_RUN_RETENTION_DAYS`). */
export const handlePruneRuns: JobHandler<'prune-runs'> = async (data, context) => {
  await pruneOldRunRecords(context.pool, context.logger, {
    olderThanDays: data.olderThanDays,
    now: context.services.now(),
  });
};
