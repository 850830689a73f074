import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes } from './helpers/sign.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const SHOP = 'https://test-shop.myshopify.com';
const ORDERS = '/admin/api/2024-10/orders.json';

const CONFIG = `
connectors:
  shopify: { secrets: { webhook_secret: x, access_token: shpat_test } }
workflows:
  - id: shopify-orders-pull
    trigger: { type: poll, connector: shopify, resource: orders, every: 1h, backfill: 7d, page_size: 2 }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

/** Shopify's order sample as order n, updated at minute n. */
function order(n: number): Record<string, unknown> {
  const sample = JSON.parse(fixtureBytes('shopify', 'orders_create.json').toString('utf8'));
  const id = `82098291194615${4600 + n}`;
  return {
    ...sample,
    id: Number(id),
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    email: `buyer${n}@pull.example`,
    contact_email: `buyer${n}@pull.example`,
    customer: {
      ...sample.customer,
      email: `buyer${n}@pull.example`,
      admin_graphql_api_id: `gid://shopify/Customer/77${n}`,
    },
    updated_at: `2026-11-20T10:0${n}:00-05:00`,
  };
}

// Vendor APIs are nock'd; only local servers are reachable.
useNock({ checkPending: false });

describe('poll trigger: pulling a vendor API with a cursor', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        extra: { SHOPIFY_API_URL: SHOP },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('pages through Link headers, waits out a 429, resumes at the stored cursor after a failure between pages, and stores each order once', async () => {
    const headers = { 'x-shopify-access-token': 'shpat_test' };
    const nextPage = `${SHOP}${ORDERS}?limit=2&page_info=eyJsYXN0X2lkIjo0NjAyfQ`;
    const firstPage = nock(SHOP, { reqheaders: headers })
      .get(ORDERS)
      .query(
        (query) =>
          query.limit === '2' &&
          query.status === 'any' &&
          query.order === 'updated_at asc' &&
          typeof query.updated_at_min === 'string',
      )
      .reply(429, { errors: 'Exceeded 2 calls per second for api client.' }, { 'Retry-After': '0' })
      .get(ORDERS)
      .query(true)
      .reply(200, { orders: [order(1), order(2)] }, { Link: `<${nextPage}>; rel="next"` });
    // The second page fails on every attempt of the first run: the run ends with the cursor on page two.
    const outage = nock(SHOP, { reqheaders: headers })
      .get(ORDERS)
      .query({ limit: '2', page_info: 'eyJsYXN0X2lkIjo0NjAyfQ' })
      .times(4)
      .reply(502, 'Bad Gateway');

    const started = await api(app, '/api/workflows/shopify-orders-pull/poll', { method: 'POST' });
    expect(started.status).toBe(202);
    await waitFor(
      'the first page to be stored',
      async () => (await count(db.pool, 'SELECT 1 FROM inbox_events')) === 2,
      20_000,
    );
    await waitFor('the outage to be hit', async () => outage.isDone(), 20_000);
    const cursor = await db.pool.query('SELECT cursor FROM connector_cursors WHERE connector = $1 AND resource = $2', [
      'shopify',
      'orders',
    ]);
    expect(cursor.rows[0].cursor).toMatchObject({ next: nextPage });

    // BullMQ retries the pull job; it starts from the stored cursor, not from page one.
    const secondPage = nock(SHOP, { reqheaders: headers })
      .get(ORDERS)
      .query({ limit: '2', page_info: 'eyJsYXN0X2lkIjo0NjAyfQ' })
      .reply(200, { orders: [order(3)] });
    await waitFor(
      'the three orders processed',
      async () => (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'succeeded'")) === 3,
      30_000,
    );
    expect(firstPage.isDone() && secondPage.isDone()).toBe(true);
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE origin = 'pull:orders'")).toBe(3);
    expect(await count(db.pool, 'SELECT 1 FROM customers WHERE merged_into IS NULL')).toBe(3);
    expect(await count(db.pool, "SELECT 1 FROM timeline_events WHERE type = 'order.updated'")).toBe(3);
    const resumed = await db.pool.query('SELECT cursor FROM connector_cursors WHERE connector = $1', ['shopify']);
    expect(resumed.rows[0].cursor).toEqual({ updatedAtMin: '2026-11-20T10:03:00-05:00' });

    // The next poll asks from the newest update seen; Shopify returns that order again, and it is not stored twice.
    const again = nock(SHOP, { reqheaders: headers })
      .get(ORDERS)
      .query((query) => query.updated_at_min === '2026-11-20T10:03:00-05:00')
      .reply(200, { orders: [order(3)] });
    await api(app, '/api/workflows/shopify-orders-pull/poll', { method: 'POST' });
    await waitFor('the second poll', async () => again.isDone(), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await count(db.pool, 'SELECT 1 FROM inbox_events')).toBe(3);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs')).toBe(3);
  });

  it('refuses to validate a poll of a resource the connector does not have', async () => {
    const { loadConfigText, ConfigError } = await import('../src/workflows/load.js');
    const text = CONFIG.replace('resource: orders', 'resource: invoices');
    expect(() => loadConfigText(text, 'workflows.yaml', { env: {} })).toThrow(ConfigError);
    try {
      loadConfigText(text, 'workflows.yaml', { env: {} });
    } catch (error) {
      expect((error as InstanceType<typeof ConfigError>).message).toMatch(
        /^workflows\.yaml:6:\d+ connector shopify has no pull resource "invoices"; known: orders, customers/,
      );
    }
  });
});
