import { Router } from 'express';
import type { OperationContext } from '../../operations/context.js';
import { unsubscribe, unsubscribeAddress } from '../../operations/consent.js';
import { NotFoundError } from '../../operations/errors.js';
import { html } from '../html.js';

export interface UnsubscribeOptions {
  ctx: Pick<OperationContext, 'pool'>;
  /** The key unsubscribe tokens are signed with (CRMFLOW_SECRET_KEY); absent, every token is refused. */
  secretKey: string | undefined;
}

/** `j•••@example.com`: enough for the reader to recognise the address, not enough to harvest it. */
function masked(address: string): string {
  const at = address.lastIndexOf('@');
  return at <= 0 ? '•••' : `${address[0]}•••${address.slice(at)}`;
}

const page = (title: string, body: ReturnType<typeof html>) =>
  html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="stylesheet" href="/assets/dashboard.css"></head><body><main><h1>${title}</h1>${body}</main></body></html>`
    .value;

/**
 * The public unsubscribe link of auto-reply emails, outside /api by design: the signed token is the credential. GET
 * shows a confirmation form (link scanners and previews fetch GETs, so a GET changes nothing); POST — the form, or
 * the mail client's RFC 8058 one-click `List-Unsubscribe=One-Click` — revokes the address's email consent.
 */
export function unsubscribeRouter(options: UnsubscribeOptions): Router {
  const router = Router();
  // Answered by the app's error handler in its JSON error shape.
  const invalid = () => new NotFoundError('this unsubscribe link is not valid');

  router.get('/:token', (req, res) => {
    const email = unsubscribeAddress(options.secretKey, req.params.token);
    if (!email) throw invalid();
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(
        page(
          'Unsubscribe',
          html`<p>Stop automatic emails to ${masked(email)}?</p><form method="post"><button type="submit">Unsubscribe</button></form>`,
        ),
      );
  });

  router.post('/:token', async (req, res) => {
    const email = await unsubscribe(options.ctx, { secretKey: options.secretKey, token: req.params.token });
    if (!email) throw invalid();
    res
      .set('Cache-Control', 'no-store')
      .type('html')
      .send(page('Unsubscribed', html`<p>${masked(email)} will get no more automatic emails from us.</p>`));
  });

  return router;
}
