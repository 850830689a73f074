import { Router } from 'express';
import { listAudit } from '../../operations/audit-log.js';
import { requireRole } from '../auth.js';
import type { DashboardOptions } from '../routes.js';
import { auditPage } from '../views/audit.js';
import { idParam, PAGE_SIZE, pageHeaders, send, type PageKit } from './kit.js';

/** The audit log, for admins. */
export function auditPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  router.get('/audit', kit.session, requireRole('admin'), pageHeaders, async (req, res) => {
    const entries = await listAudit(options, { before: idParam(req.query.before), limit: PAGE_SIZE });
    send(
      res,
      auditPage(kit.context(req, res), {
        entries,
        nextBefore: entries.length === PAGE_SIZE ? entries.at(-1)!.id : null,
      }),
    );
  });
  return router;
}
