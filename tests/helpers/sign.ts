import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The vendors' own samples, copied into the repository (tests/fixtures/vendors/<vendor>/, with their signature notes). */
export const VENDOR_FIXTURES = new URL('../fixtures/vendors/', import.meta.url);

/** A vendor sample, as the exact bytes the vendor sent. */
export function fixtureBytes(vendor: string, file: string): Buffer {
  return readFileSync(new URL(`${vendor}/${file}`, VENDOR_FIXTURES));
}

export function shopifyHeaders(body: Buffer | string, secret: string, topic = 'orders/create'): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-shopify-topic': topic,
    'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body).digest('base64'),
    'x-shopify-shop-domain': 'example.myshopify.com',
  };
}

export function formHeaders(
  body: Buffer | string,
  secret: string,
  contentType = 'application/json',
): Record<string, string> {
  return {
    'content-type': contentType,
    'x-crmflow-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}

/** Meta's WhatsApp text-message sample as if the customer wrote just now: replies to it are inside Meta's 24-hour window. */
export function recentWhatsAppSample(): Buffer {
  const text = fixtureBytes('meta', 'whatsapp_text_message.json').toString('utf8');
  return Buffer.from(text.replace(/"timestamp":\s*"\d+"/, `"timestamp": "${Math.floor(Date.now() / 1000)}"`));
}

/**
 * A Twilio webhook as Twilio sends it: the parameters form-encoded, signed (`X-Twilio-Signature`) over the public URL
 * followed by every parameter name and value in name order.
 */
export function twilioWebhook(
  publicUrl: string,
  params: Record<string, string>,
  authToken: string,
): { body: string; headers: Record<string, string> } {
  const signed = `${publicUrl}/webhooks/twilio${Object.keys(params)
    .sort()
    .map((name) => name + params[name])
    .join('')}`;
  return {
    body: new URLSearchParams(params).toString(),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': createHmac('sha1', authToken).update(signed).digest('base64'),
    },
  };
}
