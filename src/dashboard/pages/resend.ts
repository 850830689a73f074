import { Router, type RequestHandler } from 'express';
import type { OperationContext } from '../../operations/context.js';
import { OperationError } from '../../operations/errors.js';
import { resendMessage, type ResendSender } from '../../operations/resend-message.js';
import { getMessage } from '../../store/messages.js';
import { sessionOf } from '../auth.js';

export interface ResendPagesOptions {
  ctx: OperationContext;
  session: RequestHandler;
  /** The form parser, the CSRF check and the support role. */
  guardPost: RequestHandler[];
  send: ResendSender;
}

/** `POST /messages/:id/resend`: the run page's Resend button for an uncertain reply; back to the run with a notice. */
export function resendPages(options: ResendPagesOptions): Router {
  const router = Router();
  router.post('/messages/:id/resend', options.session, ...options.guardPost, async (req, res) => {
    const id = /^\d{1,15}$/.test(String(req.params.id)) ? Number(req.params.id) : undefined;
    const message = id === undefined ? undefined : await getMessage(options.ctx.pool, id);
    if (!message) return void res.status(404).type('text/plain').send('no such message');
    const { user, role } = sessionOf(res);
    let notice: string;
    try {
      const result = await resendMessage(options.ctx, { name: user, role, ip: req.ip ?? null, via: 'dashboard' }, message.id, options.send);
      notice = result.status === 'sent' ? 'resent' : 'resend_failed';
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      notice = 'not_uncertain';
    }
    res.redirect(303, message.runId === null ? `/customers/${message.customerId}` : `/runs/${message.runId}?notice=${notice}`);
  });
  return router;
}
