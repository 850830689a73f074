import { Router } from 'express';
import {
  eraseCustomer,
  exportCustomer,
  getCustomer,
  lookupCustomers,
  setConsent,
  unmergeCustomer,
} from '../../operations/customers.js';
import type { ApiOptions } from '../api.js';
import { apiActor, idParam, intParam, text } from './params.js';

/** Customer lookup, consent, unmerge, export and erasure. */
export function customersApi(options: ApiOptions): Router {
  const router = Router();

  router.get('/customers', async (req, res) => {
    const customers = await lookupCustomers(options, {
      email: text(req.query.email),
      phone: text(req.query.phone),
      q: text(req.query.q),
      limit: Math.min(intParam(req.query.limit, 'limit', 20)!, 100),
    });
    res.json({ customers });
  });

  router.get('/customers/:id', async (req, res) => {
    res.json(await getCustomer(options, idParam(req)));
  });

  router.put('/customers/:id/consent', async (req, res) => {
    const { channel, granted, source } = (req.body ?? {}) as { channel?: unknown; granted?: unknown; source?: unknown };
    const saved = await setConsent(options, apiActor(req), { customerId: idParam(req), channel, granted, source });
    res.json({ customer_id: saved.customerId, channel: saved.channel, consent: saved.consent });
  });

  router.post('/customers/:id/unmerge', async (req, res) => {
    const body = (req.body ?? {}) as { merge_id?: unknown; customer_id?: unknown };
    const result = await unmergeCustomer(options, apiActor(req), {
      customerId: idParam(req),
      mergeId: intParam(body.merge_id, 'merge_id'),
      mergedId: intParam(body.customer_id, 'customer_id'),
    });
    res.json({
      merge_id: result.mergeId,
      kept_id: result.keptId,
      merged_id: result.mergedId,
      restored: result.restored,
    });
  });

  router.get('/customers/:id/export', async (req, res) => {
    res.json(await exportCustomer(options, apiActor(req), { customerId: idParam(req) }));
  });

  router.delete('/customers/:id', async (req, res) => {
    const erased = await eraseCustomer(options, apiActor(req), { customerId: idParam(req) });
    res.json({ customer_ids: erased.customerIds, identities_blocked: erased.identities, rows: erased.rows });
  });

  return router;
}
