import { describe, expect, it } from 'vitest';
import quickbooks from '../../src/connectors/quickbooks/index.js';
import { fixtureJson, mapToRecord } from '../helpers/vendor-api.js';

const REALM = '1185883450';
const fixture = (file: string) => fixtureJson('quickbooks', file);

const map = (type: string, payload?: unknown) => mapToRecord(quickbooks, type, `${REALM}:x`, payload);

describe('quickbooks default mappings', () => {
  it('declares a mapping and a sample for every event type', () => {
    expect(Object.keys(quickbooks.events).sort()).toEqual([
      'customer.created',
      'customer.updated',
      'estimate.created',
      'estimate.updated',
      'invoice.created',
      'invoice.updated',
      'invoice.voided',
      'payment.created',
      'payment.updated',
      'payment.voided',
    ]);
  });

  it('maps an Estimate (as the API returns it) to its customer and a timeline entry with total and status', async () => {
    const estimate = {
      realmId: REALM,
      ...(fixture('entity_estimate_response.json') as { Estimate: Record<string, unknown> }).Estimate,
    };
    expect(await map('estimate.created', estimate)).toMatchObject({
      email: 'Cool_Cars@intuit.com',
      identities: [{ kind: 'quickbooks_customer', value: `${REALM}:3` }],
      timeline: {
        type: 'estimate.created',
        external_id: `estimate/${REALM}:177`,
        data: { estimate_id: '177', total: 31.5, currency: 'USD', status: 'Pending' },
      },
    });
  });

  it('maps a Customer to its emails, phones, names and realm-scoped id', async () => {
    expect(await map('customer.created')).toEqual({
      first_name: 'Dana',
      last_name: 'Whitfield',
      name: 'Dana Whitfield',
      email: 'Dana@Whitfield-Landscaping.example',
      phone: ['(650) 555-0142', '650-555-0199'],
      identities: [{ kind: 'quickbooks_customer', value: `${REALM}:1` }],
      attributes: {
        company: 'Whitfield Landscaping',
        quickbooks_display_name: 'Whitfield Landscaping',
        quickbooks_balance: 239,
        quickbooks_active: true,
      },
    });
  });

  it('maps the sparse shared Customer to its id and display name, and splits comma-separated emails', async () => {
    const sparse = { realmId: REALM, ...fixture('entity_customer_from_batch_response.json') };
    expect(await map('customer.updated', sparse)).toMatchObject({
      name: 'L 34',
      identities: [{ kind: 'quickbooks_customer', value: `${REALM}:NG:2285964` }],
    });
    const twoEmails = { ...sparse, PrimaryEmailAddr: { Address: 'a@example.com, b@example.com' } };
    expect((await map('customer.updated', twoEmails)).email).toEqual(['a@example.com', 'b@example.com']);
  });

  it('maps the shared Invoice to the billed customer and an open-invoice timeline entry', async () => {
    expect(quickbooks.events['invoice.created']!.sample).toEqual({
      realmId: REALM,
      ...fixture('entity_invoice_response.json').Invoice,
    });
    const record = await map('invoice.created');
    expect(record).toMatchObject({
      email: 'javasdk-fake-email@gmail.com',
      identities: [{ kind: 'quickbooks_customer', value: `${REALM}:4841` }],
      timeline: {
        type: 'invoice.created',
        external_id: `invoice/${REALM}:20246`,
        occurred_at: '2015-08-10T11:33:46-07:00',
        updated_at: '2015-08-10T16:30:47-07:00',
        summary: 'Invoice 4020: 100055.55 USD, balance 100055.55, due 2015-08-10',
        data: { invoice_id: '20246', total: 100055.55, balance: 100055.55, due_date: '2015-08-10', currency: 'USD' },
      },
    });
    expect(record).not.toHaveProperty('lifecycle_stage');
  });

  it('calls an invoice with a zero Balance paid, and its customer a customer', async () => {
    const paid = { ...(quickbooks.events['invoice.updated']!.sample as object), Balance: 0 };
    expect(await map('invoice.updated', paid)).toMatchObject({
      lifecycle_stage: 'customer',
      timeline: {
        type: 'invoice.paid',
        external_id: `invoice/${REALM}:20246`,
        summary: 'Invoice 4020: 100055.55 USD (paid)',
      },
    });
  });

  it('does not call a voided invoice paid (voiding zeroes its totals)', async () => {
    const voided = { ...(quickbooks.events['invoice.voided']!.sample as object), Balance: 0, TotalAmt: 0 };
    const record = await map('invoice.voided', voided);
    expect(record).toMatchObject({ timeline: { type: 'invoice.voided' } });
    expect(record).not.toHaveProperty('lifecycle_stage');
  });

  it('maps a Payment to the paying customer and a payment timeline entry', async () => {
    expect(await map('payment.created')).toMatchObject({
      identities: [{ kind: 'quickbooks_customer', value: `${REALM}:4841` }],
      lifecycle_stage: 'customer',
      timeline: {
        type: 'payment.created',
        external_id: `payment/${REALM}:20250`,
        occurred_at: '2015-08-14T10:12:03-07:00',
        summary: 'Payment of 100055.55 USD (ref 1045)',
        data: { total: 100055.55, currency: 'USD', invoice_ids: ['20246'] },
      },
    });
  });
});
