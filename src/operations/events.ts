import { runPull, type PullResult } from '../engine/pull.js';
import { deleteCursor } from '../store/cursors.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export type { PullResult } from '../engine/pull.js';

export interface BackfillInput {
  connector: string;
  resource: string;
  /** Where the history starts. */
  since: Date;
  pageSize?: number;
  /** Called after each page is stored (progress bars). */
  onPage?: (progress: PullResult & { newestOccurredAt?: Date }) => void;
  /** How long the whole pull may take. Default 24 hours. */
  timeoutMs?: number;
}

/**
 * Pulls a connector resource from `since` to now into the inbox; workers process the events as they arrive. Uses its
 * own cursor (`<resource>@backfill`, reset first), so a poll trigger on the same resource is not moved. Admins only.
 */
export async function backfill(ctx: OperationContext, actor: Actor, input: BackfillInput): Promise<PullResult> {
  requireRole(actor, 'admin');
  const configured = ctx.config.connectors.get(input.connector);
  if (!configured) throw new NotFoundError(`connector "${input.connector}" is not configured in the workflows file`);
  const resources = Object.keys(configured.definition.pull ?? {});
  if (!resources.includes(input.resource))
    throw new NotFoundError(
      `connector ${input.connector} has no pull resource "${input.resource}"; known: ${resources.join(', ') || '(none)'}`,
    );
  if (!ctx.connectorContext || !ctx.logger)
    throw new InvalidInputError('backfill needs a process that can call connectors');
  const cursorKey = `${input.resource}@backfill`;
  await deleteCursor(ctx.pool, input.connector, cursorKey);
  await audit(ctx, actor, 'events.backfill', `connector:${input.connector}`, {
    resource: input.resource,
    since: input.since.toISOString(),
  });
  const result = await runPull(
    {
      connector: configured.definition,
      resource: input.resource,
      cursorKey,
      since: input.since,
      pageSize: input.pageSize ?? 100,
      onPage: input.onPage,
    },
    ctx.connectorContext(input.connector, AbortSignal.timeout(input.timeoutMs ?? 24 * 3600_000)),
    { pool: ctx.pool, queue: ctx.queue, logger: ctx.logger },
  );
  if (!result.ran) throw new ConflictError(`another backfill of ${input.connector} ${input.resource} is running`);
  return result;
}
