import { defineConnector, type EventSpec } from '../define-connector.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import { TOPICS } from './events.js';
import { listCustomers, listOrders } from './pull.js';
import { handshake, parse, verify } from './webhook.js';

const events: Record<string, EventSpec> = Object.fromEntries(
  Object.entries(TOPICS).map(([type, topic]) => [
    type,
    {
      summary: topic.summary,
      mapping: readBeside(import.meta.url, `mappings/${topic.mapping}.jsonata`),
      sample: readJsonBeside(import.meta.url, `samples/${topic.sample}.json`),
    },
  ]),
);

/**
 * WooCommerce lives on each shop's own WordPress site, so there is no default API URL: pulls fail with an error
 * naming WOOCOMMERCE_API_URL until it is set.
 */
export default defineConnector({
  id: 'woocommerce',
  family: 'ecommerce',
  summary: 'WooCommerce orders and customers via signed webhooks, plus REST pulls to backfill and reconcile.',
  secrets: {
    webhook_secret: {
      description:
        'The secret of each WooCommerce webhook (Settings → Advanced → Webhooks); comma-separate two while rotating.',
      env: {
        name: 'WOOCOMMERCE_WEBHOOK_SECRET',
        demo: 'demo-woocommerce-secret',
        description: 'Secret of your WooCommerce webhooks (`X-WC-Webhook-Signature`).',
      },
    },
    consumer_key: {
      description: 'REST API consumer key (ck_...) with read access; only needed for pulls.',
      optional: true,
      env: {
        name: 'WOOCOMMERCE_CONSUMER_KEY',
        demo: 'ck_demo',
        description: 'WooCommerce REST API consumer key (read), for pulls.',
      },
    },
    consumer_secret: {
      description: 'REST API consumer secret (cs_...); only needed for pulls.',
      optional: true,
      env: {
        name: 'WOOCOMMERCE_CONSUMER_SECRET',
        demo: 'cs_demo',
        description: 'WooCommerce REST API consumer secret, for pulls.',
      },
    },
  },
  webhook: {
    signature: { name: 'X-WC-Webhook-Signature', description: 'base64 HMAC-SHA256 of the body.' },
    headers: [{ name: 'X-WC-Webhook-Topic', description: 'e.g. `order.created`.' }],
    verify,
    handshake,
    parse,
  },
  events,
  api: {
    defaultUrl: '',
    env: 'WOOCOMMERCE_API_URL',
    envDescription: "Your shop's REST base for pulls, e.g. https://shop.example.com/wp-json/wc/v3.",
  },
  pull: {
    orders: {
      summary: 'Orders modified since the last poll (orderby=modified, modified_after), emitted as order.updated.',
      list: listOrders,
    },
    customers: {
      summary:
        'Every customer, ordered by id (the endpoint has no modified filter); unchanged ones are de-duplicated. Emitted as customer.updated.',
      list: listCustomers,
    },
  },
});
