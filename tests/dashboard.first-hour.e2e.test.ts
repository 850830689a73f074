import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR, submitLead } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

const PASSWORD = 'support-password-for-the-first-hour';
/** What Twilio answers a bad number with: its error body carries a documentation URL. */
const VENDOR_REFUSAL = {
  code: 21211,
  message: "The 'To' number +1555 is not a valid phone number.",
  more_info: 'https://www.twilio.com/docs/errors/21211',
  status: 400,
};

/** A partner API: `/busy` is down (503, retried), `/refuse` refuses for good (400 with a vendor error body). */
async function startPartner(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume().on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/busy') return void res.writeHead(503).end('{"error":"maintenance"}');
      res.writeHead(400).end(JSON.stringify(VENDOR_REFUSAL));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const config = (partner: string) => `${FORM_CONNECTOR}
workflows:
  - id: lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: partner-busy
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'busy'" }
    steps: [{ type: http, id: send, url: "${partner}/busy", body: '{ "email": email }' }]
  - id: partner-refuse
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'refuse'" }
    steps: [{ type: http, id: send, url: "${partner}/refuse", body: '{ "email": email }' }]
`;

describe('the dashboard in the first hour (headless Chromium)', () => {
  let db: TestDatabase;
  let partner: Awaited<ReturnType<typeof startPartner>>;
  let app: Crmflow;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const longId = `sub-${'7'.repeat(400)}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    partner = await startPartner();
    // A long backoff: the busy run stays between its attempts for the whole test. The partner is a local server:
    // internal addresses need the admin's allow-list.
    const extra = {
      CRMFLOW_USERS: `sam:support:${hashPassword(PASSWORD)}`,
      CRMFLOW_JOB_ATTEMPTS: '5',
      CRMFLOW_JOB_BACKOFF_MS: '600000',
      CRMFLOW_HTTP_ALLOW_HOSTS: new URL(partner.url).host,
    };
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(config(partner.url)), prefix: testPrefix(), extra }),
    );
    await submitLead(app, { submission_id: 'fh-1', name: 'Nina Newcomer', email: 'nina@leads.example' });
    await submitLead(app, { submission_id: 'fh-2', name: 'L'.repeat(100_000), email: 'long.name@leads.example' });
    await submitLead(app, { submission_id: longId, name: 'Ivo Longid', email: 'ivo@leads.example' });
    await submitLead(app, { submission_id: 'fh-busy', form: 'busy', email: 'busy@leads.example' });
    await submitLead(app, { submission_id: 'fh-refuse', form: 'refuse', email: 'refuse@leads.example' });
    await waitFor(
      'every run settled',
      async () => {
        const { rows } = await db.pool.query<{ workflow: string; status: string; error: string | null }>(
          'SELECT workflow, status, error FROM workflow_runs',
        );
        const of = (workflow: string) => rows.filter((run) => run.workflow === workflow);
        return (
          of('lead').length === 5 &&
          of('lead').every((run) => run.status === 'succeeded') &&
          of('partner-refuse')[0]?.status === 'failed' &&
          ['failed', 'queued'].includes(of('partner-busy')[0]?.status ?? '') &&
          of('partner-busy')[0]?.error !== null
        );
      },
      30_000,
    );

    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    browser = await launchChromium(profile, {
      viewport: { width: 1280, height: 900 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(20_000);
    await page.goto(`${app.url}/login`);
    await page.getByLabel('User name').fill('sam');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/`);
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await partner?.close();
    await db?.drop();
  });

  const runId = async (workflow: string, where = '') =>
    (
      await db.pool.query<{ id: string }>(
        `SELECT id FROM workflow_runs WHERE workflow = $1 ${where} ORDER BY id LIMIT 1`,
        [workflow],
      )
    ).rows[0]!.id;
  const pageWidth = () => page.evaluate(() => document.documentElement.scrollWidth);

  it('lists the newest customers before any search', async () => {
    await page.goto(`${app.url}/customers`);
    const names = await page.locator('table.customers tbody tr').allTextContents();
    expect(names.length).toBe(5);
    expect(names.join(' ')).toContain('Nina Newcomer');
  });

  it('counts the failed runs it lists, and shows a retrying run as retrying everywhere', async () => {
    await page.goto(`${app.url}/`);
    const listed = await page.locator('.failures li').allTextContents();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toContain('partner-refuse');
    expect(await page.locator('#failed-count').textContent()).toBe(String(listed.length));

    await page.goto(`${app.url}/runs?workflow=partner-busy`);
    expect(await page.locator('#runs-table tr[data-run-id] .status').textContent()).toBe('retrying');
    await page.goto(`${app.url}/runs/${await runId('partner-busy')}`);
    expect(await page.locator('#run-status').textContent()).toBe('retrying');
    expect(await page.getByRole('button', { name: 'Retry run' }).count()).toBe(0);
    expect(await page.locator('.run-summary .step-error').textContent()).toContain('Last attempt failed');
  });

  it('gives support staff a readable reason, the raw vendor error under Details', async () => {
    await page.goto(`${app.url}/runs/${await runId('partner-refuse')}`);
    const error = page.locator('.step[data-step="send"] .step-error');
    const shown =
      (await error.evaluate((node) =>
        [...node.childNodes]
          .filter((child) => child.nodeName !== 'DETAILS')
          .map((child) => child.textContent)
          .join(''),
      )) ?? '';
    expect(shown).toContain("the request was refused (400): The 'To' number +1555 is not a valid phone number.");
    expect(shown).not.toMatch(/https?:\/\//);
    expect(await error.locator('details code').textContent()).toContain('https://www.twilio.com/docs/errors/21211');
    await page.goto(`${app.url}/`);
    expect(await page.locator('.failures').textContent()).not.toMatch(/https?:\/\//);
  });

  it('keeps a 100,000-character name inside the page', async () => {
    const id = (
      await db.pool.query<{ id: string }>(
        "SELECT customer_id AS id FROM customer_identities WHERE value = 'long.name@leads.example'",
      )
    ).rows[0]!.id;
    for (const path of [`/customers/${id}`, '/customers', '/runs']) {
      await page.goto(`${app.url}${path}`);
      expect(await pageWidth(), path).toBeLessThanOrEqual(1280);
    }
  });

  it('keeps long ids inside a 390 px screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const customer = (
      await db.pool.query<{ id: string }>(
        "SELECT customer_id AS id FROM customer_identities WHERE value = 'ivo@leads.example'",
      )
    ).rows[0]!.id;
    const run = await runId('lead', `AND trigger->>'external_id' = '${longId}'`);
    for (const path of [
      `/runs/${run}`,
      `/customers/${customer}`,
      '/customers',
      '/',
      `/runs/${await runId('partner-refuse')}`,
    ]) {
      await page.goto(`${app.url}${path}`);
      expect(await pageWidth(), path).toBeLessThanOrEqual(390);
    }
  });
});
