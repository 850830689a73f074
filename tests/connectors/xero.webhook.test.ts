import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import xero from '../../src/connectors/xero/index.js';
import { fixtureBytes } from '../helpers/sign.js';
import { webhookRequest } from '../helpers/vendor-api.js';

const KEY = 'xero-webhook-key-1';
const SECRETS = {
  webhook_key: KEY,
  client_id: 'id',
  client_secret: 'secret',
  refresh_token: '',
  tenant_id: '',
  token_url: '',
};
const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const fixture = () => fixtureBytes('xero', 'webhook_contact_update.json');
const sign = (body: Buffer | string, key = KEY) => createHmac('sha256', key).update(body).digest('base64');
const webhook = xero.webhook!;

/** `signature` null sends no `x-xero-signature` header. */
function request(body: Buffer | string, signature: string | null = sign(body), method = 'POST') {
  return webhookRequest(
    'xero',
    body,
    { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-xero-signature': signature }) },
    { method },
  );
}

describe('xero webhook signature (x-xero-signature)', () => {
  const body = fixture();

  it('accepts the shared sample signed with the webhook key', () => {
    expect(webhook.verify!(request(body), SECRETS)).toBe(true);
  });

  it('rejects a wrong key, a tampered body and a missing signature', () => {
    expect(webhook.verify!(request(body, sign(body, 'another-key')), SECRETS)).toBe(false);
    expect(
      webhook.verify!({ ...request(body), rawBody: Buffer.from(body.toString().replace('UPDATE', 'CREATE')) }, SECRETS),
    ).toBe(false);
    expect(webhook.verify!(request(body, null), SECRETS)).toBe(false);
  });
});

describe('xero intent to receive', () => {
  const intent = '{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"WKSRRHJQHBQXKJMWNGMN"}';

  it('answers 200 with an empty body to a correctly signed empty delivery', () => {
    expect(webhook.handshake!(request(intent), SECRETS)).toEqual({ status: 200, body: '' });
  });

  it('answers 401 with an empty body to a wrongly signed or unsigned one', () => {
    expect(webhook.handshake!(request(intent, sign(intent, 'not-the-key')), SECRETS)).toEqual({
      status: 401,
      body: '',
    });
    expect(webhook.handshake!(request(intent, null), SECRETS)).toEqual({ status: 401, body: '' });
  });

  it('leaves ordinary deliveries, GETs and unreadable bodies to verify and parse', () => {
    expect(webhook.handshake!(request(fixture()), SECRETS)).toBeUndefined();
    expect(webhook.handshake!(request('', null, 'GET'), SECRETS)).toBeUndefined();
    expect(webhook.handshake!(request('not json'), SECRETS)).toBeUndefined();
  });
});

describe('xero webhook parsing', () => {
  it('turns the shared sample into one thin contact.updated event', () => {
    const [event, ...rest] = webhook.parse(request(fixture()), SECRETS);
    expect(rest).toEqual([]);
    expect(event).toEqual({
      type: 'contact.updated',
      externalId: `${TENANT}:717f2bfc-c6d4-41fd-b238-3f2f0c0cf777:UPDATE:2024-06-21T01:15:39.902`,
      occurredAt: '2024-06-21T01:15:39.902Z',
      payload: JSON.parse(fixture().toString()).events[0],
    });
  });

  it('splits a batched delivery with stable ids and drops categories it does not follow', () => {
    const item = (category: string, type: string, id: string, at: string) => ({
      resourceUrl: `https://api.xero.com/api.xro/2.0/${category === 'INVOICE' ? 'Invoices' : 'Contacts'}/${id}`,
      resourceId: id,
      eventDateUtc: at,
      eventType: type,
      eventCategory: category,
      tenantId: TENANT,
      tenantType: 'ORGANISATION',
    });
    const body = JSON.stringify({
      events: [
        item('INVOICE', 'CREATE', 'a03ffcd2-5d91-4c7e-b483-318584e9e439', '2024-06-21T01:15:40.100'),
        item('CONTACT', 'CREATE', '430fa14a-f945-44d3-9f97-5df5e28441b8', '2024-06-21T01:15:40.200'),
        item('INVOICE', 'UPDATE', 'a03ffcd2-5d91-4c7e-b483-318584e9e439', '2024-06-21T01:16:02.000'),
        item('CREDITNOTE', 'CREATE', 'b1d0a6c4-0000-4000-8000-000000000001', '2024-06-21T01:16:03.000'),
      ],
      firstEventSequence: 7,
      lastEventSequence: 10,
      entropy: 'QWERTYUIOPASDFGHJKLZ',
    });

    const first = webhook.parse(request(body), SECRETS);

    expect(first.map((event) => [event.type, event.externalId])).toEqual([
      ['invoice.created', `${TENANT}:a03ffcd2-5d91-4c7e-b483-318584e9e439:CREATE:2024-06-21T01:15:40.100`],
      ['contact.created', `${TENANT}:430fa14a-f945-44d3-9f97-5df5e28441b8:CREATE:2024-06-21T01:15:40.200`],
      ['invoice.updated', `${TENANT}:a03ffcd2-5d91-4c7e-b483-318584e9e439:UPDATE:2024-06-21T01:16:02.000`],
    ]);
    expect(webhook.parse(request(body), SECRETS)).toEqual(first);
  });

  it('rejects bodies it cannot read with a BadRequestError', () => {
    expect(() => webhook.parse(request('{"entropy":"x"}'), SECRETS)).toThrow(/events array/);
    expect(() =>
      webhook.parse(request('{"events":[{"eventCategory":"CONTACT","eventType":"UPDATE","tenantId":"t"}]}'), SECRETS),
    ).toThrow(/resourceId/);
    expect(() =>
      webhook.parse(
        request(
          '{"events":[{"eventCategory":"CONTACT","eventType":"UPDATE","tenantId":"t","resourceId":"r","eventDateUtc":"yesterday"}]}',
        ),
        SECRETS,
      ),
    ).toThrow(/unreadable eventDateUtc/);
  });
});
