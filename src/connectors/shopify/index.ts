import { createHash } from 'node:crypto';
import { BadRequestError, defineConnector, type EventSpec } from '../define-connector.js';
import { parseJsonBody } from '../shared/body.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { verifyHmacSha256 } from '../shared/hmac.js';
import { checkShop, listCustomers, listOrders } from './pull.js';

/** Shopify webhook topics crmflow understands, and the event type each becomes. */
const TOPICS: Record<string, { type: string; mapping: string; sample: string; summary: string }> = {
  'orders/create': {
    type: 'order.created',
    mapping: 'order',
    sample: 'orders_create',
    summary: 'An order was placed.',
  },
  'orders/updated': { type: 'order.updated', mapping: 'order', sample: 'orders_create', summary: 'An order changed.' },
  'orders/paid': { type: 'order.paid', mapping: 'order', sample: 'orders_create', summary: 'An order was paid.' },
  'orders/fulfilled': {
    type: 'order.fulfilled',
    mapping: 'order',
    sample: 'orders_create',
    summary: 'An order was fulfilled.',
  },
  'orders/cancelled': {
    type: 'order.cancelled',
    mapping: 'order',
    sample: 'orders_create',
    summary: 'An order was cancelled.',
  },
  'customers/create': {
    type: 'customer.created',
    mapping: 'customer',
    sample: 'customers_create',
    summary: 'A customer account was created.',
  },
  'customers/update': {
    type: 'customer.updated',
    mapping: 'customer',
    sample: 'customers_create',
    summary: 'A customer account changed.',
  },
  'checkouts/create': {
    type: 'checkout.created',
    mapping: 'checkout',
    sample: 'checkouts_create',
    summary: 'A checkout started (abandoned cart until completed).',
  },
  'checkouts/update': {
    type: 'checkout.updated',
    mapping: 'checkout',
    sample: 'checkouts_create',
    summary: 'A checkout changed.',
  },
};

const events: Record<string, EventSpec> = Object.fromEntries(
  Object.values(TOPICS).map((topic) => [
    topic.type,
    {
      summary: topic.summary,
      mapping: readBeside(import.meta.url, `mappings/${topic.mapping}.jsonata`),
      sample: readJsonBeside(import.meta.url, `samples/${topic.sample}.json`),
    },
  ]),
);

/**
 * Why a body cannot be a delivery of `topic`, or undefined when it can. Shopify signs the body but not the
 * `X-Shopify-Topic` header, and the topic is part of the event's identity: without this check one captured body could
 * be replayed once per topic (an order as `orders/cancelled`). The object's kind (its `admin_graphql_api_id`) must be
 * the topic's, and the status topics need the status in the body.
 */
export function topicMismatch(topic: string, payload: Record<string, unknown>): string | undefined {
  const gid =
    typeof payload.admin_graphql_api_id === 'string'
      ? /^gid:\/\/shopify\/(\w+)\//.exec(payload.admin_graphql_api_id)?.[1]
      : undefined;
  const kind =
    gid === 'Order'
      ? 'orders'
      : gid === 'Customer'
        ? 'customers'
        : gid === undefined && typeof payload.cart_token === 'string'
          ? 'checkouts'
          : gid;
  const family = topic.split('/')[0];
  if (kind !== undefined && kind !== family)
    return `the body is a${/^[aeiou]/i.test(kind) ? 'n' : ''} ${kind} object, not one of ${family}`;
  if (topic === 'orders/cancelled' && !payload.cancelled_at) return 'the order is not cancelled (no cancelled_at)';
  if (topic === 'orders/fulfilled' && payload.fulfillment_status !== 'fulfilled') return 'the order is not fulfilled';
  if (
    topic === 'orders/paid' &&
    ['pending', 'authorized', 'voided', 'expired'].includes(String(payload.financial_status))
  )
    return 'the order is not paid';
  return undefined;
}

/** Shopify sends `X-Shopify-*` headers; newer deliveries may use the same names without the `x-` prefix. */
function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  return headers[`x-shopify-${name}`] ?? headers[`shopify-${name}`];
}

export default defineConnector({
  id: 'shopify',
  family: 'ecommerce',
  summary: 'Shopify orders, customers and checkouts (abandoned carts) via signed webhooks.',
  secrets: {
    webhook_secret: {
      description: "The app's client secret; list the previous one after a comma while rotating.",
      env: {
        name: 'SHOPIFY_WEBHOOK_SECRET',
        demo: 'demo-shopify-secret',
        description: 'Shopify app client secret that signs webhooks (`X-Shopify-Hmac-Sha256`).',
      },
    },
    access_token: {
      description: 'Admin API access token (read_orders, read_customers); needed only for pulls.',
      optional: true,
      env: {
        name: 'SHOPIFY_ACCESS_TOKEN',
        demo: 'demo-shopify-access-token',
        description: 'Shopify Admin API access token (read_orders, read_customers), for pulls.',
      },
    },
  },
  webhook: {
    signature: {
      name: 'X-Shopify-Hmac-Sha256',
      description: 'base64 HMAC-SHA256 of the body with the app client secret.',
    },
    headers: [{ name: 'X-Shopify-Topic', description: 'e.g. `orders/create`.' }],
    verify: (request, secrets) =>
      verifyHmacSha256(secrets.webhook_secret, request.rawBody, header(request.headers, 'hmac-sha256'), 'base64'),
    parse: (request) => {
      const topicName = header(request.headers, 'topic');
      const topic = topicName === undefined ? undefined : TOPICS[topicName];
      if (!topic)
        throw new BadRequestError(
          `unsupported or missing X-Shopify-Topic "${topicName ?? ''}"; supported: ${Object.keys(TOPICS).join(', ')}`,
        );
      const payload = parseJsonBody(request.rawBody, request.headers['content-type']) as Record<string, unknown>;
      const mismatch = topicMismatch(topicName!, payload);
      if (mismatch)
        throw new BadRequestError(`X-Shopify-Topic "${topicName}" does not fit the signed body: ${mismatch}`);
      const objectId = payload.admin_graphql_api_id ?? payload.token ?? payload.id;
      const version = payload.updated_at ?? payload.created_at;
      // The same object in the same version is the same event, whichever subscription or retry delivered it. Without
      // them, the signed body's hash: the unsigned X-Shopify-Webhook-Id would let a captured body be replayed anew.
      const externalId =
        objectId !== undefined && version !== undefined
          ? `${topicName}:${String(objectId)}:${String(version)}`
          : `${topicName}:${createHash('sha256').update(request.rawBody).digest('hex')}`;
      const occurredAt = String(version ?? header(request.headers, 'triggered-at') ?? new Date().toISOString());
      return [{ type: topic.type, externalId, occurredAt, payload }];
    },
  },
  events,
  // REST Admin API: 2 requests per second per app and store (standard plans).
  api: {
    defaultUrl: '',
    env: 'SHOPIFY_API_URL',
    envDescription: 'Your shop for Admin API pulls, e.g. https://your-shop.myshopify.com.',
    rateLimit: { requests: 2, perSeconds: 1 },
  },
  check: checkShop,
  pull: {
    orders: { summary: 'Orders by updated_at (Link-header pagination), as order.updated events.', list: listOrders },
    customers: {
      summary: 'Customers by updated_at (Link-header pagination), as customer.updated events.',
      list: listCustomers,
    },
  },
});
