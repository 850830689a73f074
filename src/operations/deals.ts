import { enqueueEngineEvents, listenedEventTypes } from '../engine/event-dispatch.js';
import {
  changeDeal,
  getDeal,
  getDealHistory,
  isStale,
  listDeals,
  pipelineForecast,
  pipelineStats,
  stageTotals,
  type DealFilter,
  type DealHistoryRow,
  type DealListRow,
  type DealRow,
  type DealStatus,
  type Forecast,
  type PipelineStats,
} from '../store/deals.js';
import type { Pipeline } from '../workflows/pipelines.js';
import { audit, nowOf, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export type { DealListRow, DealStatus, Forecast, PipelineStats } from '../store/deals.js';

/** A deal's statuses: open, then won or lost. */
export const DEAL_STATUSES: readonly DealStatus[] = ['open', 'won', 'lost'];

/** The most months a forecast covers. */
export const MAX_FORECAST_MONTHS = 24;

function pipelineOf(ctx: OperationContext, id: string): Pipeline {
  const pipeline = ctx.config.pipelines.get(id);
  if (!pipeline)
    throw new NotFoundError(
      `no pipeline "${id}"; declared: ${[...ctx.config.pipelines.keys()].join(', ') || '(none)'}`,
    );
  return pipeline;
}

export async function findDeals(ctx: OperationContext, filter: DealFilter): Promise<DealListRow[]> {
  return listDeals(ctx.pool, filter);
}

export async function dealDetail(
  ctx: OperationContext,
  id: number,
): Promise<{ deal: DealRow; history: DealHistoryRow[]; stale: boolean }> {
  const deal = await getDeal(ctx.pool, id);
  if (!deal) throw new NotFoundError(`no deal ${id}`);
  const pipeline = ctx.config.pipelines.get(deal.pipeline);
  return {
    deal,
    history: await getDealHistory(ctx.pool, id),
    stale: pipeline ? isStale(deal, pipeline, nowOf(ctx)) : false,
  };
}

export async function forecastPipeline(
  ctx: OperationContext,
  input: { pipeline: string; months: number },
): Promise<Forecast> {
  if (!Number.isSafeInteger(input.months) || input.months < 1 || input.months > MAX_FORECAST_MONTHS) {
    throw new InvalidInputError(`months must be an integer from 1 to ${MAX_FORECAST_MONTHS}`);
  }
  return pipelineForecast(ctx.pool, pipelineOf(ctx, input.pipeline), input.months, nowOf(ctx));
}

/** Win rate and average days per stage of a pipeline. */
export async function statsOfPipeline(ctx: OperationContext, input: { pipeline: string }): Promise<PipelineStats> {
  return pipelineStats(ctx.pool, pipelineOf(ctx, input.pipeline), nowOf(ctx));
}

export interface BoardColumn {
  stage: Pipeline['stages'][number];
  /** The newest `limit` deals in the stage. */
  deals: Array<DealListRow & { stale: boolean; days_in_stage: number }>;
  /** Every deal in the stage, and the sum of their known amounts in the pipeline's currency. */
  count: number;
  total: number;
}

/** Deals by stage, newest first (the won and lost columns hold closed ones), for the dashboard's board. */
export async function pipelineBoard(
  ctx: OperationContext,
  input: { pipeline: string; limit: number },
): Promise<{ pipeline: Pipeline; columns: BoardColumn[] }> {
  const pipeline = pipelineOf(ctx, input.pipeline);
  const at = nowOf(ctx);
  const totals = await stageTotals(ctx.pool, pipeline);
  const columns: BoardColumn[] = [];
  for (const stage of pipeline.stages) {
    const deals = await listDeals(ctx.pool, { pipeline: pipeline.id, stage: stage.id, limit: input.limit });
    const cards = deals.map((deal) => ({
      ...deal,
      stale: isStale(deal, pipeline, at),
      days_in_stage: Math.floor((at.getTime() - deal.stage_entered_at.getTime()) / 86_400_000),
    }));
    columns.push({
      stage,
      deals: cards,
      count: totals.get(stage.id)?.count ?? 0,
      total: totals.get(stage.id)?.total ?? 0,
    });
  }
  return { pipeline, columns };
}

/**
 * A person moves a deal to another stage of its pipeline (any direction: a person decides), audited. Closed deals do
 * not move. Fires deal.stage_changed, and deal.won or deal.lost for those stages, like a workflow's move.
 */
export async function moveDealStage(
  ctx: OperationContext,
  actor: Actor,
  input: { dealId: number; stage: unknown; reason?: unknown },
): Promise<{ deal: DealRow; changed: boolean }> {
  requireRole(actor, 'support');
  const deal = await getDeal(ctx.pool, input.dealId);
  if (!deal) throw new NotFoundError(`no deal ${input.dealId}`);
  const pipeline = ctx.config.pipelines.get(deal.pipeline);
  if (!pipeline)
    throw new ConflictError(`pipeline ${deal.pipeline} is no longer declared in workflows.yaml`, 'pipeline_gone');
  if (typeof input.stage !== 'string' || !pipeline.byId.has(input.stage)) {
    throw new InvalidInputError(`stage must be one of ${pipeline.stages.map((stage) => stage.id).join(', ')}`);
  }
  if (input.reason !== undefined && (typeof input.reason !== 'string' || input.reason.length > 500))
    throw new InvalidInputError('reason must be text of at most 500 characters');
  const reason = typeof input.reason === 'string' && input.reason.trim() !== '' ? input.reason.trim() : null;
  if (deal.status !== 'open')
    throw new ConflictError(`deal ${deal.id} is ${deal.status}; a closed deal does not move`, 'deal_closed');
  if (deal.stage === input.stage) return { deal, changed: false };
  const result = await changeDeal(ctx.pool, {
    customerId: deal.customer_id,
    pipeline,
    stage: input.stage,
    at: nowOf(ctx),
    source: `user:${actor.name}`,
    actor: actor.name,
    reason,
    dealId: deal.id,
    allowBackwards: true,
    listenedEvents: listenedEventTypes(ctx.config),
  });
  if (result.action !== 'moved' || !result.deal)
    throw new ConflictError(result.reason ?? `deal ${deal.id} did not move`, 'deal_not_moved');
  await audit(ctx, actor, 'deal.stage', `deal:${deal.id}`, {
    from: deal.stage,
    to: input.stage,
    pipeline: pipeline.id,
    customer_id: deal.customer_id,
    ...(reason ? { reason } : {}),
  });
  // Stored with the change: if Redis is away, the reconciler queues them.
  await enqueueEngineEvents(ctx.queue, result.events).catch(() => undefined);
  return { deal: result.deal, changed: true };
}
