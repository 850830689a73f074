import { describe, expect, it } from 'vitest';
import nock from 'nock';
import { fixtureBytes } from '../helpers/sign.js';
import { basicAuth, fixtureJson, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';
import xero from '../../src/connectors/xero/index.js';
import type { ParsedEvent } from '../../src/connectors/define-connector.js';

const API = 'https://api.xero.test';
const IDENTITY = 'https://identity.xero.test';
const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const SECRETS = {
  webhook_key: 'key',
  client_id: 'xero-client',
  client_secret: 'xero-secret',
  refresh_token: 'configured-refresh',
  tenant_id: TENANT,
  token_url: `${IDENTITY}/connect/token`,
};
const BASIC = basicAuth('xero-client', 'xero-secret');
const shared = (file: string) => fixtureBytes('xero', file);
const sharedJson = (file: string) => fixtureJson('xero', file);

/** A connector context with in-memory token storage. */
const context = (secrets: Partial<typeof SECRETS> = {}, saved?: Record<string, string>) =>
  memoryConnectorContext({ secrets: { ...SECRETS, ...secrets }, apiUrl: API, saved });

const liveTokens = {
  access_token: 'access-live',
  refresh_token: 'rotated-1',
  expires_at: '2999-01-01T00:00:00.000Z',
  seeded_from: '',
};
/** A live access token persisted earlier, with no refresh token configured any more (the persisted chain is used). */
const live = () => context({ refresh_token: '' }, liveTokens);

function thinEvent(body: Buffer): ParsedEvent {
  const [event] = xero.webhook!.parse(
    { method: 'POST', headers: {}, query: {}, rawBody: body, publicUrl: 'https://crm.test/webhooks/xero' },
    SECRETS,
  );
  return event!;
}

useNock();

describe('xero enrich', () => {
  it('refreshes the token, persists the rotated pair, reads the contact for the tenant and converts its dates', async () => {
    const { context: ctx, stored } = context();
    const contact = sharedJson('contact_katherine_warren.json');
    nock(IDENTITY, { reqheaders: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' } })
      .post('/connect/token', 'grant_type=refresh_token&refresh_token=configured-refresh')
      .reply(200, {
        id_token: 'x',
        access_token: 'access-1',
        expires_in: 1800,
        token_type: 'Bearer',
        refresh_token: 'rotated-1',
        scope: 'accounting.contacts offline_access',
      });
    const read = nock(API, {
      reqheaders: { authorization: 'Bearer access-1', 'xero-tenant-id': TENANT, accept: 'application/json' },
    })
      .get('/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777')
      .reply(200, {
        Id: 'b8a1f5a1-0000-4000-8000-000000000000',
        Status: 'OK',
        ProviderName: 'crmflow',
        Contacts: [contact],
      });

    const thin = thinEvent(shared('webhook_contact_update.json'));
    const [event, ...rest] = await xero.enrich!(ctx, thin);

    expect(read.isDone()).toBe(true);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({ type: 'contact.updated', externalId: thin.externalId, occurredAt: thin.occurredAt });
    expect(event!.payload).toEqual({ tenantId: TENANT, ...contact, UpdatedDateUTC: '2017-08-21T20:49:04.227Z' });
    expect(stored.tokens).toMatchObject({
      access_token: 'access-1',
      refresh_token: 'rotated-1',
      expires_at: expect.any(String),
    });
  });

  it('reads invoices from /Invoices/{id}, never from the event resourceUrl', async () => {
    const { context: ctx } = live();
    const body = JSON.stringify({
      events: [
        {
          resourceUrl: 'https://attacker.example/api.xro/2.0/Invoices/a03ffcd2-5d91-4c7e-b483-318584e9e439',
          resourceId: 'a03ffcd2-5d91-4c7e-b483-318584e9e439',
          eventDateUtc: '2024-06-21T01:16:02.000',
          eventType: 'UPDATE',
          eventCategory: 'INVOICE',
          tenantId: TENANT,
          tenantType: 'ORGANISATION',
        },
      ],
    });
    nock(API, { reqheaders: { 'xero-tenant-id': TENANT } })
      .get('/api.xro/2.0/Invoices/a03ffcd2-5d91-4c7e-b483-318584e9e439')
      .reply(200, { Invoices: [sharedJson('invoice_INV-0006.json')] });

    const [event] = await xero.enrich!(ctx, thinEvent(Buffer.from(body)));

    expect(event).toMatchObject({
      type: 'invoice.updated',
      payload: { tenantId: TENANT, InvoiceNumber: 'INV-0006', FullyPaidOnDate: '2019-03-19T00:00:00.000Z' },
    });
  });

  it('drops the event when the object is gone (404)', async () => {
    const { context: ctx } = live();
    nock(API).get('/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777').reply(404, {});

    expect(await xero.enrich!(ctx, thinEvent(shared('webhook_contact_update.json')))).toEqual([]);
  });

  it('passes pulled events, which already carry the object, without calling the API', async () => {
    const full: ParsedEvent = {
      type: 'contact.updated',
      externalId: 'x',
      occurredAt: '2017-08-21T20:49:04.227Z',
      payload: { tenantId: TENANT, ContactID: 'c' },
    };
    expect(await xero.enrich!(live().context, full)).toEqual([full]);
  });
});

describe('xero contacts and invoices pulls', () => {
  const contacts = xero.pull!.contacts!;
  const contact = (id: string, updatedMs: number) => ({
    ContactID: id,
    Name: `Contact ${id}`,
    EmailAddress: `${id}@example.com`,
    UpdatedDateUTC: `/Date(${updatedMs}+0000)/`,
  });

  it('pages with If-Modified-Since until an empty page, then resumes from the newest change', async () => {
    const { context: ctx } = live();
    const since = '2025-03-01T00:00:00.000Z';
    const page = (n: number) =>
      nock(API, {
        reqheaders: { authorization: 'Bearer access-live', 'xero-tenant-id': TENANT, 'if-modified-since': since },
      })
        .get('/api.xro/2.0/Contacts')
        .query({ page: String(n), pageSize: '2', order: 'UpdatedDateUTC ASC' });
    page(1).reply(200, {
      Contacts: [
        contact('a', Date.parse('2025-03-02T10:00:00.250Z')),
        contact('b', Date.parse('2025-03-02T11:00:00.500Z')),
      ],
    });
    page(2).reply(200, { Contacts: [contact('c', Date.parse('2025-03-03T09:30:15.750Z'))] });
    page(3).reply(200, { Contacts: [] });

    const first = await contacts.list(ctx, null, { since: new Date(since), pageSize: 2 });
    expect(first.events.map(({ type, externalId, occurredAt }) => ({ type, externalId, occurredAt }))).toEqual([
      {
        type: 'contact.updated',
        externalId: `${TENANT}:a:UPDATE:2025-03-02T10:00:00.250Z`,
        occurredAt: '2025-03-02T10:00:00.250Z',
      },
      {
        type: 'contact.updated',
        externalId: `${TENANT}:b:UPDATE:2025-03-02T11:00:00.500Z`,
        occurredAt: '2025-03-02T11:00:00.500Z',
      },
    ]);
    expect(first.events[0]!.payload).toMatchObject({ tenantId: TENANT, ContactID: 'a', EmailAddress: 'a@example.com' });
    expect(first.nextCursor).toEqual({ modifiedSince: since, page: 2, newest: '2025-03-02T11:00:00.500Z' });

    const second = await contacts.list(ctx, first.nextCursor, { pageSize: 2 });
    expect(second.events).toHaveLength(1);

    const last = await contacts.list(ctx, second.nextCursor, { pageSize: 2 });
    expect(last).toEqual({
      events: [],
      nextCursor: null,
      resumeCursor: { modifiedSince: '2025-03-03T09:30:15.000Z', page: 1, newest: null },
    });
    expect(nock.isDone()).toBe(true);
  });

  it('resumes at the stored page after a crash and waits out a 429 Retry-After', async () => {
    const { context: ctx } = live();
    const cursor = { modifiedSince: '2025-03-01T00:00:00.000Z', page: 3, newest: '2025-03-02T00:00:00.000Z' };
    const throttled = nock(API)
      .get('/api.xro/2.0/Contacts')
      .query((query) => query.page === '3')
      .reply(429, '', { 'Retry-After': '0' });
    nock(API)
      .get('/api.xro/2.0/Contacts')
      .query((query) => query.page === '3')
      .reply(200, { Contacts: [contact('z', Date.parse('2025-03-04T00:00:00.000Z'))] });

    const page = await contacts.list(ctx, cursor, { pageSize: 100 });

    expect(throttled.isDone() && nock.isDone()).toBe(true);
    expect(page.nextCursor).toEqual({
      modifiedSince: cursor.modifiedSince,
      page: 4,
      newest: '2025-03-04T00:00:00.000Z',
    });
  });

  it('refreshes an expired access token during a pull and persists the rotated refresh token', async () => {
    const { context: ctx, stored } = context(
      { refresh_token: '' },
      { ...liveTokens, expires_at: '2000-01-01T00:00:00.000Z' },
    );
    nock(IDENTITY)
      .post('/connect/token', 'grant_type=refresh_token&refresh_token=rotated-1')
      .reply(200, { access_token: 'access-2', refresh_token: 'rotated-2', expires_in: 1800, token_type: 'Bearer' });
    nock(API, { reqheaders: { authorization: 'Bearer access-2' } })
      .get('/api.xro/2.0/Invoices')
      .query(true)
      .reply(200, { Invoices: [sharedJson('invoice_INV-0006.json')] });

    const page = await xero.pull!.invoices!.list(ctx, null, { pageSize: 100 });

    expect(page.events).toEqual([
      expect.objectContaining({
        type: 'invoice.updated',
        externalId: `${TENANT}:a03ffcd2-5d91-4c7e-b483-318584e9e439:UPDATE:2019-03-07T17:59:28.133Z`,
        occurredAt: '2019-03-07T17:59:28.133Z',
      }),
    ]);
    expect(stored.tokens).toMatchObject({ access_token: 'access-2', refresh_token: 'rotated-2' });
  });

  it('needs tenant_id', async () => {
    await expect(contacts.list(context({ tenant_id: '' }).context, null, { pageSize: 100 })).rejects.toThrow(
      /tenant_id/,
    );
  });
});
