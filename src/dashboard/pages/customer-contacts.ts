import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { agentReply } from '../../operations/agent-reply.js';
import { logContact } from '../../operations/contact-log.js';
import type { Actor } from '../../operations/context.js';
import { HTTP_STATUS_OF, OperationError } from '../../operations/errors.js';
import type { PersonContactServices } from '../../operations/person-contact.js';
import { requireCsrf, requireRole, sessionOf, type DashboardAuth } from '../auth.js';
import type { DashboardOptions } from '../routes.js';
import type { ContactNotice } from '../views/customer-contacts.js';
import { messagePage, type PageContext } from '../views/layout.js';

export interface CustomerContactPagesOptions extends Pick<DashboardOptions, 'pool' | 'queue' | 'config' | 'defaultRegion' | 'contacts'> {
  auth: DashboardAuth;
  session: RequestHandler;
}

/** The customer page's own-contact forms: a support user's answer on a channel, a call or note logged by hand. */
export function customerContactPages(options: CustomerContactPagesOptions): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '20kb' });
  const guard = [options.session, form, requireCsrf(options.auth), requireRole('support')];
  const actor = (req: Request, res: Response): Actor => ({ name: sessionOf(res).user, role: sessionOf(res).role, ip: req.ip ?? null, via: 'dashboard' });
  const context = (req: Request, res: Response): PageContext => ({ session: sessionOf(res), csrf: options.auth.csrfToken(sessionOf(res)), path: req.path });
  const ctx = (contacts: PersonContactServices) => ({
    pool: options.pool,
    queue: options.queue,
    config: options.config,
    defaultRegion: options.defaultRegion,
    contacts,
  });
  /** Runs the operation, then back to the customer page with what happened; a refusal is a page saying why. */
  const handle =
    (title: string, work: (req: Request, res: Response, id: number, contacts: PersonContactServices) => Promise<ContactNotice>) =>
    async (req: Request, res: Response) => {
      const id = /^\d{1,15}$/.test(String(req.params.id)) ? Number(req.params.id) : -1;
      try {
        if (!options.contacts) throw new OperationError('conflict', 'this process does not send messages');
        const notice = await work(req, res, id, options.contacts);
        res.redirect(303, `/customers/${id}?notice=${encodeURIComponent(notice)}`);
      } catch (error) {
        if (!(error instanceof OperationError)) throw error;
        res
          .status(HTTP_STATUS_OF[error.kind])
          .type('html')
          .send(messagePage(context(req, res), title, error.message).value);
      }
    };

  router.post(
    '/customers/:id/messages',
    ...guard,
    handle('Message not sent', async (req, res, customerId, contacts) => {
      const body = req.body as Record<string, string | undefined>;
      const result = await agentReply(ctx(contacts), actor(req, res), {
        customerId,
        channel: body.channel,
        text: body.text,
        subject: body.subject,
        idempotencyKey: body.idempotency_key,
      });
      return `${result.status}-${result.channel}`;
    }),
  );
  router.post(
    '/customers/:id/contacts',
    ...guard,
    handle('Not logged', async (req, res, customerId, contacts) => {
      const body = req.body as Record<string, string | undefined>;
      const minutes = body.minutes === undefined || body.minutes === '' ? undefined : Number(body.minutes) * 60;
      await logContact(ctx(contacts), actor(req, res), { customerId, kind: body.kind, text: body.text, durationSeconds: minutes });
      return `logged-${body.kind}`;
    }),
  );
  return router;
}
