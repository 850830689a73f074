import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_VARS } from '../src/config/env.js';
import { createLogger } from '../src/config/logger.js';
import { hashPassword } from '../src/dashboard/auth.js';
import { startCrmflow, type Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/**
 * The example, plus an enabled Shopify pull against a fake Admin API that fails (its error path is logged), and http
 * steps that send a secret header to a hook that echoes it back (in its answer, and in a refusal that becomes the
 * run's error), one of them at a URL that is itself a secret (a Slack-style webhook URL from an undeclared variable).
 */
const config = (shop: string) => `${readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8')}
  - id: leaky-poll
    trigger: { type: poll, connector: shopify, resource: customers, every: 1h }
    steps: [{ type: map }, { type: upsert_customer }]
  - id: leaky-http
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "$not(shared_secret = '\${SHOPIFY_ACCESS_TOKEN}')" }
    steps:
      - { id: echo, type: http, url: "${shop}/echo", headers: { X-Shopify-Access-Token: "\${SHOPIFY_ACCESS_TOKEN}" } }
      - { id: refused, type: http, url: "\${CRM_HOOK_URL}/refuse", headers: { X-Shopify-Access-Token: "\${SHOPIFY_ACCESS_TOKEN}" } }
`;
const run = randomBytes(4).toString('hex');
/** A distinctive value for every secret crmflow reads: none may show up anywhere a person or another program can see. */
const SECRET_VALUES: Record<string, string> = Object.fromEntries(
  ENV_VARS.filter((spec) => spec.secret).map((spec) => [
    spec.name,
    `sekrit-${spec.name.toLowerCase().replaceAll('_', '-')}-${run}`,
  ]),
);
// A mailbox list is a URL list: its password is the needle, in a mailbox crmflow fails to reach (errors get logged).
const MAILBOX_PASSWORD = `sekrit-mailbox-password-${run}`;
SECRET_VALUES.EMAIL_MAILBOXES = `sales=imaps://sales%40shop.example:${MAILBOX_PASSWORD}@127.0.0.1:9`;
const PASSWORD = `sekrit-dashboard-password-${run}`;
/** A webhook URL whose path is the credential, from a variable crmflow does not declare. */
const HOOK_SECRET = `sekrit-hook-path-${run}`;
/** Everything that must never be shown: the configured secrets, a secret URL, a mailbox password and a dashboard password. */
const NEEDLES = {
  ...SECRET_VALUES,
  CRM_HOOK_URL: HOOK_SECRET,
  EMAIL_MAILBOX_PASSWORD: MAILBOX_PASSWORD,
  DASHBOARD_PASSWORD: PASSWORD,
};

function leaks(where: string, text: string): string[] {
  return Object.entries(NEEDLES).flatMap(([name, value]) => (text.includes(value) ? [`${name} in ${where}`] : []));
}

/**
 * A Shopify Admin API stand-in that answers 500 and remembers what it was sent; also a hook that echoes the headers it
 * received (`/echo` with 200, `/hooks/...` with a 400).
 */
async function startFailingShop(): Promise<{
  url: string;
  requests: IncomingHttpHeaders[];
  close: () => Promise<void>;
}> {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    if (req.url === '/echo')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ received: req.headers }));
    if (req.url?.startsWith('/hooks/'))
      return void res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ refused: req.headers }));
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":"Internal Server Error"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('secrets never leak: logs, API answers, stored records, dashboard pages', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let shop: Awaited<ReturnType<typeof startFailingShop>>;
  let app: Crmflow;
  const logLines: string[] = [];

  const api = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${app.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${SECRET_VALUES.CRMFLOW_API_TOKEN}`, ...(init.headers ?? {}) },
    });
    return { status: response.status, text: await response.text() };
  };
  const post = (path: string, body: Buffer | string, headers: Record<string, string>) =>
    fetch(`${app.url}${path}`, {
      method: 'POST',
      body: typeof body === 'string' ? body : new Uint8Array(body),
      headers,
    });

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    shop = await startFailingShop();
    const env = {
      ...testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(config(shop.url)),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: {
          CRMFLOW_USERS: `ana:admin:${hashPassword(PASSWORD)}`,
          SHOPIFY_API_URL: shop.url,
          CRM_HOOK_URL: `${shop.url}/hooks/${HOOK_SECRET}`,
          CRMFLOW_HTTP_ALLOW_HOSTS: new URL(shop.url).host,
          CRMFLOW_JOB_ATTEMPTS: '2',
          CRMFLOW_JOB_BACKOFF_MS: '50',
        },
      }),
      ...SECRET_VALUES,
      LOG_LEVEL: 'debug',
    };
    // Every line any part of crmflow logs, at debug level, through the real logger and its redaction.
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logLines.push(chunk.toString('utf8'));
        callback();
      },
    });
    app = await startCrmflow({
      env,
      roles: { api: true, worker: true, scheduler: true },
      logger: createLogger({ level: 'debug', destination }),
      reconciler: { intervalMs: 500, graceMs: 500 },
    });
  });
  afterAll(async () => {
    await app?.close();
    await shop?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('a signed order and lead run with an email reply, a failing pull, bad signatures and sign-ins: nothing shows a secret', async () => {
    // Work that uses the secrets: signature checks, an SMTP reply, an Admin API pull with the access token.
    const order = fixtureBytes('shopify', 'orders_create.json');
    expect(
      (await post('/webhooks/shopify', order, shopifyHeaders(order, SECRET_VALUES.SHOPIFY_WEBHOOK_SECRET!))).status,
    ).toBe(202);
    const lead = JSON.stringify({
      submission_id: `s-${run}`,
      name: 'Maria Garcia',
      email: 'maria@example.com',
      message: 'Hola',
    });
    expect((await post('/webhooks/form', lead, formHeaders(lead, SECRET_VALUES.FORM_WEBHOOK_SECRET!))).status).toBe(
      202,
    );
    // Refused deliveries and sign-ins are logged too.
    expect((await post('/webhooks/shopify', order, shopifyHeaders(order, 'a-wrong-secret'))).status).toBe(401);
    expect(
      (
        await post('/webhooks/form', lead, {
          ...formHeaders(lead, 'wrong'),
          'x-crmflow-signature': `sha256=${SECRET_VALUES.FORM_WEBHOOK_SECRET}`,
        })
      ).status,
    ).toBe(401);
    const token = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: `${SECRET_VALUES.CRMFLOW_API_TOKEN}x` }),
    });
    expect(token.status).toBe(401);
    const wrong = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: 'ana', password: `${PASSWORD}x` }),
    });
    expect(wrong.status).toBe(401);
    expect((await api('/api/workflows/leaky-poll/poll', { method: 'POST' })).status).toBe(202);

    await waitFor('both runs to succeed', async () => {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'succeeded'`,
      );
      return rows[0]!.n >= 2;
    });
    // The hook got the token and echoed it back, in an answer (output) and in a refusal (the run's error).
    const leakyRun = await waitFor('the leaky http run to fail on the refusing hook', async () => {
      const { rows } = await db.pool.query<{ error: string }>(
        `SELECT error FROM workflow_runs WHERE workflow = 'leaky-http' AND status = 'failed'`,
      );
      return rows[0];
    });
    expect(leakyRun.error).toContain('[redacted]');
    expect(
      shop.requests.filter((headers) => headers['x-shopify-access-token'] === SECRET_VALUES.SHOPIFY_ACCESS_TOKEN)
        .length,
    ).toBeGreaterThanOrEqual(3);
    await waitFor('the emails', async () => smtp.messages.length >= 2);
    await waitFor('the pull to reach the shop with the access token', async () =>
      shop.requests.some((headers) => JSON.stringify(headers).includes(SECRET_VALUES.SHOPIFY_ACCESS_TOKEN!)),
    );
    // The failed pull's reason and stack trace stay in Redis, where bull-board shows them.
    const failedPulls = await waitFor('the pull job to fail', async () => {
      const jobs = await app.queue.getJobs(['failed', 'delayed', 'wait']);
      const failed = jobs.filter((job) => job.data.kind === 'pull' && job.failedReason);
      return failed.length > 0 && failed;
    });

    // The dashboard, as an admin signed in with the password.
    const signIn = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: 'ana', password: PASSWORD }),
    });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const page = async (path: string) => {
      const response = await fetch(`${app.url}${path}`, { headers: { cookie }, redirect: 'manual' });
      expect(response.status, path).toBe(200);
      return response.text();
    };

    const found: string[] = [];
    const runs = JSON.parse((await api('/api/runs?limit=500')).text) as { runs: Array<{ id: number }> };
    const customers = JSON.parse((await api('/api/customers?q=a')).text) as { customers: Array<{ id: number }> };
    expect(runs.runs.length).toBeGreaterThanOrEqual(2);
    const apiPaths = [
      '/api/customers?email=jon@example.com',
      '/api/customers?q=Maria',
      '/api/runs?limit=500',
      '/api/messages',
      '/api/workflows',
      '/api/agents',
      '/api/audit',
      '/api/openapi.json',
    ];
    for (const { id } of runs.runs) apiPaths.push(`/api/runs/${id}`);
    for (const { id } of customers.customers) apiPaths.push(`/api/customers/${id}`);
    for (const path of apiPaths) {
      const answer = await api(path);
      expect(answer.status, path).toBe(200);
      found.push(...leaks(`GET ${path}`, answer.text));
    }
    const pages = [
      '/',
      '/runs',
      '/customers?q=maria@example.com',
      '/workflows',
      '/audit',
      '/admin/queues',
      ...runs.runs.map(({ id }) => `/runs/${id}`),
    ];
    for (const { id } of customers.customers) pages.push(`/customers/${id}`);
    for (const path of pages) found.push(...leaks(`page ${path}`, await page(path)));
    // bull-board's own API: job data, failure reasons and stack traces of every state.
    let boards = '';
    for (const status of ['latest', 'failed', 'completed', 'delayed']) {
      const path = `/admin/queues/api/queues?activeQueue=${encodeURIComponent(app.queue.name)}&status=${status}&page=1`;
      const board = await page(path);
      boards += board;
      found.push(...leaks(`bull-board ${path}`, board));
    }
    expect(boards).toContain(failedPulls[0]!.failedReason);
    found.push(
      ...leaks(
        'the failed pull jobs in Redis',
        JSON.stringify(failedPulls.map((job) => ({ ...job.asJSON(), stacktrace: job.stacktrace }))),
      ),
    );
    found.push(...leaks('the login page', await (await fetch(`${app.url}/login`)).text()));
    found.push(...leaks('the set-cookie header', signIn.headers.get('set-cookie')!));

    // Every table, every row, as JSON text.
    const { rows: tables } = await db.pool.query<{ name: string }>(
      `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`,
    );
    expect(tables.map((table) => table.name)).toEqual(
      expect.arrayContaining(['audit_log', 'inbox_events', 'workflow_runs', 'outbound_messages']),
    );
    for (const { name } of tables) {
      const { rows } = await db.pool.query<{ dump: string | null }>(
        `SELECT json_agg(t)::text AS dump FROM "${name.replaceAll('"', '""')}" t`,
      );
      found.push(...leaks(`table ${name}`, rows[0]!.dump ?? ''));
    }
    for (const message of smtp.messages) found.push(...leaks(`email to ${message.to.join(',')}`, message.raw));

    const logs = logLines.join('');
    // The capture works: the refused deliveries and sign-ins (which carried wrong secrets) are in it.
    expect(logs).toContain('webhook rejected: bad signature');
    expect(logs).toContain('dashboard sign-in failed');
    found.push(...leaks('the logs', logs));
    expect(found).toEqual([]);
  });
});
