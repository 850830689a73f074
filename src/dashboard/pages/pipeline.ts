import { Router } from 'express';
import { forecastPipeline, moveDealStage, pipelineBoard, statsOfPipeline } from '../../operations/deals.js';
import { HTTP_STATUS_OF, OperationError } from '../../operations/errors.js';
import type { DashboardOptions } from '../routes.js';
import { messagePage } from '../views/layout.js';
import { pipelinePage } from '../views/pipeline.js';
import { idParam, pageHeaders, send, text, type PageKit } from './kit.js';

const BOARD_LIMIT = 100;
const NOTICES: Record<string, string> = {
  moved: 'Deal moved.',
  deal_closed: 'That deal is won or lost: closed deals do not move.',
  bad_request: 'Choose one of the pipeline’s stages.',
  deal_not_moved: 'The deal did not move.',
};

/** The pipeline board with its forecast chart (`/pipelines/:id`), and moving a deal from a card (`POST /deals/:id/stage`, support role). */
export function pipelinePages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();

  router.get('/pipelines', kit.session, pageHeaders, (req, res) => {
    const first = options.config.pipelines.keys().next().value;
    if (first === undefined)
      return send(
        res,
        messagePage(kit.context(req, res), 'No pipelines', 'Declare one under `pipelines:` in workflows.yaml.'),
      );
    const notice = typeof req.query.notice === 'string' ? `?notice=${encodeURIComponent(req.query.notice)}` : '';
    res.redirect(303, `/pipelines/${encodeURIComponent(first)}${notice}`);
  });

  router.get('/pipelines/:id', kit.session, pageHeaders, async (req, res) => {
    const id = String(req.params.id);
    if (!options.config.pipelines.has(id))
      return send(res, messagePage(kit.context(req, res), 'Pipeline not found', `There is no pipeline ${id}.`), 404);
    const [board, forecast, stats] = await Promise.all([
      pipelineBoard(options, { pipeline: id, limit: BOARD_LIMIT }),
      forecastPipeline(options, { pipeline: id, months: 6 }),
      statsOfPipeline(options, { pipeline: id }),
    ]);
    const page = pipelinePage(kit.context(req, res), {
      ...board,
      forecast,
      stats,
      pipelines: [...options.config.pipelines.keys()],
      agents: options.config.agents,
      notice: NOTICES[text(req.query.notice)],
    });
    send(res, page);
  });

  // A refused move (closed deal, unknown stage) goes back to the board with its notice; a missing deal or role is answered plainly.
  router.post('/deals/:id/stage', ...kit.post('support'), async (req, res) => {
    const id = idParam(req.params.id);
    if (id === undefined) return void res.status(404).type('text/plain').send('no such deal');
    const body = (req.body ?? {}) as { stage?: unknown; reason?: unknown };
    try {
      const { deal } = await moveDealStage(options, kit.actor(req, res), {
        dealId: id,
        stage: body.stage,
        reason: body.reason,
      });
      res.redirect(303, `/pipelines/${encodeURIComponent(deal.pipeline)}?notice=moved#deal-${deal.id}`);
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      if (error.kind === 'not_found' || error.kind === 'forbidden')
        return void res.status(HTTP_STATUS_OF[error.kind]).type('text/plain').send(error.message);
      res.redirect(303, `/pipelines?notice=${encodeURIComponent(error.code)}`);
    }
  });

  return router;
}
