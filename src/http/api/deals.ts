import { Router, type Request } from 'express';
import type { Actor, OperationContext } from '../../operations/context.js';
import { dealDetail, findDeals, forecastPipeline, moveDealStage, statsOfPipeline } from '../../operations/deals.js';
import { InvalidInputError } from '../../operations/errors.js';
import type { DealStatus } from '../../store/deals.js';
import type { ApiOptions } from '../api.js';

const STATUSES: readonly DealStatus[] = ['open', 'won', 'lost'];

function integer(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new InvalidInputError(`${name} must be a non-negative integer`);
  return number;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The bearer token is one actor with admin rights. */
const tokenActor = (req: Request): Actor => ({ name: 'api-token', role: 'admin', ip: req.ip ?? null, via: 'api' });

/** Deals and pipeline forecasts: `/api/deals…` and `/api/pipelines/:id/forecast`. */
export function dealsApi(options: ApiOptions): Router {
  const ctx: OperationContext = { pool: options.pool, queue: options.queue, config: options.config, defaultRegion: options.defaultRegion };
  const router = Router();

  router.get('/deals', async (req, res) => {
    const status = text(req.query.status);
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) throw new InvalidInputError(`status must be one of ${STATUSES.join(', ')}`);
    const deals = await findDeals(ctx, tokenActor(req), {
      customerId: integer(req.query.customer_id, 'customer_id'),
      pipeline: text(req.query.pipeline),
      stage: text(req.query.stage),
      owner: text(req.query.owner),
      status: status as DealStatus | undefined,
      before: integer(req.query.before, 'before'),
      limit: Math.min(integer(req.query.limit, 'limit') ?? 50, 500),
    });
    res.json({ deals: deals.map(({ customer_name: _name, ...deal }) => deal), next_before: deals.length > 0 ? deals.at(-1)!.id : null });
  });

  router.get('/deals/:id', async (req, res) => {
    const { deal, history, stale } = await dealDetail(ctx, tokenActor(req), integer(req.params.id, 'id')!);
    res.json({ ...deal, stale, history });
  });

  router.post('/deals/:id/stage', async (req, res) => {
    const body = (req.body ?? {}) as { stage?: unknown; reason?: unknown };
    const { deal, changed } = await moveDealStage(ctx, tokenActor(req), { dealId: integer(req.params.id, 'id')!, stage: body.stage, reason: body.reason });
    res.json({ ...deal, changed });
  });

  router.get('/pipelines/:id/forecast', async (req, res) => {
    res.json(await forecastPipeline(ctx, tokenActor(req), { pipeline: req.params.id!, months: integer(req.query.months, 'months') ?? 6 }));
  });

  router.get('/pipelines/:id/stats', async (req, res) => {
    res.json(await statsOfPipeline(ctx, tokenActor(req), { pipeline: req.params.id! }));
  });

  return router;
}
