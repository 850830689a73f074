import { describe, expect, it } from 'vitest';
import xero from '../../src/connectors/xero/index.js';
import { withIsoDates } from '../../src/connectors/xero/resources.js';
import { fixtureJson, mapToRecord } from '../helpers/vendor-api.js';

const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const fixture = (file: string) => fixtureJson('xero', file);

const map = (type: string, payload?: unknown) => mapToRecord(xero, type, `${TENANT}:x`, payload);

describe('xero dates', () => {
  it('turns /Date(ms+zone)/ values into ISO everywhere and leaves other strings alone', () => {
    expect(
      withIsoDates({
        UpdatedDateUTC: '/Date(1573755038314+0000)/',
        Payments: [{ Date: '/Date(1552953600000+1300)/' }],
        Name: 'Date(1)',
        DateString: '2019-03-07T00:00:00',
      }),
    ).toEqual({
      UpdatedDateUTC: '2019-11-14T18:10:38.314Z',
      Payments: [{ Date: '2019-03-19T00:00:00.000Z' }],
      Name: 'Date(1)',
      DateString: '2019-03-07T00:00:00',
    });
  });
});

describe('xero default mappings', () => {
  it('declares a mapping and a sample for every event type, built from the shared objects', () => {
    expect(Object.keys(xero.events).sort()).toEqual([
      'contact.created',
      'contact.updated',
      'invoice.created',
      'invoice.updated',
    ]);
    expect(xero.events['contact.updated']!.sample).toMatchObject({
      tenantId: TENANT,
      ContactID: fixture('contact_katherine_warren.json').ContactID,
      UpdatedDateUTC: '2017-08-21T20:49:04.227Z',
    });
  });

  it('maps a Contact to its email, callable phones (not fax, not empty), names and tenant-scoped id', async () => {
    expect(await map('contact.updated')).toEqual({
      first_name: 'Katherine',
      last_name: 'Warren',
      name: 'Katherine Warren',
      email: 'kat.warren@clampett.com',
      phone: ['(626) 847-1294'],
      identities: [{ kind: 'xero_contact', value: `${TENANT}:5cc8cf28-567e-4d43-b287-687cfcaec47c` }],
      attributes: {
        xero_contact_name: 'Katherine Warren',
        xero_contact_status: 'ACTIVE',
        xero_is_customer: true,
        xero_is_supplier: true,
      },
    });
  });

  it('builds international numbers from the country code and keeps an organisation name', async () => {
    const sample = xero.events['contact.created']!.sample as Record<string, unknown>;
    const company = {
      ...sample,
      Name: 'Ridgeway Bikes Ltd',
      FirstName: '',
      LastName: '',
      Phones: [
        { PhoneType: 'DEFAULT', PhoneNumber: '555 0123', PhoneAreaCode: '09', PhoneCountryCode: '64' },
        { PhoneType: 'MOBILE', PhoneNumber: '021 555 0199', PhoneAreaCode: '', PhoneCountryCode: '+64' },
        { PhoneType: 'FAX', PhoneNumber: '555 0100', PhoneAreaCode: '09', PhoneCountryCode: '64' },
      ],
    };
    const record = await map('contact.created', company);
    expect(record).toMatchObject({ name: 'Ridgeway Bikes Ltd', phone: ['+64 09 555 0123', '+64 021 555 0199'] });
    expect(record).not.toHaveProperty('first_name');
  });

  it('maps the shared PAID sales invoice to its contact, invoice.paid and a customer lifecycle stage', async () => {
    expect(await map('invoice.updated')).toEqual({
      first_name: 'Liam',
      last_name: 'Gallagher',
      email: 'liam@rockstar.com',
      identities: [{ kind: 'xero_contact', value: `${TENANT}:430fa14a-f945-44d3-9f97-5df5e28441b8` }],
      lifecycle_stage: 'customer',
      timeline: {
        type: 'invoice.paid',
        external_id: 'invoice/a03ffcd2-5d91-4c7e-b483-318584e9e439',
        occurred_at: '2019-03-07T00:00:00.000Z',
        updated_at: '2019-03-07T17:59:28.133Z',
        summary: 'Invoice INV-0006: 148062.76 NZD (PAID)',
        amount: 148062.76,
        currency: 'NZD',
        data: {
          invoice_id: 'a03ffcd2-5d91-4c7e-b483-318584e9e439',
          invoice_number: 'INV-0006',
          type: 'ACCREC',
          status: 'PAID',
          reference: 'Tour',
          total: 148062.76,
          amount_due: 0,
          amount_paid: 148062.76,
          currency: 'NZD',
          date: '2019-03-07T00:00:00.000Z',
          due_date: '2019-03-13T00:00:00.000Z',
          fully_paid_on: '2019-03-19T00:00:00.000Z',
        },
      },
    });
  });

  it('keeps the event type for an unpaid invoice, and never calls a paid supplier bill a customer', async () => {
    const sample = xero.events['invoice.created']!.sample as Record<string, unknown>;
    const open = await map('invoice.created', { ...sample, Status: 'AUTHORISED', AmountDue: 148062.76, AmountPaid: 0 });
    expect(open).toMatchObject({
      timeline: { type: 'invoice.created', summary: 'Invoice INV-0006: 148062.76 NZD (AUTHORISED, due 148062.76)' },
    });
    expect(open).not.toHaveProperty('lifecycle_stage');

    const bill = await map('invoice.updated', { ...sample, Type: 'ACCPAY' });
    expect(bill).toMatchObject({
      timeline: { type: 'invoice.updated', summary: 'Bill INV-0006: 148062.76 NZD (PAID)' },
    });
    expect(bill).not.toHaveProperty('lifecycle_stage');
  });
});
