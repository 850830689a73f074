import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BadRequestError, type WebhookRequest } from '../../src/connectors/define-connector.js';
import woocommerce from '../../src/connectors/woocommerce/index.js';
import { fixtureBytes } from '../helpers/sign.js';
import { webhookRequest } from '../helpers/vendor-api.js';

const SECRET = 'wc-test-secret';
const fixture = (file: string) => fixtureBytes('woocommerce', file);
const ORDER = fixture('order_created.json');
const CUSTOMER = fixture('customer_created.json');

const sign = (body: Buffer | string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64');

const request = (body: Buffer | string, headers: Record<string, string | undefined> = {}, method = 'POST') =>
  webhookRequest('woocommerce', body, headers, { method });

/** The headers WooCommerce's `deliver()` sends with a signed body. */
function deliveryHeaders(body: Buffer | string, topic = 'order.created', secret = SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'WooCommerce/8.5.0 Hookshot (WordPress/6.4.2)',
    'x-wc-webhook-source': 'https://example.com/',
    'x-wc-webhook-topic': topic,
    'x-wc-webhook-resource': topic.split('.')[0]!,
    'x-wc-webhook-event': topic.split('.')[1]!,
    'x-wc-webhook-signature': sign(body, secret),
    'x-wc-webhook-id': '7',
    'x-wc-webhook-delivery-id': 'a1b2c3d4e5f6',
  };
}

/** What the HTTP layer does: handshake first, then verify (401), then parse. */
function deliver(req: WebhookRequest, secret = SECRET) {
  const webhook = woocommerce.webhook!;
  const secrets = { webhook_secret: secret, consumer_key: '', consumer_secret: '' };
  const answer = webhook.handshake?.(req, secrets);
  if (answer) return { status: answer.status, events: [] };
  if (req.method !== 'POST') return { status: 405, events: [] };
  if (!webhook.verify!(req, secrets)) return { status: 401, events: [] };
  return { status: 202, events: webhook.parse(req, secrets) };
}

describe('woocommerce webhook signature', () => {
  it('accepts the documented order with a correct X-WC-Webhook-Signature', () => {
    const result = deliver(request(ORDER, deliveryHeaders(ORDER)));
    expect(result.status).toBe(202);
    expect(result.events).toEqual([
      {
        type: 'order.created',
        externalId: 'order.created:727:2017-03-22T19:28:08',
        occurredAt: '2017-03-22T19:28:08.000Z',
        payload: JSON.parse(ORDER.toString('utf8')),
      },
    ]);
  });

  it('verifies the exact bytes of a compact PHP-encoded body (escaped slashes), not a re-serialisation', () => {
    const compact = JSON.stringify(JSON.parse(ORDER.toString('utf8'))).replace(/\//g, '\\/');
    expect(deliver(request(compact, deliveryHeaders(compact))).status).toBe(202);
    const reserialised = JSON.stringify(JSON.parse(compact));
    expect(
      deliver(request(compact, { ...deliveryHeaders(compact), 'x-wc-webhook-signature': sign(reserialised) })).status,
    ).toBe(401);
  });

  it('rejects a wrong secret, a tampered body and a missing signature', () => {
    expect(deliver(request(ORDER, deliveryHeaders(ORDER, 'order.created', 'another-secret'))).status).toBe(401);
    const tampered = Buffer.from(ORDER.toString('utf8').replace('"total": "29.35"', '"total": "0.01"'));
    expect(tampered.equals(ORDER)).toBe(false);
    expect(deliver(request(tampered, deliveryHeaders(ORDER))).status).toBe(401);
    expect(deliver(request(ORDER, { ...deliveryHeaders(ORDER), 'x-wc-webhook-signature': undefined })).status).toBe(
      401,
    );
  });

  it('accepts a generated secret containing commas as one secret, and the old secret of a rotation list', () => {
    const generated = 'Zq,8 x]{<~`+=,.;:/?|-_!@#$%^&*()';
    expect(deliver(request(ORDER, deliveryHeaders(ORDER, 'order.created', generated)), generated).status).toBe(202);
    expect(
      deliver(request(ORDER, deliveryHeaders(ORDER, 'order.created', 'old-secret')), 'new-secret,old-secret').status,
    ).toBe(202);
  });
});

describe('woocommerce webhook handshake', () => {
  it('answers the unsigned webhook_id ping with 200 and stores nothing', () => {
    const ping = request('webhook_id=15', {
      'user-agent': 'WooCommerce/8.5.0 Hookshot (WordPress/6.4.2)',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(
      woocommerce.webhook!.handshake!(ping, { webhook_secret: SECRET, consumer_key: '', consumer_secret: '' }),
    ).toEqual({ status: 200, body: 'ok' });
    expect(deliver(ping)).toEqual({ status: 200, events: [] });
  });

  it('treats a body with WooCommerce headers as a delivery: a bad signature is still 401', () => {
    const forged = request('webhook_id=15', {
      'x-wc-webhook-topic': 'order.created',
      'x-wc-webhook-signature': 'bm9wZQ==',
    });
    expect(deliver(forged).status).toBe(401);
    expect(deliver(request('webhook_id=15', { 'x-wc-webhook-topic': 'order.created' })).status).toBe(401);
  });

  it('does not answer other unsigned posts or GETs', () => {
    expect(deliver(request('{"id":1}', { 'content-type': 'application/json' })).status).toBe(401);
    expect(deliver(request('', {}, 'GET')).status).toBe(405);
  });
});

describe('woocommerce webhook parsing', () => {
  it('gives the customer topic its own stable id and the GMT modification time', () => {
    const [event] = deliver(request(CUSTOMER, deliveryHeaders(CUSTOMER, 'customer.created'))).events;
    expect(event).toMatchObject({
      type: 'customer.created',
      externalId: 'customer.created:25:2017-03-21T19:09:30',
      occurredAt: '2017-03-21T19:09:30.000Z',
    });
  });

  it('keeps the id across redeliveries and changes it with a new version of the order', () => {
    const first = deliver(request(ORDER, deliveryHeaders(ORDER))).events[0]!;
    const again = deliver(request(ORDER, { ...deliveryHeaders(ORDER), 'x-wc-webhook-delivery-id': 'ffffffffffff' }))
      .events[0]!;
    expect(again.externalId).toBe(first.externalId);

    const changed = JSON.stringify({
      ...JSON.parse(ORDER.toString('utf8')),
      status: 'completed',
      date_modified_gmt: '2017-03-23T08:00:00',
    });
    const updated = deliver(request(changed, deliveryHeaders(changed, 'order.updated'))).events[0]!;
    expect(updated).toMatchObject({
      type: 'order.updated',
      externalId: 'order.updated:727:2017-03-23T08:00:00',
      occurredAt: '2017-03-23T08:00:00.000Z',
    });
  });

  it('falls back to the signed body for a body without id or dates, never to the unsigned delivery id', () => {
    const thin = '{"note":"custom payload filter"}';
    const first = deliver(request(thin, deliveryHeaders(thin))).events[0]!.externalId;
    const replayed = deliver(request(thin, { ...deliveryHeaders(thin), 'x-wc-webhook-delivery-id': 'ffffffffffff' }))
      .events[0]!.externalId;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(replayed).toBe(first);
  });

  it('refuses a topic the signed body cannot belong to (an order replayed as a customer event)', () => {
    const parse = () =>
      woocommerce.webhook!.parse(request(ORDER, deliveryHeaders(ORDER, 'customer.updated')), {
        webhook_secret: SECRET,
        consumer_key: '',
        consumer_secret: '',
      });
    expect(parse).toThrow(/X-WC-Webhook-Topic "customer.updated" does not fit the signed body: it is an order/);
  });

  it('rejects topics it does not handle with a 400 naming the supported ones', () => {
    const deleted = '{"id":727}';
    const parse = () =>
      woocommerce.webhook!.parse(request(deleted, deliveryHeaders(deleted, 'order.deleted')), {
        webhook_secret: SECRET,
        consumer_key: '',
        consumer_secret: '',
      });
    expect(parse).toThrow(BadRequestError);
    expect(parse).toThrow(/order\.deleted.*order\.created, order\.updated, customer\.created, customer\.updated/);
  });
});
