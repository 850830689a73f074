import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { fixtureJson, useNock } from './helpers/vendor-api.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const QB_API = 'https://qb-deals.example';
const REALM = '1185883450';

useNock({ checkPending: false });

/** A classic QuickBooks change notification (ids only), signed with the Verifier Token. */
function notification(
  name: string,
  id: string,
  operation: string,
  lastUpdated: string,
): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    eventNotifications: [{ realmId: REALM, dataChangeEvent: { entities: [{ name, id, operation, lastUpdated }] } }],
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'intuit-signature': createHmac('sha256', SECRETS.QUICKBOOKS_VERIFIER_TOKEN!).update(body).digest('base64'),
    },
  };
}

describe('QuickBooks on the shipped workflows: an estimate opens a quote deal, its invoice paid wins it', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(SHIPPED),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { QUICKBOOKS_API_URL: QB_API },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('estimate → quote with its total; the paid invoice → won with the invoice amount; one deal', async () => {
    nock('https://oauth.platform.intuit.com').post('/oauth2/v1/tokens/bearer').reply(200, {
      access_token: 'qb-access',
      refresh_token: 'qb-refresh-2',
      expires_in: 3600,
      x_refresh_token_expires_in: 8726400,
      token_type: 'bearer',
    });
    const estimate = fixtureJson('quickbooks', 'entity_estimate_response.json');
    nock(QB_API).get(`/v3/company/${REALM}/estimate/177`).query(true).reply(200, estimate);
    const sent = notification('Estimate', '177', 'Create', '2015-03-26T13:25:05-0700');
    expect((await post(app, '/webhooks/quickbooks', sent.body, sent.headers)).status).toBe(202);

    const quote = await waitFor(
      'the quote deal',
      async () => ((await api(app, '/api/deals?pipeline=sales')).body.deals as Array<Record<string, unknown>>)[0],
    );
    expect(quote).toMatchObject({
      stage: 'quote',
      status: 'open',
      amount: 31.5,
      currency: 'USD',
      name: 'Estimate 1001',
    });

    // The invoice made from the estimate, for the same QuickBooks customer, paid in full.
    const invoice = fixtureJson('quickbooks', 'entity_invoice_response.json');
    Object.assign(invoice.Invoice, {
      Id: '178',
      DocNumber: '1002',
      CustomerRef: { value: '3', name: 'Cool Cars' },
      BillEmail: { Address: 'Cool_Cars@intuit.com' },
      TotalAmt: 35,
      Balance: 0,
      MetaData: { CreateTime: '2015-03-27T09:00:00-07:00', LastUpdatedTime: '2015-03-28T09:00:00-07:00' },
    });
    nock(QB_API).get(`/v3/company/${REALM}/invoice/178`).query(true).times(2).reply(200, invoice);
    const paid = notification('Invoice', '178', 'Update', '2015-03-28T09:00:00-0700');
    expect((await post(app, '/webhooks/quickbooks', paid.body, paid.headers)).status).toBe(202);
    await waitFor(
      'the win',
      async () => ((await api(app, `/api/deals/${quote.id}`)).body as { status: string }).status === 'won',
    );
    await waitFor(
      'every event processed',
      async () => (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status <> 'processed'")) === 0,
    );

    const deals = (await api(app, '/api/deals?pipeline=sales')).body.deals as Array<Record<string, unknown>>;
    expect(deals).toHaveLength(1);
    const won = (await api(app, `/api/deals/${quote.id}`)).body as {
      amount: number;
      close_reason: string;
      history: Array<{ to_stage: string }>;
    };
    expect(won).toMatchObject({ amount: 35, close_reason: 'invoice 1002 paid' });
    expect(won.history.map((row) => row.to_stage)).toEqual(['quote', 'won']);
  });
});
