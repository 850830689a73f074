import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { VendorAuthError } from '../../src/connectors/shared/vendor-http.js';
import woocommerce from '../../src/connectors/woocommerce/index.js';
import { basicAuth, fixtureJson, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';

const SHOP = 'https://shop.example.com';
const API = `${SHOP}/wp-json/wc/v3`;
const AUTH = basicAuth('ck_test', 'cs_test');
const ORDER = fixtureJson('woocommerce', 'order_created.json');
const CUSTOMER = fixtureJson('woocommerce', 'customer_created.json');

const order = (id: number, modified: string) => ({ ...ORDER, id, number: String(id), date_modified_gmt: modified });
const customer = (id: number) => ({ ...CUSTOMER, id, email: `c${id}@example.com` });

const context = (apiUrl = API) =>
  memoryConnectorContext({
    secrets: { webhook_secret: 'unused', consumer_key: 'ck_test', consumer_secret: 'cs_test' },
    apiUrl,
  }).context;

const orders = woocommerce.pull!.orders!;
const customers = woocommerce.pull!.customers!;
const ORDER_QUERY = { orderby: 'modified', order: 'asc', dates_are_gmt: 'true', per_page: '2' };

useNock();

describe('woocommerce orders pull', () => {
  it('pages by modification time with basic auth, waits out a 429 and resumes after the newest order', async () => {
    nock(SHOP, { reqheaders: { authorization: AUTH } })
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, modified_after: '2024-01-01T00:00:00', page: '1' })
      .reply(429, { code: 'too_many_requests' }, { 'Retry-After': '0' })
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, modified_after: '2024-01-01T00:00:00', page: '1' })
      .reply(200, [order(801, '2024-01-02T10:00:00'), order(802, '2024-01-02T10:00:05')], {
        'X-WP-Total': '3',
        'X-WP-TotalPages': '2',
      });

    const first = await orders.list(context(), null, { since: new Date('2024-01-01T00:00:00Z'), pageSize: 2 });
    expect(first.events.map((event) => [event.type, event.externalId, event.occurredAt])).toEqual([
      ['order.updated', 'order.updated:801:2024-01-02T10:00:00', '2024-01-02T10:00:00.000Z'],
      ['order.updated', 'order.updated:802:2024-01-02T10:00:05', '2024-01-02T10:00:05.000Z'],
    ]);
    // Keyset: the next page starts one second before the newest order seen (modified_after is exclusive).
    expect(first.nextCursor).toEqual({ modifiedAfter: '2024-01-02T10:00:04', page: 1 });

    nock(SHOP, { reqheaders: { authorization: AUTH } })
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, modified_after: '2024-01-02T10:00:04', page: '1' })
      .reply(200, [order(802, '2024-01-02T10:00:05'), order(803, '2024-01-03T08:30:00')], { 'X-WP-TotalPages': '1' });
    const last = await orders.list(context(), first.nextCursor, { pageSize: 2 });
    // Order 802 is read again with the same id, so the inbox drops it.
    expect(last.events.map((event) => event.externalId)).toEqual([
      'order.updated:802:2024-01-02T10:00:05',
      'order.updated:803:2024-01-03T08:30:00',
    ]);
    expect(last.nextCursor).toBeNull();
    expect(last.resumeCursor).toEqual({ modifiedAfter: '2024-01-03T08:29:59', page: 1 });
  });

  it('resumes from a stored cursor, and turns the page when a whole page shares one second', async () => {
    const cursor = { modifiedAfter: '2024-01-03T08:29:59', page: 1 };
    nock(SHOP)
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, modified_after: '2024-01-03T08:29:59', page: '1' })
      .reply(200, [order(803, '2024-01-03T08:30:00'), order(804, '2024-01-03T08:30:00')], { 'X-WP-TotalPages': '2' });
    const stuck = await orders.list(context(), cursor, { pageSize: 2 });
    expect(stuck.nextCursor).toEqual({ modifiedAfter: '2024-01-03T08:29:59', page: 2 });

    nock(SHOP)
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, modified_after: '2024-01-03T08:29:59', page: '2' })
      .reply(200, [order(805, '2024-01-03T08:30:00')], { 'X-WP-TotalPages': '2' });
    const done = await orders.list(context(), stuck.nextCursor, { pageSize: 2 });
    expect(done.events.map((event) => event.externalId)).toEqual(['order.updated:805:2024-01-03T08:30:00']);
    expect(done.nextCursor).toBeNull();
    expect(done.resumeCursor).toEqual({ modifiedAfter: '2024-01-03T08:29:59', page: 1 });
  });

  it('starts without modified_after on a first pull without since, and keeps the cursor when nothing changed', async () => {
    nock(SHOP)
      .get('/wp-json/wc/v3/orders')
      .query({ ...ORDER_QUERY, page: '1' })
      .reply(200, [], { 'X-WP-TotalPages': '0' });
    expect(await orders.list(context(), null, { pageSize: 2 })).toEqual({
      events: [],
      nextCursor: null,
      resumeCursor: { modifiedAfter: null, page: 1 },
    });
  });

  it('fails with a clear error naming WOOCOMMERCE_API_URL when the shop URL is not configured', async () => {
    await expect(orders.list(context(''), null, { pageSize: 2 })).rejects.toThrow(/WOOCOMMERCE_API_URL/);
  });

  it('turns rejected credentials into a VendorAuthError without retrying', async () => {
    nock(SHOP).get('/wp-json/wc/v3/orders').query(true).reply(401, { code: 'woocommerce_rest_cannot_view' });
    await expect(orders.list(context(), null, { pageSize: 2 })).rejects.toBeInstanceOf(VendorAuthError);
  });
});

describe('woocommerce customers pull', () => {
  it('walks every page of customers by id, then starts over at page 1', async () => {
    nock(SHOP, { reqheaders: { authorization: AUTH } })
      .get('/wp-json/wc/v3/customers')
      .query({ orderby: 'id', order: 'asc', page: '1', per_page: '2' })
      .reply(200, [customer(25), customer(26)], { 'X-WP-TotalPages': '2' })
      .get('/wp-json/wc/v3/customers')
      .query({ orderby: 'id', order: 'asc', page: '2', per_page: '2' })
      .reply(200, [customer(27)], { 'X-WP-TotalPages': '2' });

    const first = await customers.list(context(), null, { pageSize: 2 });
    expect(first.events.map((event) => [event.type, event.externalId])).toEqual([
      ['customer.updated', 'customer.updated:25:2017-03-21T19:09:30'],
      ['customer.updated', 'customer.updated:26:2017-03-21T19:09:30'],
    ]);
    expect(first.nextCursor).toEqual({ page: 2 });
    const second = await customers.list(context(), first.nextCursor, { pageSize: 2 });
    expect(second.events).toHaveLength(1);
    expect(second).toMatchObject({ nextCursor: null, resumeCursor: { page: 1 } });
  });
});
