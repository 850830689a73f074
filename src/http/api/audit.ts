import { Router } from 'express';
import { listAudit } from '../../operations/audit-log.js';
import type { ApiOptions } from '../api.js';
import { intParam, limitParam, page } from './params.js';

export function auditApi(options: ApiOptions): Router {
  const router = Router();
  router.get('/audit', async (req, res) => {
    res.json(
      page(
        'entries',
        await listAudit(options, { before: intParam(req.query.before, 'before'), limit: limitParam(req.query.limit) }),
      ),
    );
  });
  return router;
}
