import { describe, expect, it } from 'vitest';
import woocommerce from '../../src/connectors/woocommerce/index.js';
import { fixtureJson, mapToRecord } from '../helpers/vendor-api.js';

const fixture = (file: string) => fixtureJson('woocommerce', file);
/** The contact fields both shared samples carry (the order's billing address, the customer's profile). */
const JOHN_DOE = {
  first_name: 'John',
  last_name: 'Doe',
  name: 'John Doe',
  email: 'john.doe@example.com',
  phone: '(555) 555-5555',
  country: 'US',
};

const map = (type: string, payload: unknown, externalId: string) =>
  mapToRecord(woocommerce, type, externalId, payload, '2017-03-22T19:28:08.000Z');

describe('woocommerce default mappings', () => {
  it('ships the shared fixtures, unchanged, as the samples', () => {
    expect(woocommerce.events['order.created']!.sample).toEqual(fixture('order_created.json'));
    expect(woocommerce.events['order.updated']!.sample).toEqual(fixture('order_created.json'));
    expect(woocommerce.events['customer.created']!.sample).toEqual(fixture('customer_created.json'));
    expect(woocommerce.events['customer.updated']!.sample).toEqual(fixture('customer_created.json'));
  });

  it('maps a guest order to the billing contact and an order timeline entry, without an account identity', async () => {
    const record = await map('order.created', fixture('order_created.json'), 'order.created:727:2017-03-22T19:28:08');
    expect(record).toMatchObject({ ...JOHN_DOE, identities: [] });
    expect(record.timeline).toEqual({
      type: 'order.created',
      external_id: 'order/727',
      occurred_at: '2017-03-22T19:28:02Z',
      updated_at: '2017-03-22T19:28:08Z',
      summary: 'Order #727: 29.35 USD (processing)',
      // a processing order is paid: worth its total as a purchase (traits, KPI reports)
      amount: 29.35,
      currency: 'USD',
      data: {
        order_id: 727,
        number: '727',
        status: 'processing',
        total: 29.35,
        currency: 'USD',
        payment_method: 'Direct Bank Transfer',
        paid_at: '2017-03-22T19:28:08Z',
        items: [
          { name: 'Woo Single #1', sku: null, product_id: 93, quantity: 2, price: 3, total: 6 },
          {
            name: 'Ship Your Idea &ndash; Color: Black, Size: M Test',
            sku: 'Bar3',
            product_id: 22,
            quantity: 1,
            price: 12,
            total: 12,
          },
        ],
      },
    });
  });

  it("scopes a registered customer's id by the site host from _links", async () => {
    const order = { ...fixture('order_created.json'), customer_id: 25 };
    order._links.self[0].href = 'https://Shop.Example.com/wp-json/wc/v3/orders/727';
    const record = await map('order.updated', order, 'order.updated:727:2017-03-22T19:28:08');
    expect(record.identities).toEqual([{ kind: 'woocommerce_customer', value: 'shop.example.com:25' }]);
    expect((record.timeline as { type: string }).type).toBe('order.updated');
  });

  it('maps a customer account to the same identity kind, with profile attributes', async () => {
    const record = await map(
      'customer.created',
      fixture('customer_created.json'),
      'customer.created:25:2017-03-21T19:09:30',
    );
    expect(record).toEqual({
      ...JOHN_DOE,
      identities: [{ kind: 'woocommerce_customer', value: 'example.com:25' }],
      attributes: { woocommerce_role: 'customer', is_paying_customer: false },
    });
  });

  it('leaves blank WooCommerce fields out instead of writing empty strings', async () => {
    const customer = {
      ...fixture('customer_created.json'),
      first_name: '',
      last_name: '',
      billing: { ...fixture('customer_created.json').billing, phone: '', first_name: 'Jo', last_name: '' },
    };
    const record = await map('customer.updated', customer, 'customer.updated:25:2017-03-21T19:09:30');
    expect(record).toMatchObject({ first_name: 'Jo', name: 'Jo' });
    expect(record.last_name ?? null).toBeNull();
    expect(record.phone ?? null).toBeNull();
  });
});
