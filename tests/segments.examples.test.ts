import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const DAY = 86_400_000;
/** The shipped file, as users copy it. */
const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');

describe('the shipped segment workflows (workflows.yaml): VIP to key accounts, win-back on their rhythm, birthday', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  // A Wednesday, 15:00 in New York: inside the `support` business hours the replies wait for.
  let clock = Date.parse('2027-03-10T20:00:00Z');
  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(SHIPPED), prefix: testPrefix(), smtpUrl: smtp.url }),
      undefined,
      () => new Date(clock),
    );
    await app.segments!.backfill;
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const order = async (id: number, customer: number, email: string, total: number, createdAt: number) => {
    const body = JSON.stringify({
      admin_graphql_api_id: `gid://shopify/Order/${id}`,
      name: `#${id}`,
      email,
      financial_status: 'paid',
      total_price: total.toFixed(2),
      current_total_price: total.toFixed(2),
      currency: 'USD',
      created_at: new Date(createdAt).toISOString(),
      updated_at: new Date(createdAt).toISOString(),
      customer: {
        admin_graphql_api_id: `gid://shopify/Customer/${customer}`,
        email,
        first_name: 'Kim',
        last_name: `Buyer${customer}`,
      },
      line_items: [],
    });
    expect(
      (await post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
    ).toBe(202);
  };
  const settled = () =>
    waitFor(
      'runs and engine events settled',
      async () =>
        (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'pending'")) === 0 &&
        (await count(db.pool, "SELECT 1 FROM engine_events WHERE status = 'pending'")) === 0 &&
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status IN ('queued', 'running')")) === 0,
    );
  const mailsTo = (address: string, subject: RegExp) =>
    smtp.messages.filter((mail) => mail.to.includes(address) && subject.test(mail.subject ?? ''));
  const runs = (workflow: string) =>
    count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = $1 AND status = 'succeeded'", [workflow]);

  it('vip: crossing 1,000 gives the customer to the key-accounts pool and tells the new owner, once', async () => {
    for (const [i, total] of [450, 300, 400].entries()) {
      await order(7001 + i, 701, 'kim@vip.example', total, clock - (30 + i * 30) * DAY); // newest first, one at a time
      await settled();
    }
    await waitFor('the key-account email', async () => mailsTo('dana@example.com', /New key account/).length === 1);
    const { rows } = await db.pool.query(
      "SELECT c.owner_agent_id FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE i.value = 'kim@vip.example'",
    );
    expect(rows).toEqual([{ owner_agent_id: 'dana' }]);
    expect(mailsTo('dana@example.com', /New key account/)[0]!.text).toContain('has now spent 1150 USD');
    expect(await runs('vip-key-account')).toBe(1);
  });

  it('win-back: an offer once the sweep finds them past 1.5 × their own rhythm', async () => {
    // Every 30 days, the last 40 days ago: lapsing in 5 days. Delivered newest first.
    for (const [i, days] of [40, 70, 100].entries()) {
      await order(7101 + i, 702, 'lee@lapse.example', 30, clock - days * DAY);
      await settled(); // one at a time: the 70- and 100-day-old orders alone would be a lapse
    }
    expect(await app.segments!.sweep()).toBe(0);
    expect(await runs('win-back')).toBe(0);
    clock += 6 * DAY; // Tuesday 16:00 in New York
    expect(await app.segments!.sweep()).toBeGreaterThanOrEqual(1);
    await settled();
    await waitFor('the win-back email', async () => mailsTo('lee@lapse.example', /We miss you/).length === 1);
    expect(await app.segments!.sweep()).toBe(0);
    expect(await runs('win-back')).toBe(1);
  });

  it('birthday: the form keeps the birth date; the audience tick greets them on the day', async () => {
    const day = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'America/New_York',
      month: '2-digit',
      day: '2-digit',
    }).format(new Date(clock));
    const body = JSON.stringify({
      submission_id: 'bday-1',
      name: 'Bo Birthday',
      email: 'bo@bday.example',
      birthday: `1990-${day}`,
    });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    await settled();
    const jobId = 'test-birthday-tick';
    await app.queue.add(
      'schedule',
      { kind: 'schedule', workflow: 'birthday', tick: new Date(clock).toISOString() },
      { jobId },
    );
    await waitFor('the birthday tick', async () => (await app.queue.getJobState(jobId)) === 'completed');
    await waitFor('the birthday email', async () => mailsTo('bo@bday.example', /Happy birthday, Bo/).length === 1);
    expect(
      (
        await db.pool.query(
          "SELECT c.traits->'birthday_month' AS month FROM customers c JOIN customer_identities i ON i.customer_id = c.id WHERE i.value = 'bo@bday.example'",
        )
      ).rows,
    ).toEqual([{ month: Number(day.slice(0, 2)) }]);
  });
});
