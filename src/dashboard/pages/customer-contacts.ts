import express, { Router, type Request, type Response } from 'express';
import { agentReply } from '../../operations/agent-reply.js';
import { logContact } from '../../operations/contact-log.js';
import { ConflictError } from '../../operations/errors.js';
import type { ContactContext } from '../../operations/person-contact.js';
import { requireCsrf, requireRole } from '../auth.js';
import type { DashboardOptions } from '../routes.js';
import type { ContactNotice } from '../views/customer-contacts.js';
import { idParam, refusal, type PageKit } from './kit.js';

/** The customer page's own-contact forms: a support user's answer on a channel, a call or note logged by hand. */
export function customerContactPages(options: DashboardOptions, kit: PageKit): Router {
  const router = Router();
  // A message of up to 4,000 characters, URL-encoded, is larger than the kit's 10 kB form limit.
  const guard = [
    kit.session,
    express.urlencoded({ extended: false, limit: '40kb' }),
    requireCsrf(kit.auth),
    requireRole('support'),
  ];
  const ctx = (): ContactContext => {
    if (!options.contacts) throw new ConflictError('this process does not send messages');
    return { ...options, contacts: options.contacts };
  };
  /** Runs the operation, then back to the customer page with what happened; a refusal is a page saying why. */
  const handle =
    (title: string, work: (req: Request, res: Response, customerId: number) => Promise<ContactNotice>) =>
    async (req: Request, res: Response) => {
      const id = idParam(req.params.id) ?? -1;
      try {
        const notice = await work(req, res, id);
        res.redirect(303, `/customers/${id}?notice=${encodeURIComponent(notice)}`);
      } catch (error) {
        refusal(kit, req, res, title, error);
      }
    };

  router.post(
    '/customers/:id/messages',
    ...guard,
    handle('Message not sent', async (req, res, customerId) => {
      const body = req.body as Record<string, string | undefined>;
      const result = await agentReply(ctx(), kit.actor(req, res), {
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
    handle('Not logged', async (req, res, customerId) => {
      const body = req.body as Record<string, string | undefined>;
      const minutes = body.minutes === undefined || body.minutes === '' ? undefined : Number(body.minutes) * 60;
      await logContact(ctx(), kit.actor(req, res), {
        customerId,
        kind: body.kind,
        text: body.text,
        durationSeconds: minutes,
      });
      return `logged-${body.kind}`;
    }),
  );

  return router;
}
