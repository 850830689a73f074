import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from './helpers/sign.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  shopify: { secrets: { webhook_secret: "\${SHOPIFY_WEBHOOK_SECRET}" } }
workflows: []
`;

describe('event identity comes only from what the vendor signs: replays with new unsigned headers are duplicates or refused', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
      { api: true, worker: false, scheduler: false },
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('a captured form body posted again with a fresh X-Crmflow-Event-Id is the same event', async () => {
    const body = JSON.stringify({ name: 'Maria Garcia', email: 'maria@example.com', message: 'Call me' });
    const answers = [];
    for (let i = 0; i < 4; i++)
      answers.push(
        await post(app, '/webhooks/form', body, {
          ...formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
          'x-crmflow-event-id': `replay-${i}`,
        }),
      );
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202, 202]);
    expect(answers.map((answer) => answer.body.stored)).toEqual([1, 0, 0, 0]);
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE connector = 'form'")).toBe(1);
  });

  it('a Shopify order body cannot be replayed under a topic it does not belong to', async () => {
    const order = JSON.parse(fixtureBytes('shopify', 'orders_create.json').toString('utf8'));
    const body = JSON.stringify({
      ...order,
      cancelled_at: null,
      financial_status: 'pending',
      fulfillment_status: null,
    });
    const send = (topic: string) =>
      post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET, topic));
    expect((await send('orders/create')).status).toBe(202);
    for (const [topic, reason] of [
      ['orders/cancelled', 'the order is not cancelled'],
      ['orders/fulfilled', 'the order is not fulfilled'],
      ['orders/paid', 'the order is not paid'],
      ['customers/update', 'the body is an orders object, not one of customers'],
      ['checkouts/create', 'the body is an orders object, not one of checkouts'],
    ]) {
      const answer = await send(topic!);
      expect([topic, answer.status]).toEqual([topic, 400]);
      expect(answer.body.error.message).toContain(reason);
    }
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE connector = 'shopify'")).toBe(1);
    // A body without an id or a version is one event whatever unsigned X-Shopify-Webhook-Id comes with it.
    const thin = JSON.stringify({ note: 'thin payload' });
    for (const webhookId of ['w-1', 'w-2']) {
      const headers = { ...shopifyHeaders(thin, SECRETS.SHOPIFY_WEBHOOK_SECRET), 'x-shopify-webhook-id': webhookId };
      expect((await post(app, '/webhooks/shopify', thin, headers)).status).toBe(202);
    }
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE connector = 'shopify'")).toBe(2);
    // Genuine deliveries of the other kinds still pass.
    const customer = fixtureBytes('shopify', 'customers_create.json');
    expect(
      (
        await post(
          app,
          '/webhooks/shopify',
          customer,
          shopifyHeaders(customer, SECRETS.SHOPIFY_WEBHOOK_SECRET, 'customers/create'),
        )
      ).status,
    ).toBe(202);
    const checkout = fixtureBytes('shopify', 'checkouts_create.json');
    expect(
      (
        await post(
          app,
          '/webhooks/shopify',
          checkout,
          shopifyHeaders(checkout, SECRETS.SHOPIFY_WEBHOOK_SECRET, 'checkouts/create'),
        )
      ).status,
    ).toBe(202);
  });
});
