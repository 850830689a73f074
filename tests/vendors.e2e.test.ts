import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, recentWhatsAppSample, shopifyHeaders, twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PUBLIC_URL = 'https://crm.example.com';
const QB_API = 'https://qb-sandbox.example';
const GRAPH = 'https://graph.example';

const hmac = (algorithm: 'sha256' | 'sha1', secret: string, data: Buffer | string, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, secret).update(data).digest(encoding);

/** A signed delivery for each vendor, as the vendor would send it. */
interface Delivery {
  vendor: string;
  body: Buffer;
  headers: Record<string, string>;
}

function twilioDelivery(params: Record<string, string>): Delivery {
  const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
  return { vendor: 'twilio', body: Buffer.from(body), headers };
}

function deliveries(): Delivery[] {
  const shopify = fixtureBytes('shopify', 'orders_create.json');
  const woo = fixtureBytes('woocommerce', 'order_created.json');
  const whatsapp = fixtureBytes('meta', 'whatsapp_text_message.json');
  const quickbooks = fixtureBytes('quickbooks', 'webhook_customer_create.json');
  const xero = fixtureBytes('xero', 'webhook_contact_update.json');
  return [
    { vendor: 'shopify', body: shopify, headers: shopifyHeaders(shopify, SECRETS.SHOPIFY_WEBHOOK_SECRET) },
    {
      vendor: 'woocommerce',
      body: woo,
      headers: {
        'content-type': 'application/json',
        'x-wc-webhook-topic': 'order.created',
        'x-wc-webhook-source': 'https://shop.example.com/',
        'x-wc-webhook-signature': hmac('sha256', SECRETS.WOOCOMMERCE_WEBHOOK_SECRET!, woo, 'base64'),
      },
    },
    {
      vendor: 'meta',
      body: whatsapp,
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${hmac('sha256', SECRETS.META_APP_SECRET!, whatsapp, 'hex')}`,
      },
    },
    twilioDelivery(JSON.parse(fixtureBytes('twilio', 'incoming_sms.json').toString('utf8')) as Record<string, string>),
    {
      vendor: 'quickbooks',
      body: quickbooks,
      headers: {
        'content-type': 'application/json',
        'intuit-signature': hmac('sha256', SECRETS.QUICKBOOKS_VERIFIER_TOKEN!, quickbooks, 'base64'),
      },
    },
    {
      vendor: 'xero',
      body: xero,
      headers: {
        'content-type': 'application/json',
        'x-xero-signature': hmac('sha256', SECRETS.XERO_WEBHOOK_KEY!, xero, 'base64'),
      },
    },
  ];
}

// Vendor APIs are nock'd; only local servers are reachable.
useNock({ checkPending: false });

describe('every vendor on its real protocol, through the HTTP server', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Only the webhook path runs here: no worker, so nothing calls the vendors' APIs.
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: 'smtp://127.0.0.1:1',
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
      }),
      {
        api: true,
        worker: false,
        scheduler: false,
      },
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('rejects each shared sample with a wrong signature (401, nothing stored) and stores it with the right one', async () => {
    for (const delivery of deliveries()) {
      // One character of the signature changed (base64 and hex alike).
      const forge = (value: string) => value.slice(0, -6) + (value.at(-6) === 'a' ? 'b' : 'a') + value.slice(-5);
      const forged = Object.fromEntries(
        Object.entries(delivery.headers).map(([name, value]) => [
          name,
          /signature|hmac/.test(name) ? forge(value) : value,
        ]),
      );
      const rejected = await post(app, `/webhooks/${delivery.vendor}`, delivery.body, forged);
      expect(rejected.status, `${delivery.vendor} with a forged signature`).toBe(401);
      expect(await count(db.pool, 'SELECT 1 FROM inbox_events WHERE connector = $1', [delivery.vendor])).toBe(0);

      const accepted = await post(app, `/webhooks/${delivery.vendor}`, delivery.body, delivery.headers);
      expect([200, 202], `${delivery.vendor}: ${JSON.stringify(accepted.body)}`).toContain(accepted.status);
      expect(
        await count(db.pool, 'SELECT 1 FROM inbox_events WHERE connector = $1', [delivery.vendor]),
        delivery.vendor,
      ).toBeGreaterThan(0);
    }
  });

  it('answers each vendor handshake as documented', async () => {
    const meta = await fetch(
      `${app.url}/webhooks/meta?hub.mode=subscribe&hub.verify_token=${SECRETS.META_VERIFY_TOKEN}&hub.challenge=1158201444`,
    );
    expect(meta.status).toBe(200);
    expect(await meta.text()).toBe('1158201444');
    expect(
      (await fetch(`${app.url}/webhooks/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1`)).status,
    ).toBe(403);

    const ping = await post(app, '/webhooks/woocommerce', 'webhook_id=42', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(ping.status).toBe(200);

    const intent = Buffer.from(
      JSON.stringify({ events: [], firstEventSequence: 0, lastEventSequence: 0, entropy: 'WKHGJQZOQMKWRJHPBVVT' }),
    );
    const good = await post(app, '/webhooks/xero', intent, {
      'content-type': 'application/json',
      'x-xero-signature': hmac('sha256', SECRETS.XERO_WEBHOOK_KEY!, intent, 'base64'),
    });
    expect(good.status).toBe(200);
    expect(good.body).toBe('');
    const bad = await post(app, '/webhooks/xero', intent, {
      'content-type': 'application/json',
      'x-xero-signature': hmac('sha256', 'not-the-key', intent, 'base64'),
    });
    expect(bad.status).toBe(401);
  });
});

describe('one person across Shopify, WhatsApp and QuickBooks becomes one customer', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { QUICKBOOKS_API_URL: QB_API, META_GRAPH_URL: GRAPH },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('links the Shopify customer, the WhatsApp sender with the same phone and the QuickBooks customer with the same email', async () => {
    const email = 'dana.whitfield@example.com';
    const phone = '+14155550177';

    const shopify = JSON.parse(fixtureBytes('shopify', 'customers_create.json').toString('utf8'));
    const shopifyBody = Buffer.from(
      JSON.stringify({ ...shopify, first_name: 'Dana', last_name: 'Whitfield', email, phone })
        .replace('"id":706405506930370084', '"id":706405506930370099')
        .replace('/Customer/706405506930370084', '/Customer/706405506930370099'),
    );
    expect(
      (
        await post(
          app,
          '/webhooks/shopify',
          shopifyBody,
          shopifyHeaders(shopifyBody, SECRETS.SHOPIFY_WEBHOOK_SECRET, 'customers/create'),
        )
      ).status,
    ).toBe(202);

    const whatsapp = recentWhatsAppSample().toString('utf8');
    const originalWaId = /"wa_id":\s*"(\d+)"/.exec(whatsapp)![1]!;
    const whatsappBody = Buffer.from(whatsapp.split(originalWaId).join(phone.slice(1)));
    // The example workflow answers WhatsApp messages on WhatsApp.
    const whatsappReply = nock(GRAPH)
      .post('/v21.0/106540352242922/messages')
      .query(true)
      .reply(200, { messages: [{ id: 'wamid.reply' }] });
    expect(
      (
        await post(app, '/webhooks/meta', whatsappBody, {
          'content-type': 'application/json',
          'x-hub-signature-256': `sha256=${hmac('sha256', SECRETS.META_APP_SECRET!, whatsappBody, 'hex')}`,
        })
      ).status,
    ).toBe(202);

    // QuickBooks sends ids only: the worker refreshes the OAuth token, then reads the Customer.
    const tokens = nock('https://oauth.platform.intuit.com')
      .post(
        '/oauth2/v1/tokens/bearer',
        (body) => body.grant_type === 'refresh_token' && body.refresh_token === SECRETS.QUICKBOOKS_REFRESH_TOKEN,
      )
      .reply(200, {
        access_token: 'qb-access-1',
        refresh_token: 'qb-refresh-2',
        expires_in: 3600,
        x_refresh_token_expires_in: 8726400,
        token_type: 'bearer',
      });
    const customer = JSON.parse(
      readFileSync(
        new URL('../src/connectors/quickbooks/samples/customer_read_response.json', import.meta.url),
        'utf8',
      ),
    );
    customer.Customer.PrimaryEmailAddr = { Address: email.toUpperCase() };
    const read = nock(QB_API)
      .get('/v3/company/1185883450/customer/1')
      .query(true)
      .matchHeader('authorization', 'Bearer qb-access-1')
      .reply(200, customer);
    const quickbooks = fixtureBytes('quickbooks', 'webhook_customer_create.json');
    expect(
      (
        await post(app, '/webhooks/quickbooks', quickbooks, {
          'content-type': 'application/json',
          'intuit-signature': hmac('sha256', SECRETS.QUICKBOOKS_VERIFIER_TOKEN!, quickbooks, 'base64'),
        })
      ).status,
    ).toBe(202);

    await waitFor(
      'all three events processed',
      async () => (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'processed'")) === 3,
      30_000,
    );
    expect(tokens.isDone() && read.isDone() && whatsappReply.isDone()).toBe(true);
    const found = (await api(app, `/api/customers?email=${encodeURIComponent(email)}`)).body.customers;
    expect(found).toHaveLength(1);
    const detail = (await api(app, `/api/customers/${found[0].id}`)).body;
    const identities = detail.identities.map(
      (identity: { kind: string; value: string }) => `${identity.kind}:${identity.value}`,
    );
    expect(identities).toEqual(
      expect.arrayContaining([
        `email:${email}`,
        `phone:${phone}`,
        'shopify_customer:706405506930370099',
        'quickbooks_customer:1185883450:1',
      ]),
    );
    expect(detail.timeline.map((entry: { source: string }) => entry.source)).toContain('meta');
    expect(await count(db.pool, 'SELECT 1 FROM customers WHERE merged_into IS NULL')).toBe(1);
    // The rotated refresh token was kept, encrypted: the plaintext is nowhere in the table.
    const stored = await db.pool.query('SELECT ciphertext FROM connector_tokens WHERE connector = $1', ['quickbooks']);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0].ciphertext).not.toContain('qb-refresh-2');
  });
});
