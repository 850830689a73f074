import { UnrecoverableError } from 'bullmq';
import { VendorAuthError } from '../../connectors/shared/vendor-http.js';
import { runPull } from '../pull.js';
import type { JobHandler } from './context.js';

/** `pull`: a poll trigger's pull, from its stored cursor. Bad credentials fail the job for good (an admin must act). */
export const handlePull: JobHandler<'pull'> = async (data, context) => {
  const workflow = context.workflows.get(data.workflow);
  if (!workflow?.enabled || workflow.trigger.kind !== 'poll') return;
  const { trigger } = workflow;
  const connectorId = trigger.connector.id;
  try {
    await runPull(
      {
        connector: trigger.connector,
        resource: trigger.resource,
        cursorKey: trigger.resource,
        since: new Date(Date.now() - trigger.backfillMs),
        pageSize: trigger.pageSize,
        onSkipped: (message) => context.signals.error(connectorId, message),
        region: context.config.identityPolicy.regions?.[connectorId] ?? context.services.defaultRegion,
      },
      context.connectorContext(connectorId, AbortSignal.timeout(15 * 60_000)),
      { pool: context.pool, queue: context.queue, logger: context.logger },
    );
  } catch (error) {
    context.signals.error(connectorId, `pull of ${trigger.resource} failed: ${(error as Error).message}`);
    if (error instanceof VendorAuthError) throw new UnrecoverableError(`${connectorId}: ${error.message}`);
    throw error;
  }
};
