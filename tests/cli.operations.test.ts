import { PassThrough } from 'node:stream';
import nock from 'nock';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfill, progressLine } from '../src/cli/backfill.js';
import { doctor } from '../src/cli/doctor.js';
import { replay } from '../src/cli/replay.js';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, REDIS_URL, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { freePort } from './helpers/net.js';
import { fixtureBytes, formHeaders } from './helpers/sign.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const SHOP = 'https://ops-shop.myshopify.com';
const TWILIO = 'https://twilio.test';
const silent = pino({ level: 'silent' });

const CONFIG = `
connectors:
  shopify: { secrets: { webhook_secret: x, access_token: shpat_ops } }
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  twilio: { secrets: { account_sid: ACops, auth_token: wrong-token } }
workflows:
  - id: orders
    trigger: { type: webhook, connector: shopify, event: [order.created, order.updated] }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: crm-sync
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { id: push, type: http, url: "https://crm.example/leads", body: '{ "email": $customer.email }' }
`;

useNock({ checkPending: false });

describe('operator commands', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let configPath: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    configPath = writeConfig(CONFIG);
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath,
        prefix: testPrefix(),
        extra: { SHOPIFY_API_URL: SHOP, TWILIO_API_URL: TWILIO },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('doctor pinpoints a wrong DATABASE_URL, a stopped Redis and a refused connector secret, one line each', async () => {
    nock(TWILIO)
      .get('/2010-04-01/Accounts/ACops.json')
      .reply(401, { code: 20003, message: 'Authenticate', status: 401 });
    nock(SHOP)
      .get('/admin/api/2024-10/shop.json')
      .reply(200, { shop: { name: 'Ops Shop', myshopify_domain: 'ops-shop.myshopify.com' } });
    const env = {
      ...SECRETS,
      NODE_ENV: 'production',
      CRMFLOW_CONFIG: configPath,
      DATABASE_URL: `postgres://crmflow:s3cret@127.0.0.1:${await freePort()}/crmflow`,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      SMTP_URL: `smtp://127.0.0.1:${await freePort()}`,
      SHOPIFY_API_URL: SHOP,
      TWILIO_API_URL: TWILIO,
    };
    const findings = await doctor(env, silent);
    const failed = findings.filter((finding) => !finding.ok).map((finding) => finding.line);
    expect(failed).toEqual([
      expect.stringMatching(
        /^PostgreSQL at postgres:\/\/crmflow:\*\*\*@127\.0\.0\.1:\d+\/crmflow: .*ECONNREFUSED.* — check DATABASE_URL/,
      ),
      expect.stringMatching(/^Redis at redis:\/\/127\.0\.0\.1:\d+: nothing answers — start it .* or fix REDIS_URL$/),
      expect.stringMatching(/^SMTP at smtp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED.* — check SMTP_URL/),
      expect.stringMatching(
        /^connector twilio: .*401.* — the credentials were refused — check connectors\.twilio\.secrets/,
      ),
    ]);
    expect(failed.join('\n')).not.toContain('s3cret');
    expect(findings.find((finding) => finding.line.startsWith('connector shopify'))).toEqual({
      ok: true,
      line: 'connector shopify: shop "Ops Shop" (ops-shop.myshopify.com)',
    });
    expect(findings.some((finding) => finding.ok && finding.line.startsWith('configuration'))).toBe(true);

    const healthy = await doctor(
      { ...env, DATABASE_URL: db.url, REDIS_URL, SMTP_URL: '', NODE_ENV: 'development' },
      silent,
    );
    expect(
      healthy
        .filter((finding) => finding.line.startsWith('PostgreSQL') || finding.line.startsWith('Redis'))
        .every((finding) => finding.ok),
    ).toBe(true);
  });

  it('backfill pulls history with a progress bar, into the inbox, where the workflows pick it up', async () => {
    const sample = JSON.parse(fixtureBytes('shopify', 'orders_create.json').toString('utf8'));
    const order = (n: number, updatedAt: string) => ({
      ...sample,
      admin_graphql_api_id: `gid://shopify/Order/900${n}`,
      email: `history${n}@ops.example`,
      customer: {
        ...sample.customer,
        email: `history${n}@ops.example`,
        admin_graphql_api_id: `gid://shopify/Customer/900${n}`,
      },
      updated_at: updatedAt,
    });
    const next = `${SHOP}/admin/api/2024-10/orders.json?limit=2&page_info=b2s`;
    nock(SHOP)
      .get('/admin/api/2024-10/orders.json')
      .query((query) => query.updated_at_min === '2026-11-13T12:00:00.000Z')
      .reply(
        200,
        { orders: [order(1, '2026-11-15T12:00:00Z'), order(2, '2026-11-18T12:00:00Z')] },
        { Link: `<${next}>; rel="next"` },
      )
      .get('/admin/api/2024-10/orders.json')
      .query({ limit: '2', page_info: 'b2s' })
      .reply(200, { orders: [order(3, '2026-11-23T11:00:00Z')] });
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const now = Date.parse('2026-11-23T12:00:00Z');
    const result = await backfill(app, {
      connector: 'shopify',
      resource: 'orders',
      since: '10d',
      pageSize: 2,
      out,
      logger: silent,
      now: () => now,
    });
    expect(result).toMatchObject({ pages: 2, received: 3, stored: 3 });
    const lines = printed.trim().split('\n');
    expect(lines[0]).toMatch(/^\[#{12}\.{12}\] 50% · 1 pages · 2 records \(2 new\) · /);
    expect(lines[1]).toMatch(/^\[#{24}\] 100% · 2 pages · 3 records \(3 new\) · .* · ETA \d+s$/);
    expect(lines[2]).toBe(
      'backfill of shopify orders since 2026-11-13T12:00:00.000Z: 3 records in 2 pages, 3 new, queued for the workers',
    );
    await waitFor(
      'the backfilled orders processed',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'orders' AND status = 'succeeded'")) === 3,
    );
    expect(
      progressLine({ pages: 0, received: 0, stored: 0, skipped: 0, ran: true }, new Date(now - 1000), now, now),
    ).toContain('ETA ?');
  });

  it('replay runs failed events through the current workflows again, as new runs', async () => {
    nock('https://crm.example').post('/leads').reply(422, { error: 'bad' });
    const body = JSON.stringify({ submission_id: 'replay-1', email: 'again@ops.example' });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    await waitFor(
      'the run to fail',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'crm-sync' AND status = 'failed'")) === 1,
    );

    const dry = await replay(app, { since: '1h', workflow: 'crm-sync', status: 'failed', dryRun: true });
    expect(dry.events).toBe(1);
    const pushed = nock('https://crm.example').post('/leads', { email: 'again@ops.example' }).reply(200, { ok: true });
    const replayed = await replay(app, { since: '1h', workflow: 'crm-sync', status: 'failed' });
    expect(replayed.events).toBe(1);
    await waitFor(
      'the replayed run to succeed',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'crm-sync' AND status = 'succeeded'")) ===
        1,
    );
    expect(pushed.isDone()).toBe(true);
    const { rows } = await db.pool.query(
      "SELECT trigger_key, status FROM workflow_runs WHERE workflow = 'crm-sync' ORDER BY id",
    );
    expect(rows).toEqual([
      { trigger_key: expect.stringMatching(/^inbox:\d+$/), status: 'failed' },
      { trigger_key: expect.stringMatching(new RegExp(`^inbox:\\d+@${replayed.name}$`)), status: 'succeeded' },
    ]);
    await expect(replay(app, { workflow: 'nope' })).rejects.toThrow('no workflow "nope"');
    // Operators' commands are human actions: audited, a dry run is not.
    const audit = await db.pool.query(
      "SELECT actor, action, target, details FROM audit_log WHERE action LIKE 'events.%' ORDER BY id",
    );
    expect(audit.rows).toEqual([
      {
        actor: expect.stringMatching(/^cli:/),
        action: 'events.backfill',
        target: 'connector:shopify',
        details: expect.objectContaining({ resource: 'orders' }),
      },
      {
        actor: expect.stringMatching(/^cli:/),
        action: 'events.replay',
        target: 'workflow:crm-sync',
        details: expect.objectContaining({ events: 1, status: 'failed' }),
      },
    ]);
  });
});
