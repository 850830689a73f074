import {
  BadRequestError,
  type DirectResponse,
  type ParsedEvent,
  type Secrets,
  type WebhookRequest,
} from '../define-connector.js';
import { parseJsonBody } from '../shared/body.js';
import { hmacSha256, safeEqual, verifyHmacSha256 } from '../shared/hmac.js';
import { isTopic, resourceEvent, TOPICS, type WooResource } from './events.js';

/**
 * `X-WC-Webhook-Signature` = base64 HMAC-SHA256 of the raw body. A secret WooCommerce generated itself may contain
 * commas (`wp_generate_password` with special characters), so the whole value is tried as one secret as well as a
 * comma-separated rotation list.
 */
export function verify(request: WebhookRequest, secrets: Secrets<'webhook_secret'>): boolean {
  const received = request.headers['x-wc-webhook-signature'];
  if (!secrets.webhook_secret) return false;
  const whole = safeEqual(hmacSha256(secrets.webhook_secret, request.rawBody, 'base64'), received?.trim());
  return verifyHmacSha256(secrets.webhook_secret, request.rawBody, received, 'base64') || whole;
}

/**
 * Saving an active webhook makes WooCommerce POST `webhook_id=<id>` once, unsigned and without any `X-WC-Webhook-*`
 * header, and it keeps the webhook only if the answer is exactly 200. Anything carrying a WooCommerce header is a
 * delivery and goes through `verify`.
 */
export function handshake(request: WebhookRequest): DirectResponse | undefined {
  if (request.method !== 'POST') return undefined;
  if (Object.keys(request.headers).some((name) => name.startsWith('x-wc-webhook-'))) return undefined;
  if (!/^webhook_id=\d+$/.test(request.rawBody.toString('utf8').trim())) return undefined;
  return { status: 200, body: 'ok' };
}

export function parse(request: WebhookRequest): ParsedEvent[] {
  const topic = request.headers['x-wc-webhook-topic'];
  if (!isTopic(topic)) {
    throw new BadRequestError(
      `unsupported or missing X-WC-Webhook-Topic "${topic ?? ''}"; supported: ${Object.keys(TOPICS).join(', ')}`,
    );
  }
  const body = parseJsonBody(request.rawBody, request.headers['content-type']);
  if (Array.isArray(body)) throw new BadRequestError('body must be a JSON object');
  // The topic header is not signed: a body of another kind (an order sent as customer.updated) is refused. Identity
  // comes from the signed body only (object id and version, else its hash), never from the unsigned delivery id.
  // (A thin body from a payload filter, with neither kind's fields, is left to its topic.)
  const resource = body as WooResource;
  const kind =
    'line_items' in resource || 'order_key' in resource
      ? 'order'
      : 'username' in resource || 'role' in resource
        ? 'customer'
        : undefined;
  if (kind !== undefined && !topic.startsWith(`${kind}.`))
    throw new BadRequestError(
      `X-WC-Webhook-Topic "${topic}" does not fit the signed body: it is ${kind === 'order' ? 'an order' : 'a customer'}`,
    );
  return [resourceEvent(topic, resource)];
}
