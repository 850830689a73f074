import { Router, type RequestHandler, type Request, type Response } from 'express';
import type { OperationContext } from '../../operations/context.js';
import { OperationError, HTTP_STATUS_OF } from '../../operations/errors.js';
import { formerOwners, handOver } from '../../operations/hand-over.js';
import { sessionOf } from '../auth.js';
import { handOverPage } from '../views/hand-over.js';
import { messagePage, type PageContext } from '../views/layout.js';

export interface HandOverPagesOptions {
  ctx: OperationContext;
  /** Signed-in users only; then, for the POST, the form parser, the CSRF check and the admin role. */
  session: RequestHandler;
  guardPost: RequestHandler[];
  pageHeaders: RequestHandler;
  context: (req: Request, res: Response) => PageContext;
}

const NOTICE = (summary: { from: string; to: string[]; customers: number; tasks: number; slas: number }) =>
  `Handed over from ${summary.from} to ${summary.to.join(', ')}: ${summary.customers} customers, ${summary.tasks} open tasks, ${summary.slas} pending SLAs.`;

/** `/hand-over`: agents who left but still own customers, and the form that hands an agent's book over. */
export function handOverPages(options: HandOverPagesOptions): Router {
  const { ctx } = options;
  const router = Router();
  const show = async (req: Request, res: Response, notice?: string, status = 200) => {
    const page = handOverPage(options.context(req, res), { agents: [...ctx.config.agents.values()], pools: [...ctx.config.pools.keys()], former: await formerOwners(ctx), notice });
    res.status(status).type('html').send(page.value);
  };

  router.get('/hand-over', options.session, options.pageHeaders, (req, res) => show(req, res));

  router.post('/hand-over', options.session, ...options.guardPost, async (req, res) => {
    const body = req.body as { from?: unknown; to?: unknown };
    const to = typeof body.to === 'string' ? body.to : '';
    const { user, role } = sessionOf(res);
    try {
      const summary = await handOver(ctx, { name: user, role, ip: req.ip ?? null, via: 'dashboard' }, {
        from: typeof body.from === 'string' ? body.from : '',
        ...(to.startsWith('pool:') ? { to_pool: to.slice(5) } : { to_agent: to.replace(/^agent:/, '') }),
      });
      await show(req, res, NOTICE(summary));
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      res.status(HTTP_STATUS_OF[error.kind]).type('html').send(messagePage(options.context(req, res), 'Not handed over', error.message).value);
    }
  });
  return router;
}
