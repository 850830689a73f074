import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** The shipped example workflows.yaml, exactly as a new user runs it. */
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');

describe('a signed webhook in, one customer record out (example workflows.yaml)', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('creates the customer, records the order, assigns an owner and emails the customer once', async () => {
    const body = fixtureBytes('shopify', 'orders_create.json');
    const response = await post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET));
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ received: 1, stored: 1, duplicates: 0 });

    await waitFor('the reply email', async () => smtp.messages.length === 1);
    const found = await api(app, '/api/customers?email=JON@example.com');
    expect(found.status).toBe(200);
    expect(found.body.customers).toHaveLength(1);
    // The lookup alone shows it all: owner, order on the timeline, the reply.
    expect(found.body.customers[0]).toMatchObject({
      owner_agent_id: 'alice',
      timeline: [expect.objectContaining({ type: 'order.created' })],
      messages: [expect.objectContaining({ channel: 'email', status: 'sent' })],
    });
    const detail = await api(app, `/api/customers/${found.body.customers[0].id}`);
    expect(detail.body).toMatchObject({
      first_name: 'John',
      last_name: 'Smith',
      owner_agent_id: 'alice',
      lifecycle_stage: 'lead',
    });
    expect(
      detail.body.identities
        .map((identity: { kind: string; value: string }) => `${identity.kind}:${identity.value}`)
        .sort(),
    ).toEqual(['email:john@example.com', 'email:jon@example.com', 'shopify_customer:115310627314723954']);
    expect(detail.body.timeline).toHaveLength(1);
    expect(detail.body.timeline[0]).toMatchObject({
      source: 'shopify',
      type: 'order.created',
      external_id: 'order/820982911946154508',
    });
    expect(detail.body.timeline[0].data).toMatchObject({ total_price: 404.95, currency: 'USD' });
    expect(detail.body.assignments).toEqual([
      expect.objectContaining({ agent_id: 'alice', pool: 'sales', strategy: 'round_robin' }),
    ]);
    expect(detail.body.messages).toEqual([
      expect.objectContaining({ channel: 'email', status: 'sent', recipient: 'jon@example.com' }),
    ]);

    const email = smtp.messages[0]!;
    expect(email.to).toEqual(['jon@example.com']);
    expect(email.subject).toBe('Thank you for your order #9999');
    expect(email.text).toContain('Hi John,');
    expect(email.text).toContain('Alice Martin is your contact');
    expect(email.messageId).toMatch(/@crmflow>$/);

    const runs = await api(app, '/api/runs?workflow=shopify-order');
    expect(runs.body.runs).toHaveLength(1);
    const run = await api(app, `/api/runs/${runs.body.runs[0].id}`);
    expect(run.body.status).toBe('succeeded');
    // The event's only run marked it processed with its own end: one statement, so one transaction time.
    const inbox = await db.pool.query(
      `SELECT i.status, i.processed_at = r.finished_at AS with_the_run FROM inbox_events i
       JOIN workflow_runs r ON r.inbox_event_id = i.id WHERE r.id = $1`,
      [run.body.id],
    );
    expect(inbox.rows).toEqual([{ status: 'processed', with_the_run: true }]);
    expect(run.body.steps.map((step: { type: string; status: string }) => `${step.type}:${step.status}`)).toEqual([
      'map:succeeded',
      'upsert_customer:succeeded',
      'timeline:succeeded',
      'assign_lead:succeeded',
      'close_deal:succeeded',
      'reply:succeeded',
    ]);
    // The order came first: its deal opens already won, with the order's amount, owned by the new owner.
    const deals = await db.pool.query(
      'SELECT stage, status, amount::float AS amount, currency, owner_agent_id, name FROM deals WHERE customer_id = $1',
      [detail.body.id],
    );
    expect(deals.rows).toEqual([
      { stage: 'won', status: 'won', amount: 404.95, currency: 'USD', owner_agent_id: 'alice', name: 'Order #9999' },
    ]);
    expect(run.body.steps.every((step: { duration_ms: number }) => step.duration_ms >= 0)).toBe(true);
  });

  it('runs a redelivered event once: same customer, one timeline entry, one email', async () => {
    const body = fixtureBytes('shopify', 'orders_create.json');
    // The workflow the example starts on an order (customer, timeline, owner, deal, thank-you) ran once already.
    const runs = await count(db.pool, 'SELECT 1 FROM workflow_runs');
    const again = await post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET));
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ received: 1, stored: 0, duplicates: 1 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs')).toBe(runs);
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'shopify-order'")).toBe(1);
    expect(await count(db.pool, 'SELECT 1 FROM timeline_events')).toBe(1);
    expect(smtp.messages).toHaveLength(1);
  });

  it('rounds robin across the pool for new leads and keeps the owner of a known customer', async () => {
    const lead = (n: number, email: string) => JSON.stringify({ submission_id: `rr-${n}`, name: `Lead ${n}`, email });
    // One at a time, so the round-robin order is the arrival order.
    for (const [n, email] of [
      [1, 'a@leads.example'],
      [2, 'b@leads.example'],
      [3, 'a@leads.example'],
    ] as const) {
      const body = lead(n, email);
      expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(
        202,
      );
      await waitFor(
        `lead ${n} run`,
        async () =>
          (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'web-lead' AND status = 'succeeded'")) ===
          n,
      );
    }
    const { rows } = await db.pool.query(
      `SELECT i.value, c.owner_agent_id FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE i.value LIKE '%@leads.example' ORDER BY i.value`,
    );
    // alice took the Shopify customer; the pool continues with bob and carol; the returning lead keeps bob.
    expect(rows).toEqual([
      { value: 'a@leads.example', owner_agent_id: 'bob' },
      { value: 'b@leads.example', owner_agent_id: 'carol' },
    ]);
    expect(await count(db.pool, "SELECT 1 FROM lead_assignments WHERE pool = 'sales'")).toBe(3);
  });

  it('accepts urlencoded form posts', async () => {
    const body = 'submission_id=urlenc-1&name=Una+Form&email=una%40leads.example&phone=%2B44+20+7946+0958';
    const response = await post(
      app,
      '/webhooks/form',
      body,
      formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET, 'application/x-www-form-urlencoded'),
    );
    expect(response.status).toBe(202);
    const customer = await waitFor(
      'the urlencoded lead',
      async () => (await api(app, '/api/customers?phone=%2B442079460958')).body.customers[0],
    );
    expect(customer).toMatchObject({ name: 'Una Form', email: 'una@leads.example', phone: '+442079460958' });
  });

  describe('bad input gets a clear error and changes nothing', () => {
    const storedRows = () => count(db.pool, 'SELECT 1 FROM inbox_events');

    it('401 for a tampered, wrong or missing signature', async () => {
      const before = await storedRows();
      const body = fixtureBytes('shopify', 'orders_create.json');
      const headers = shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET);
      const tampered = Buffer.from(body.toString('utf8').replace('"total_price": "404.95"', '"total_price": "0.01"'));
      for (const [payload, sent] of [
        [tampered, headers],
        [body, shopifyHeaders(body, 'not-the-secret')],
        [body, { ...headers, 'x-shopify-hmac-sha256': '' }],
      ] as const) {
        const response = await post(app, '/webhooks/shopify', payload, sent);
        expect(response.status).toBe(401);
        expect(response.body.error).toMatchObject({
          code: 'bad_signature',
          message: expect.stringContaining('signature'),
        });
      }
      expect(await storedRows()).toBe(before);
    });

    it('400 for a malformed body, with the reason', async () => {
      const before = await storedRows();
      const body = '{"email": "half@json.example", ';
      const response = await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/not valid JSON/);
      const invalidUtf8 = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
      const bad = await post(app, '/webhooks/form', invalidUtf8, formHeaders(invalidUtf8, SECRETS.FORM_WEBHOOK_SECRET));
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/UTF-8/);
      expect(await storedRows()).toBe(before);
    });

    it('413 for a body over 1 MB', async () => {
      const body = JSON.stringify({ email: 'big@example.com', padding: 'x'.repeat(1024 * 1024) });
      const response = await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
      expect(response.status).toBe(413);
      expect(response.body.error.code).toBe('payload_too_large');
    });

    it('404 for an unknown connector', async () => {
      const response = await post(app, '/webhooks/nosuchvendor', '{}', { 'content-type': 'application/json' });
      expect(response.status).toBe(404);
      expect(response.body.error).toMatchObject({
        code: 'unknown_connector',
        message: expect.stringContaining('nosuchvendor'),
      });
    });

    it('401 for the API without the token', async () => {
      const response = await fetch(`${app.url}/api/customers`);
      expect(response.status).toBe(401);
      expect((await response.json()).error.code).toBe('unauthorized');
    });
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ postgres: 'ok', redis: 'ok' });
  });
});
