import { Router } from 'express';
import { casesOfCustomer } from '../../operations/cases.js';
import {
  getCustomer,
  newestCustomers,
  searchCustomers,
  setConsent,
  unmergeCustomer,
} from '../../operations/customers.js';
import { findDeals } from '../../operations/deals.js';
import { NotFoundError } from '../../operations/errors.js';
import type { DashboardOptions } from '../routes.js';
import { contactNotice } from '../views/customer-contacts.js';
import { customerDetailPage, customersPage } from '../views/customers.js';
import { messagePage } from '../views/layout.js';
import { customerDeals } from '../views/pipeline.js';
import { idParam, PAGE_SIZE, pageHeaders, refusal, send, text, type PageKit } from './kit.js';

/** Customer search and page (with the customer's deals); support staff record consent, admins undo merges. */
export function customersPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();

  router.get('/customers', kit.session, pageHeaders, async (req, res) => {
    const q = text(req.query.q);
    // No search yet: the newest customers, so the page is never empty while there are some.
    const customers = q ? await searchCustomers(options, q) : await newestCustomers(options, PAGE_SIZE);
    send(res, customersPage(kit.context(req, res), { q, customers, agents: options.config.agents }));
  });

  router.get('/customers/:id', kit.session, pageHeaders, async (req, res) => {
    const id = idParam(req.params.id);
    const customer =
      id === undefined
        ? undefined
        : await getCustomer(options, id).catch((error: unknown) =>
            error instanceof NotFoundError ? undefined : Promise.reject(error),
          );
    if (!customer)
      return send(
        res,
        messagePage(kit.context(req, res), 'Customer not found', `There is no customer ${req.params.id}.`),
        404,
      );
    const notice =
      text(req.query.notice) === 'unmerged'
        ? 'Merge undone: both customers are as they were before it.'
        : contactNotice(text(req.query.notice));
    const deals = await findDeals(options, { customerId: customer.id as number, limit: 100 });
    const cases = await casesOfCustomer(options, customer.id as number);
    send(
      res,
      customerDetailPage(kit.context(req, res), {
        customer,
        agents: options.config.agents,
        segments: options.config.segments,
        deals: customerDeals(deals, options.config.agents),
        cases,
        notice,
      }),
    );
  });

  // Support staff record what a customer said (on the phone, at the counter).
  router.post('/customers/:id/consent', ...kit.post('support'), async (req, res) => {
    const id = idParam(req.params.id);
    if (id === undefined) return void res.status(404).type('text/plain').send('no such customer');
    const { channel, granted } = req.body as { channel?: unknown; granted?: unknown };
    try {
      const saved = await setConsent(options, kit.actor(req, res), {
        customerId: id,
        channel,
        granted: granted === 'true' ? true : granted === 'false' ? false : granted,
      });
      res.redirect(303, `/customers/${saved.customerId}`);
    } catch (error) {
      refusal(kit, req, res, 'Consent not recorded', error);
    }
  });

  router.post('/customers/:id/unmerge', ...kit.post('admin'), async (req, res) => {
    const id = idParam(req.params.id);
    const mergeId = idParam((req.body as { merge_id?: unknown } | undefined)?.merge_id);
    if (id === undefined || mergeId === undefined) return void res.status(404).type('text/plain').send('no such merge');
    try {
      await unmergeCustomer(options, kit.actor(req, res), { customerId: id, mergeId });
      res.redirect(303, `/customers/${id}?notice=unmerged`);
    } catch (error) {
      refusal(kit, req, res, 'Merge not undone', error);
    }
  });

  return router;
}
