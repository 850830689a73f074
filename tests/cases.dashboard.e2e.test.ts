import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PASSWORD = 'carol-support-password-for-the-browser';

describe('the Cases pages in headless Chromium, with the shipped workflows', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(SHIPPED),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_USERS: `carol:support:${hashPassword(PASSWORD)}` },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    context = await launchChromium(profile, {
      viewport: { width: 390, height: 844 },
      locale: 'en-US',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('a support user answers a case (the first-response clock stops) and resolves it; the rating link records one answer', async () => {
    const lead = JSON.stringify({
      submission_id: 'e2e-complaint',
      type: 'complaint',
      form: 'Contact',
      name: 'Rosa Diaz',
      email: 'rosa@example.com',
      message: 'My parcel never arrived',
    });
    expect((await post(app, '/webhooks/form', lead, formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    const opened = await waitFor('the case', async () => (await api(app, '/api/cases')).body.cases[0]);
    expect(opened.owner_agent_id).toBe('carol');
    await waitFor('the acknowledgement', async () =>
      smtp.messages.some((message) => message.to.includes('rosa@example.com')),
    );

    await page.goto(`${app.url}/cases`);
    await page.getByLabel('User name').fill('carol');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/cases`);
    // Carol's own queue ("Mine") holds her case, with the time left to answer.
    const row = page.locator(`#cases-table tr[data-case="${opened.id}"]`);
    await expect.poll(() => row.textContent()).toContain('answer:');
    await page.getByRole('link', { name: 'My pool' }).click();
    await row.waitFor();

    await row.getByRole('link', { name: `#${opened.id}`, exact: true }).click();
    await page.waitForURL(`${app.url}/cases/${opened.id}`);
    expect(await page.locator('#first-response').textContent()).toContain('left');
    await page.getByLabel(/Reply to the customer/).fill('So sorry, Rosa: a new parcel leaves today.');
    await page.getByRole('button', { name: 'Send reply' }).click();
    await page.waitForURL(/notice=replied/);
    expect(await page.locator('#first-response').textContent()).toContain('answered');
    expect(await page.locator('#case-thread li[data-kind="reply"]').textContent()).toContain('carol');
    const reply = await waitFor('the reply email', async () =>
      smtp.messages.find((message) => message.text.includes('a new parcel leaves today')),
    );
    expect(reply.subject).toBe(`Re: [Case #${opened.id}] Complaint: My parcel never arrived`);
    const { body: answered } = await api(app, `/api/cases/${opened.id}`);
    expect(answered).toMatchObject({ first_responded_by: 'carol', first_response_due_at: null });
    // Her reply is a contact by a person (the SLA and speed to lead count it); the automated answers before it are not.
    const { rows: sentBy } = await db.pool.query<{ agent_id: string | null }>(
      "SELECT agent_id FROM outbound_messages WHERE recipient = 'rosa@example.com' AND status = 'sent' ORDER BY id",
    );
    expect(sentBy.map((row) => row.agent_id)).toEqual([...sentBy.slice(1).map(() => null), 'carol']);

    await page.getByLabel('Status').selectOption('resolved');
    await page.getByRole('button', { name: 'Set status' }).click();
    await page.waitForURL(/notice=status/);
    expect(await page.locator('#case-status').textContent()).toContain('resolved');
    expect(
      await count(db.pool, "SELECT 1 FROM audit_log WHERE actor = 'carol' AND action IN ('case.reply', 'case.status')"),
    ).toBe(2);

    // The satisfaction question: one click on "4" records it; clicking it again counts once; "5" changes the answer.
    const question = await waitFor('the rating question', async () =>
      smtp.messages.find((message) => /How satisfied/.test(message.text)),
    );
    const links = [...question.text.matchAll(/(\d)\/5: (\S+)/g)].map((match) => new URL(match[2]!).pathname);
    expect(links).toHaveLength(5);
    for (let click = 0; click < 2; click++) {
      await page.goto(`${app.url}${links[3]}`);
      await page.getByRole('heading', { name: 'Thank you' }).waitFor();
    }
    expect((await db.pool.query('SELECT score, changed_count FROM feedback')).rows).toEqual([
      { score: 4, changed_count: 0 },
    ]);
    await page.goto(`${app.url}${links[4]}`);
    await page.getByRole('heading', { name: 'Thank you' }).waitFor();
    // A forged link (another score under the same signature) and an altered one change nothing.
    const [payload, signature] = links[0]!.split('/').at(-1)!.split('.');
    const forged = Buffer.from(Buffer.from(payload!, 'base64url').toString('utf8').replace(/,1,/, ',2,')).toString(
      'base64url',
    );
    expect((await post(app, `/feedback/${forged}.${signature}`, '', {})).status).toBe(404);
    expect((await post(app, `/feedback/${payload}.${signature!.slice(0, -2)}AA`, '', {})).status).toBe(404);
    expect((await db.pool.query('SELECT score, changed_count, case_id FROM feedback')).rows).toEqual([
      { score: 5, changed_count: 1, case_id: opened.id },
    ]);
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'feedback.received'")).toBe(0); // nobody listens in the shipped file

    await page.goto(`${app.url}/cases/${opened.id}`);
    expect(await page.locator('#case-csat').textContent()).toBe('5/5');
    await page.goto(`${app.url}/customers/${opened.customer_id}`);
    expect(await page.locator('#cases-table').textContent()).toContain(`#${opened.id}`);
    expect(await page.locator('body').textContent()).toContain('CSAT 5/5');
    // The reports' figures of the last 30 days: one case, answered in time, rated 5.
    await page.goto(`${app.url}/cases?queue=all`);
    const figures = page.locator('#case-figures');
    await expect.poll(() => figures.locator('div', { hasText: 'CSAT' }).locator('dd').textContent()).toContain('5.0/5');
    expect(await figures.locator('div', { hasText: 'First-response breaches' }).locator('dd').textContent()).toBe('0%');
    expect(await figures.locator('div', { hasText: 'Opened' }).locator('dd').textContent()).toBe('1');
    expect(
      await figures.locator('div', { hasText: 'Median first response' }).locator('dd').textContent(),
    ).not.toContain('—');
    expect(problems).toEqual([]);
  }, 90_000);
});
