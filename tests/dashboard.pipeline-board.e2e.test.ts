import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

const SHIPPED = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PASSWORD = 'pipeline-board-password';
const SCREENSHOTS = new URL('../test-results/screenshots/', import.meta.url).pathname;

describe('the pipeline board in headless Chromium', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let dealId: number;
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
        extra: { CRMFLOW_USERS: `sam:support:${hashPassword(PASSWORD)},vic:viewer:${hashPassword(PASSWORD)}` },
      }),
    );
    // A quote request through the shipped web-lead workflow opens a deal in `new`.
    const body = JSON.stringify({
      submission_id: 'board-1',
      name: 'Bea Board',
      email: 'bea@board.example',
      interest: 'quote',
    });
    await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
    dealId = await waitFor(
      'the deal',
      async () => ((await api(app, '/api/deals?pipeline=sales')).body.deals as Array<{ id: number }>)[0]?.id,
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

  async function signIn(user: string): Promise<void> {
    await page.goto(`${app.url}/pipelines/sales`);
    await page.waitForURL(/\/login/);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/pipelines/sales`);
  }

  it('a support user moves a card with the keyboard: the deal changes stage and the move is audited', async () => {
    await signIn('sam');
    const card = page.locator(`#deal-${dealId}`);
    expect(await card.getAttribute('data-stage')).toBe('new');
    expect(await page.locator('.board-column[data-stage="new"] h2').textContent()).toContain('1');
    expect(await page.locator('svg.forecast-chart').count()).toBe(1);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'pipeline-board-390.png'), fullPage: true });

    // Keyboard only: focus the stage select, choose quote with the arrow keys, tab to Move and press Enter.
    await card.getByLabel(/Move .* to/).focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    expect(await card.getByLabel(/Move .* to/).inputValue()).toBe('quote');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.waitForURL(/notice=moved/);
    expect(await page.locator(`.board-column[data-stage="quote"] #deal-${dealId}`).count()).toBe(1);

    const deal = (await api(app, `/api/deals/${dealId}`)).body as {
      stage: string;
      history: Array<{ to_stage: string; actor: string | null }>;
    };
    expect(deal.stage).toBe('quote');
    expect(deal.history.at(-1)).toMatchObject({ to_stage: 'quote', actor: 'sam' });
    const audit = (await api(app, '/api/audit?limit=5')).body.entries as Array<{
      actor: string;
      action: string;
      target: string;
      details: Record<string, unknown>;
    }>;
    expect(audit.find((entry) => entry.action === 'deal.stage')).toMatchObject({
      actor: 'sam',
      target: `deal:${dealId}`,
      details: { from: 'new', to: 'quote', via: 'dashboard' },
    });

    // The customer page lists the deal.
    await page.locator(`#deal-${dealId} .deal-name a`).click();
    await page.waitForURL(/\/customers\/\d+$/);
    expect(await page.locator(`table.deals tr[data-deal-id="${dealId}"]`).textContent()).toContain('quote');
    expect(problems).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('a viewer sees the board but no move form, and a forged move is refused', async () => {
    await signIn('vic');
    expect(await page.locator(`#deal-${dealId}`).count()).toBe(1);
    expect(await page.locator(`#deal-${dealId} form`).count()).toBe(0);
    const status = await page.evaluate(async (id) => {
      const csrf = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
      const response = await fetch(`/deals/${id}/stage`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `_csrf=${encodeURIComponent(csrf)}&stage=won`,
      });
      return response.status;
    }, dealId);
    expect(status).toBe(403);
    expect((await api(app, `/api/deals/${dealId}`)).body.stage).toBe('quote');
  });
});
