import { Router, type RequestHandler, type Request, type Response } from 'express';
import type { Actor, OperationContext } from '../../operations/context.js';
import { forecastPipeline, moveDealStage, pipelineBoard, statsOfPipeline } from '../../operations/deals.js';
import { OperationError } from '../../operations/errors.js';
import { requireCsrf, requireRole, sessionOf, type DashboardAuth } from '../auth.js';
import type { DashboardOptions } from '../routes.js';
import { messagePage, type PageContext } from '../views/layout.js';
import { pipelinePage } from '../views/pipeline.js';

/** What the pipeline pages borrow from the dashboard router: its auth, session and form middleware, page context. */
export interface PipelinePagesOptions {
  options: DashboardOptions;
  auth: DashboardAuth;
  session: RequestHandler;
  form: RequestHandler;
  context: (req: Request, res: Response) => PageContext;
}

const BOARD_LIMIT = 100;
const NOTICES: Record<string, string> = {
  moved: 'Deal moved.',
  deal_closed: 'That deal is won or lost: closed deals do not move.',
  bad_request: 'Choose one of the pipeline’s stages.',
  deal_not_moved: 'The deal did not move.',
};

const actorOf = (req: Request, res: Response): Actor => {
  const { user, role } = sessionOf(res);
  return { name: user, role, ip: req.ip ?? null, via: 'dashboard' };
};

/** The pipeline board with its forecast chart (`/pipelines/:id`), and moving a deal from a card (`POST /deals/:id/stage`). */
export function pipelinePages({ options, auth, session, form, context }: PipelinePagesOptions): Router {
  const ctx: OperationContext = { pool: options.pool, queue: options.queue, config: options.config, defaultRegion: options.defaultRegion };
  const router = Router();
  const noStore: RequestHandler = (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  };

  router.get('/pipelines', session, noStore, (req, res) => {
    const first = options.config.pipelines.keys().next().value;
    if (first === undefined) return void res.type('html').send(messagePage(context(req, res), 'No pipelines', 'Declare one under `pipelines:` in workflows.yaml.').value);
    const notice = typeof req.query.notice === 'string' ? `?notice=${encodeURIComponent(req.query.notice)}` : '';
    res.redirect(303, `/pipelines/${encodeURIComponent(first)}${notice}`);
  });

  router.get('/pipelines/:id', session, noStore, async (req, res) => {
    const id = String(req.params.id);
    if (!options.config.pipelines.has(id)) return void res.status(404).type('html').send(messagePage(context(req, res), 'Pipeline not found', `There is no pipeline ${id}.`).value);
    const actor = actorOf(req, res);
    const [board, forecast, stats] = await Promise.all([
      pipelineBoard(ctx, actor, { pipeline: id, limit: BOARD_LIMIT }),
      forecastPipeline(ctx, actor, { pipeline: id, months: 6 }),
      statsOfPipeline(ctx, actor, { pipeline: id }),
    ]);
    const notice = NOTICES[typeof req.query.notice === 'string' ? req.query.notice : ''];
    const page = pipelinePage(context(req, res), { ...board, forecast, stats, pipelines: [...options.config.pipelines.keys()], agents: options.config.agents, notice });
    res.type('html').send(page.value);
  });

  router.post('/deals/:id/stage', session, form, requireCsrf(auth), requireRole('support'), async (req, res) => {
    const id = String(req.params.id);
    if (!/^\d{1,15}$/.test(id)) return void res.status(404).type('text/plain').send('no such deal');
    const body = (req.body ?? {}) as { stage?: unknown; reason?: unknown };
    try {
      const { deal } = await moveDealStage(ctx, actorOf(req, res), { dealId: Number(id), stage: body.stage, reason: body.reason });
      res.redirect(303, `/pipelines/${encodeURIComponent(deal.pipeline)}?notice=moved#deal-${deal.id}`);
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      if (error.kind === 'not_found' || error.kind === 'forbidden') return void res.status(error.kind === 'forbidden' ? 403 : 404).type('text/plain').send(error.message);
      res.redirect(303, `/pipelines?notice=${encodeURIComponent(error.code)}`);
    }
  });

  return router;
}
