import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import nodemailer from 'nodemailer';

/**
 * The machine's ceilings for webhook handling, run as a child process like crmflow's API:
 * - `noop`: an Express POST route that answers 202 and nothing else;
 * - `verify`: Express with the raw body, the Shopify HMAC checked in constant time, 202 (ceiling a);
 * - `verify-email`: the same, plus one email per order to the SMTP sink through nodemailer pooled exactly as crmflow
 *   configures it (`?pool=true`), answered once the email is accepted (ceiling b).
 * Env: `BENCH_SHOPIFY_SECRET`, `BENCH_SMTP_URL` (verify-email). Reports `{ port }` over IPC once listening.
 */
const mode = process.argv[2] ?? 'noop';
const secret = process.env.BENCH_SHOPIFY_SECRET ?? '';
const app = express();
app.disable('x-powered-by');

if (mode === 'noop') {
  app.post('/webhooks/:connector', (_req, res) => void res.status(202).end());
} else {
  const smtpUrl = process.env.BENCH_SMTP_URL ?? '';
  const transporter = mode === 'verify-email' ? nodemailer.createTransport(`${smtpUrl}?pool=true`) : undefined;
  let sequence = 0;
  app.post('/webhooks/:connector', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const received = Buffer.from(String(req.headers['x-shopify-hmac-sha256'] ?? ''));
    const expected = Buffer.from(
      createHmac('sha256', secret)
        .update(req.body as Buffer)
        .digest('base64'),
    );
    if (received.length !== expected.length || !timingSafeEqual(received, expected)) return void res.status(401).end();
    if (transporter) {
      const order = JSON.parse((req.body as Buffer).toString('utf8')) as { email?: string; name?: string };
      await transporter.sendMail({
        from: 'crmflow <crmflow@localhost>',
        to: order.email ?? 'nobody@bench.example',
        subject: `Thank you for your order ${order.name ?? ''}`,
        text: 'Hi, thank you for your order. Alice is your contact.',
        messageId: `<ceiling.${process.pid}.${sequence++}@crmflow>`,
      });
    }
    res.status(202).json({ received: 1 });
  });
}
const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
