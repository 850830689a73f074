import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import { requireRole, sameOrigin } from '../auth.js';
import type { DashboardOptions } from '../routes.js';
import { bullBoardPolicy } from '../security-headers.js';
import type { PageKit } from './kit.js';

/**
 * Raw queue operations: bull-board under `/admin/queues`, for admins. Its own API has no CSRF token: SameSite=Lax
 * keeps the session cookie off cross-site requests, and a browser's cross-site Origin is refused here as well.
 */
export function adminQueuesPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: [new BullMQAdapter(options.queue)],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'crmflow queues' } },
  });
  router.use(
    '/admin/queues',
    kit.session,
    requireRole('admin'),
    bullBoardPolicy(),
    (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'HEAD' && (!req.headers.origin || !sameOrigin(req))) {
        return void res.status(403).type('text/plain').send('cross-site request refused');
      }
      next();
    },
    board.getRouter(),
  );
  return router;
}
