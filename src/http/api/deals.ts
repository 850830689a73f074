import { Router } from 'express';
import {
  DEAL_STATUSES,
  dealDetail,
  findDeals,
  forecastPipeline,
  moveDealStage,
  statsOfPipeline,
  type DealStatus,
} from '../../operations/deals.js';
import { InvalidInputError } from '../../operations/errors.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, intParam, listQuery, page, text } from './params.js';

/** Deals and pipeline figures: `/api/deals…`, `/api/pipelines/:id/forecast` and `/api/pipelines/:id/stats`. */
export function dealsApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/deals', async (req, res) => {
    const status = text(req.query.status);
    if (status !== undefined && !(DEAL_STATUSES as readonly string[]).includes(status))
      throw new InvalidInputError(`status must be one of ${DEAL_STATUSES.join(', ')}`);
    const deals = await findDeals(options, {
      pipeline: text(req.query.pipeline),
      stage: text(req.query.stage),
      owner: text(req.query.owner),
      status: status as DealStatus | undefined,
      ...listQuery(req.query),
    });
    res.json(page('deals', deals, ({ customer_name: _name, ...deal }) => deal));
  });

  router.get('/deals/:id', async (req, res) => {
    const { deal, history, stale } = await dealDetail(options, idParam(req));
    res.json({ ...deal, stale, history });
  });

  router.post('/deals/:id/stage', async (req, res) => {
    const body = (req.body ?? {}) as { stage?: unknown; reason?: unknown };
    const { deal, changed } = await moveDealStage(options, apiActor(req), {
      dealId: idParam(req),
      stage: body.stage,
      reason: body.reason,
    });
    res.json({ ...deal, changed });
  });

  router.get('/pipelines/:id/forecast', async (req, res) => {
    res.json(
      await forecastPipeline(options, { pipeline: req.params.id!, months: intParam(req.query.months, 'months', 6)! }),
    );
  });

  router.get('/pipelines/:id/stats', async (req, res) => {
    res.json(await statsOfPipeline(options, { pipeline: req.params.id! }));
  });

  return router;
}
