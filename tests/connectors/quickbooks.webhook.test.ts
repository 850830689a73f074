import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import quickbooks from '../../src/connectors/quickbooks/index.js';
import { fixtureBytes } from '../helpers/sign.js';
import { webhookRequest } from '../helpers/vendor-api.js';

const VERIFIER = 'verifier-token-1';
const SECRETS = {
  verifier_token: VERIFIER,
  client_id: 'id',
  client_secret: 'secret',
  refresh_token: '',
  realm_id: '',
  token_url: '',
};
const fixture = (file: string) => fixtureBytes('quickbooks', file);
const sign = (body: Buffer | string, key = VERIFIER) => createHmac('sha256', key).update(body).digest('base64');
const webhook = quickbooks.webhook!;

/** `signature` null sends no `intuit-signature` header. */
function request(body: Buffer | string, signature: string | null = sign(body)) {
  return webhookRequest('quickbooks', body, {
    'content-type': 'application/json',
    ...(signature === null ? {} : { 'intuit-signature': signature }),
  });
}

describe('quickbooks webhook signature (intuit-signature)', () => {
  const body = fixture('webhook_customer_create.json');

  it('accepts the shared sample signed with the verifier token', () => {
    expect(webhook.verify!(request(body), SECRETS)).toBe(true);
  });

  it('rejects a wrong key, a tampered body and a missing signature', () => {
    expect(webhook.verify!(request(body, sign(body, 'other-token')), SECRETS)).toBe(false);
    expect(
      webhook.verify!({ ...request(body), rawBody: Buffer.from(body.toString().replace('"1"', '"2"')) }, SECRETS),
    ).toBe(false);
    expect(webhook.verify!(request(body, null), SECRETS)).toBe(false);
  });

  it('has no handshake: Intuit posts deliveries only', () => {
    expect(webhook.handshake).toBeUndefined();
  });
});

describe('quickbooks webhook parsing', () => {
  it('turns the shared sample into one thin customer.created event', () => {
    expect(webhook.parse(request(fixture('webhook_customer_create.json')), SECRETS)).toEqual([
      {
        type: 'customer.created',
        externalId: '1185883450:Customer:1:Create:2015-10-05T21:42:19.000Z',
        occurredAt: '2015-10-05T21:42:19.000Z',
        payload: {
          realmId: '1185883450',
          name: 'Customer',
          id: '1',
          operation: 'Create',
          lastUpdated: '2015-10-05T14:42:19-0700',
        },
      },
    ]);
  });

  it('splits a delivery batched over realms and entities, with stable ids, and drops what it does not follow', () => {
    const body = JSON.stringify({
      eventNotifications: [
        {
          realmId: '111',
          dataChangeEvent: {
            entities: [
              { name: 'Invoice', id: '130', operation: 'Update', lastUpdated: '2025-03-01T10:00:00.000Z' },
              { name: 'Payment', id: '131', operation: 'Create', lastUpdated: '2025-03-01T10:00:01.000Z' },
              { name: 'Invoice', id: '129', operation: 'Void', lastUpdated: '2025-03-01T10:00:02.000Z' },
              { name: 'Vendor', id: '7', operation: 'Create', lastUpdated: '2025-03-01T10:00:03.000Z' },
              { name: 'Customer', id: '8', operation: 'Delete', lastUpdated: '2025-03-01T10:00:04.000Z' },
            ],
          },
        },
        {
          realmId: '222',
          dataChangeEvent: {
            entities: [{ name: 'Customer', id: '5', operation: 'Update', lastUpdated: '2025-03-01T11:00:00-0800' }],
          },
        },
      ],
    });

    const first = webhook.parse(request(body), SECRETS);
    const again = webhook.parse(request(body), SECRETS);

    expect(first.map((event) => [event.type, event.externalId])).toEqual([
      ['invoice.updated', '111:Invoice:130:Update:2025-03-01T10:00:00.000Z'],
      ['payment.created', '111:Payment:131:Create:2025-03-01T10:00:01.000Z'],
      ['invoice.voided', '111:Invoice:129:Void:2025-03-01T10:00:02.000Z'],
      ['customer.updated', '222:Customer:5:Update:2025-03-01T19:00:00.000Z'],
    ]);
    expect(again).toEqual(first);
  });

  it('reads the CloudEvents format into the same events as the classic one', () => {
    const classic = webhook.parse(request(fixture('webhook_customer_create.json')), SECRETS);
    const cloudEvents = JSON.stringify([
      {
        specversion: '1.0',
        id: '88cd52a9-0fe5-4d47-9a5b-4bd7d8c4b2a1',
        source: 'intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=',
        type: 'qbo.customer.created.v1',
        datacontenttype: 'application/json',
        time: '2015-10-05T21:42:19.000Z',
        intuitentityid: '1',
        intuitaccountid: '1185883450',
        data: {},
      },
      {
        specversion: '1.0',
        id: 'x',
        type: 'qbo.account.created.v1',
        time: '2015-10-05T21:42:20Z',
        intuitentityid: '3',
        intuitaccountid: '1185883450',
      },
    ]);

    const parsed = webhook.parse(request(cloudEvents), SECRETS);

    expect(parsed.map(({ type, externalId, occurredAt }) => ({ type, externalId, occurredAt }))).toEqual(
      classic.map(({ type, externalId, occurredAt }) => ({ type, externalId, occurredAt })),
    );
    expect(parsed[0]!.payload).toMatchObject({ realmId: '1185883450', name: 'Customer', id: '1', operation: 'Create' });
  });

  it('rejects bodies it cannot read with a BadRequestError', () => {
    expect(() => webhook.parse(request('{"hello":1}'), SECRETS)).toThrow(/eventNotifications/);
    expect(() => webhook.parse(request('not json'), SECRETS)).toThrow(/not valid JSON/);
    expect(() =>
      webhook.parse(
        request(
          '{"eventNotifications":[{"dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Create","lastUpdated":"2025-01-01T00:00:00Z"}]}}]}',
        ),
        SECRETS,
      ),
    ).toThrow(/realmId/);
  });
});
