import { describe, expect, it } from 'vitest';
import nock from 'nock';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fixtureBytes } from '../helpers/sign.js';
import { basicAuth, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';
import quickbooks from '../../src/connectors/quickbooks/index.js';
import { CDC_LIMIT } from '../../src/connectors/quickbooks/pull.js';
import type { ParsedEvent } from '../../src/connectors/define-connector.js';

const API = 'https://quickbooks.api.test';
const TOKENS = 'https://oauth.intuit.test';
const REALM = '1185883450';
const SECRETS = {
  verifier_token: 'verifier',
  client_id: 'qb-client',
  client_secret: 'qb-secret',
  refresh_token: 'AB11-configured',
  realm_id: REALM,
  token_url: `${TOKENS}/oauth2/v1/tokens/bearer`,
};
const BASIC = basicAuth('qb-client', 'qb-secret');
const sample = (file: string) =>
  JSON.parse(readFileSync(new URL(`../../src/connectors/quickbooks/samples/${file}`, import.meta.url), 'utf8'));

/** A connector context with in-memory token storage. */
const context = (secrets: Partial<typeof SECRETS> = {}, saved?: Record<string, string>) =>
  memoryConnectorContext({ secrets: { ...SECRETS, ...secrets }, apiUrl: API, saved });

/** The thin event the webhook path stores for the shared sample delivery. */
function thinCustomerEvent(): ParsedEvent {
  const body = fixtureBytes('quickbooks', 'webhook_customer_create.json');
  const headers = { 'intuit-signature': createHmac('sha256', 'verifier').update(body).digest('base64') };
  const [event] = quickbooks.webhook!.parse(
    { method: 'POST', headers, query: {}, rawBody: body, publicUrl: 'https://crm.test/webhooks/quickbooks' },
    SECRETS,
  );
  return event!;
}

const validTokens = {
  access_token: 'access-live',
  refresh_token: 'AB11-rotated-1',
  expires_at: '2999-01-01T00:00:00.000Z',
  seeded_from: '',
};
/** A live access token persisted earlier, with no refresh token configured any more (the persisted chain is used). */
const live = () => context({ refresh_token: '' }, validTokens);

useNock();

describe('quickbooks enrich', () => {
  it('refreshes the token, persists the rotated pair, reads the Customer and returns the full event', async () => {
    const { context: ctx, stored } = context();
    const refresh = nock(TOKENS, { reqheaders: { authorization: BASIC } })
      .post('/oauth2/v1/tokens/bearer', 'grant_type=refresh_token&refresh_token=AB11-configured')
      .reply(200, {
        token_type: 'bearer',
        access_token: 'access-1',
        refresh_token: 'AB11-rotated-1',
        expires_in: 3600,
        x_refresh_token_expires_in: 8726400,
      });
    const read = nock(API, { reqheaders: { authorization: 'Bearer access-1', accept: 'application/json' } })
      .get(`/v3/company/${REALM}/customer/1`)
      .query({ minorversion: '75' })
      .reply(200, sample('customer_read_response.json'));

    const thin = thinCustomerEvent();
    const enriched = await quickbooks.enrich!(ctx, thin);

    expect(refresh.isDone() && read.isDone()).toBe(true);
    expect(enriched).toEqual([
      { ...thin, payload: { realmId: REALM, ...sample('customer_read_response.json').Customer } },
    ]);
    expect(stored.tokens).toMatchObject({ access_token: 'access-1', refresh_token: 'AB11-rotated-1' });
  });

  it('refreshes an expired access token with the persisted (rotated) refresh token when the API answers 401', async () => {
    const { context: ctx, stored } = context({ refresh_token: '' }, { ...validTokens, access_token: 'access-expired' });
    nock(API, { reqheaders: { authorization: 'Bearer access-expired' } })
      .get(`/v3/company/${REALM}/customer/1`)
      .query(true)
      .reply(401, {
        fault: { error: [{ message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401' }] },
      });
    nock(TOKENS)
      .post('/oauth2/v1/tokens/bearer', 'grant_type=refresh_token&refresh_token=AB11-rotated-1')
      .reply(200, { access_token: 'access-2', refresh_token: 'AB11-rotated-2', expires_in: 3600 });
    nock(API, { reqheaders: { authorization: 'Bearer access-2' } })
      .get(`/v3/company/${REALM}/customer/1`)
      .query(true)
      .reply(200, sample('customer_read_response.json'));

    const [event] = await quickbooks.enrich!(ctx, thinCustomerEvent());

    expect(event!.payload).toMatchObject({ realmId: REALM, Id: '1', DisplayName: 'Whitfield Landscaping' });
    expect(stored.tokens).toMatchObject({ access_token: 'access-2', refresh_token: 'AB11-rotated-2' });
  });

  it('drops the event when the entity was deleted since (fault 610)', async () => {
    const { context: ctx } = live();
    nock(API)
      .get(`/v3/company/${REALM}/customer/1`)
      .query(true)
      .reply(400, {
        Fault: { Error: [{ Message: 'Object Not Found', code: '610' }], type: 'ValidationFault' },
        time: '2025-01-01T00:00:00.000-08:00',
      });

    expect(await quickbooks.enrich!(ctx, thinCustomerEvent())).toEqual([]);
  });

  it('fails on other 400s instead of dropping the event', async () => {
    const { context: ctx } = live();
    nock(API)
      .get(`/v3/company/${REALM}/customer/1`)
      .query(true)
      .reply(400, { Fault: { Error: [{ Message: 'Invalid Reference Id', code: '2500' }] } });

    await expect(quickbooks.enrich!(ctx, thinCustomerEvent())).rejects.toThrow(/400.*2500/);
  });

  it('passes events that already carry the entity (pulled through CDC) without calling the API', async () => {
    const { context: ctx } = context();
    const full: ParsedEvent = {
      ...thinCustomerEvent(),
      payload: { realmId: REALM, ...sample('customer_read_response.json').Customer },
    };
    expect(await quickbooks.enrich!(ctx, full)).toEqual([full]);
  });
});

describe('quickbooks changes pull (CDC)', () => {
  const changes = quickbooks.pull!.changes!;
  const params = (changedSince: string) => ({
    entities: 'Customer,Estimate,Invoice,Payment',
    changedSince,
    minorversion: '75',
  });
  const cdc = (queryResponse: unknown[]) => ({
    CDCResponse: [{ QueryResponse: queryResponse }],
    time: '2025-03-02T10:00:00.000-08:00',
  });
  const customer = (id: string, created: string, updated: string) => ({
    Id: id,
    DisplayName: `Customer ${id}`,
    MetaData: { CreateTime: created, LastUpdatedTime: updated },
  });

  it('turns changed customers, invoices and payments into full events and resumes from the newest change', async () => {
    const { context: ctx } = live();
    const since = new Date(Date.now() - 5 * 24 * 3600_000);
    const at = (minutes: number) => new Date(since.getTime() + minutes * 60_000).toISOString();
    const invoice = {
      ...sample('invoice_read_response.json').Invoice,
      MetaData: { CreateTime: at(10), LastUpdatedTime: at(20) },
    };
    nock(API, { reqheaders: { authorization: 'Bearer access-live' } })
      .get(`/v3/company/${REALM}/cdc`)
      .query(params(since.toISOString()))
      .reply(
        200,
        cdc([
          { Customer: [customer('58', at(30), at(30))], startPosition: 1, maxResults: 1 },
          { Invoice: [invoice], startPosition: 1, maxResults: 1 },
          { Payment: [{ domain: 'QBO', status: 'Deleted', Id: '77', MetaData: { LastUpdatedTime: at(40) } }] },
        ]),
      );

    const page = await changes.list(ctx, null, { since, pageSize: 100 });

    expect(page.events.map(({ type, externalId, occurredAt }) => ({ type, externalId, occurredAt }))).toEqual([
      { type: 'customer.created', externalId: `${REALM}:Customer:58:Create:${at(30)}`, occurredAt: at(30) },
      { type: 'invoice.updated', externalId: `${REALM}:Invoice:20246:Update:${at(20)}`, occurredAt: at(20) },
    ]);
    expect(page.events[1]!.payload).toEqual({ realmId: REALM, ...invoice });
    expect(page).toMatchObject({ nextCursor: null, resumeCursor: at(30) });
  });

  it('gives a CDC change of a webhook-notified entity the webhook event id, so the inbox stores it once', async () => {
    const { context: ctx } = live();
    nock(API)
      .get(`/v3/company/${REALM}/cdc`)
      .query(true)
      .reply(200, cdc([{ Customer: [customer('1', '2015-10-05T14:42:19-07:00', '2015-10-05T14:42:19-07:00')] }]));

    const page = await changes.list(ctx, '2015-10-05T00:00:00.000Z', { pageSize: 100 });

    expect(page.events[0]!.externalId).toBe(thinCustomerEvent().externalId);
  });

  it('resumes from the stored cursor and waits out a 429 Retry-After', async () => {
    const { context: ctx } = live();
    const cursor = new Date(Date.now() - 2 * 24 * 3600_000).toISOString();
    const throttled = nock(API)
      .get(`/v3/company/${REALM}/cdc`)
      .query(params(cursor))
      .reply(429, 'Too Many Requests', { 'Retry-After': '0' });
    nock(API)
      .get(`/v3/company/${REALM}/cdc`)
      .query(params(cursor))
      .reply(200, cdc([{ Customer: [] }]));

    const page = await changes.list(ctx, cursor, { pageSize: 100 });

    expect(throttled.isDone() && nock.isDone()).toBe(true);
    expect(page).toEqual({ events: [], nextCursor: null, resumeCursor: cursor });
  });

  it('continues from the newest change when a list comes back full (CDC caps each entity)', async () => {
    const { context: ctx } = live();
    const since = new Date(Date.now() - 24 * 3600_000);
    const many = Array.from({ length: CDC_LIMIT }, (_, i) => {
      const at = new Date(since.getTime() + (i + 1) * 1000).toISOString();
      return customer(String(i + 1), at, at);
    });
    nock(API)
      .get(`/v3/company/${REALM}/cdc`)
      .query(params(since.toISOString()))
      .reply(200, cdc([{ Customer: many }]));

    const page = await changes.list(ctx, since.toISOString(), { pageSize: 100 });

    expect(page.events).toHaveLength(CDC_LIMIT);
    expect(page.nextCursor).toBe(new Date(since.getTime() + CDC_LIMIT * 1000).toISOString());
  });

  it('never asks for more than the 30 days CDC allows', async () => {
    const { context: ctx } = live();
    let asked = '';
    nock(API)
      .get(`/v3/company/${REALM}/cdc`)
      .query((query) => ((asked = String(query.changedSince)), true))
      .reply(200, cdc([]));

    await changes.list(ctx, '2020-01-01T00:00:00.000Z', { pageSize: 100 });

    expect(Date.now() - Date.parse(asked)).toBeLessThanOrEqual(30 * 24 * 3600_000);
    expect(Date.now() - Date.parse(asked)).toBeGreaterThan(29 * 24 * 3600_000);
  });

  it('needs realm_id', async () => {
    await expect(changes.list(context({ realm_id: '' }).context, null, { pageSize: 100 })).rejects.toThrow(/realm_id/);
  });
});
