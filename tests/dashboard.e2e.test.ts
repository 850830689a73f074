import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { launchChromium } from './helpers/browser.js';

const SCREENSHOTS = new URL('../test-results/screenshots/', import.meta.url).pathname;
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PASSWORD = 'support-password-for-the-browser-test';

/** A partner CRM the extra workflow posts leads to: it refuses (400) until told to accept. */
async function startPartnerCrm(): Promise<{
  url: string;
  accept: () => void;
  received: unknown[];
  close: () => Promise<void>;
}> {
  let accepting = false;
  const received: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (!accepting)
        return void res
          .writeHead(400)
          .end(JSON.stringify({ error: 'partner CRM rejects the lead: account suspended' }));
      received.push(JSON.parse(body));
      res.writeHead(201).end(JSON.stringify({ id: 'partner-lead-1' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accept: () => (accepting = true),
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('support dashboard in a real browser (headless Chromium)', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let partner: Awaited<ReturnType<typeof startPartnerCrm>>;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    partner = await startPartnerCrm();
    // The example file plus one workflow whose http step fails until the partner CRM accepts.
    const config = parseDocument(EXAMPLE_CONFIG);
    config.addIn(['workflows'], {
      id: 'partner-lead',
      name: 'Partner form leads → partner CRM',
      trigger: { type: 'webhook', connector: 'form', event: 'lead.submitted', when: "form = 'partner'" },
      steps: [
        { type: 'http', id: 'send_to_partner', url: `${partner.url}/leads`, body: '{ "email": email, "name": name }' },
      ],
    });
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(config.toString()),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        // The partner CRM is a local server: internal addresses need the admin's allow-list.
        extra: {
          CRMFLOW_USERS: `sam:support:${hashPassword(PASSWORD)}`,
          CRMFLOW_HTTP_ALLOW_HOSTS: new URL(partner.url).host,
        },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    context = await launchChromium(profile, {
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
      timezoneId: 'Europe/Berlin',
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()} (${message.location().url})`);
    });
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await partner?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('signs in, shows a webhook run live, its steps, retries a failed run, finds the customer', async () => {
    // Every page is behind the login.
    await page.goto(`${app.url}/runs`);
    await page.waitForURL(/\/login\?next=%2Fruns$/);
    await shot('01-login');
    await page.getByLabel('User name').fill('sam');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/runs`);
    await page.waitForSelector('.live-state.live-on');
    // A marker that a reload would wipe: the run must arrive without one.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    const order = fixtureBytes('shopify', 'orders_create.json');
    expect(
      (await post(app, '/webhooks/shopify', order, shopifyHeaders(order, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
    ).toBe(202);
    const row = page.locator('#runs-table tr[data-run-id]', { hasText: 'shopify-order' });
    await row.waitFor();
    await page.waitForSelector('#runs-table tr[data-status="succeeded"]:has-text("shopify-order")');
    await expect.poll(() => row.locator('.status').textContent()).toBe('succeeded');
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // Times are shown in the viewer's zone, not as the UTC the server sent.
    expect(await row.locator('time').textContent()).not.toContain('UTC');
    await shot('02-runs-live');

    await row.getByRole('link').first().click();
    await page.waitForURL(/\/runs\/\d+$/);
    for (const step of ['map', 'upsert_customer', 'timeline', 'assign_lead', 'reply']) {
      await expect.poll(() => page.locator(`.step[data-step="${step}"] .status`).textContent()).toBe('succeeded');
    }
    await expect.poll(() => page.locator('#run-status').textContent()).toBe('succeeded');
    expect(await page.getByRole('button', { name: 'Retry run' }).count()).toBe(0);
    await shot('03-run-detail');

    // A lead for the partner CRM, which refuses it: the run fails for good (4xx) and shows up live as failed.
    await page.goto(`${app.url}/runs?workflow=partner-lead`);
    await page.waitForSelector('.live-state.live-on');
    const lead = JSON.stringify({
      submission_id: 'partner-1',
      form: 'partner',
      name: 'Petra Partner',
      email: 'petra@partner.example',
      message: 'Send me a quote',
    });
    expect((await post(app, '/webhooks/form', lead, formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    const failed = page.locator('#runs-table tr[data-status="failed"]', { hasText: 'partner-lead' });
    await failed.waitFor();
    await expect
      .poll(() => failed.locator('.error-cell').textContent())
      .toContain('the request was refused (400): partner CRM rejects the lead: account suspended');
    await shot('04-failed-run-live');

    await failed.getByRole('link').first().click();
    await page.waitForURL(/\/runs\/\d+$/);
    await expect
      .poll(() => page.locator('.step[data-step="send_to_partner"] .step-error').textContent())
      .toContain('account suspended');
    await shot('05-failed-run-detail');
    partner.accept();
    await page.getByRole('button', { name: 'Retry run' }).click();
    await page.waitForURL(/notice=retried/);
    // The page follows the run and shows it succeed.
    await page.waitForSelector('#run-status .status-succeeded');
    await expect.poll(() => page.locator('.step[data-step="send_to_partner"] .status').textContent()).toBe('succeeded');
    expect(partner.received).toEqual([{ email: 'petra@partner.example', name: 'Petra Partner' }]);
    await shot('06-retried-run');

    // Customer lookup by email: identities, owner and the timeline with the order and the thank-you email.
    await page.getByRole('link', { name: 'Customers' }).click();
    await page.getByLabel(/Name, email, phone/).fill('JON@example.com');
    await page.getByLabel(/Name, email, phone/).press('Enter');
    await page.getByRole('link', { name: 'John Smith' }).click();
    await page.waitForURL(/\/customers\/\d+$/);
    await expect.poll(() => page.locator('.timeline').textContent()).toContain('order.created');
    await expect.poll(() => page.locator('.identities').textContent()).toContain('shopify_customer');
    await expect.poll(() => page.locator('main').textContent()).toContain('Alice Martin');
    await expect.poll(() => page.locator('main').textContent()).toContain('Thank you for your order #9999');
    await shot('07-customer');

    await page.getByRole('link', { name: 'Workflows' }).click();
    await expect.poll(() => page.locator('#wf-partner-lead').textContent()).toContain('send_to_partner');
    await shot('08-workflows');

    await page.getByRole('link', { name: 'Overview' }).click();
    await expect
      .poll(() => page.locator('.chart figcaption').textContent())
      .toContain('runs in the last hour, 0 failed');
    await expect.poll(() => page.locator('main').textContent()).toContain('shopify-order');
    await shot('09-overview-1280');

    // Keyboard: the first Tab reaches the skip link.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');

    // Phone width: no sideways scrolling.
    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/', '/runs']) {
      await page.goto(`${app.url}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
    }
    await shot('10-runs-390');
    expect(problems).toEqual([]);
  });
});
