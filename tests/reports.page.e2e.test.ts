import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { deliverKpiMonth, KPI_MONTH_CONFIG } from './fixtures/kpi-month.js';
import { launchChromium } from './helpers/browser.js';

const SCREENSHOTS = new URL('../test-results/screenshots/', import.meta.url).pathname;
const PASSWORD = 'viewer-password-for-the-reports-test';

describe('the Reports page in headless Chromium', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(KPI_MONTH_CONFIG),
        prefix: testPrefix(),
        extra: { CRMFLOW_USERS: `vic:viewer:${hashPassword(PASSWORD)}` },
      }),
    );
    await deliverKpiMonth(app, db.pool);
    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    context = await launchChromium(profile, {
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
  }, 150_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await db?.drop();
  });

  it('shows the figures, their definitions, the charts and the cohorts to a viewer, and downloads the CSV', async () => {
    await page.goto(`${app.url}/login?next=${encodeURIComponent('/reports?from=2026-03-01&to=2026-03-31&by=source')}`);
    await page.getByLabel('User name').fill('vic');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/reports\?/);

    const figure = (key: string) => page.locator(`.figure[data-figure="${key}"] .figure-value`).textContent();
    expect(await figure('leads')).toBe('4');
    expect(await figure('customers_won')).toBe('2');
    expect(await figure('lead_conversion_rate')).toBe('50%');
    expect(await figure('speed_to_lead_minutes')).toBe('75 min · p90 111 min');
    expect(await figure('average_order_value')).toBe('80 USD · 200 EUR');
    // the definition is the tooltip of each figure's name
    expect(await page.locator('.figure[data-figure="lead_conversion_rate"] dt').getAttribute('title')).toBe(
      'customers_won ÷ leads.',
    );
    // February is the previous period: one lead (dee), nobody won yet then
    expect(await page.locator('.figure[data-figure="leads"] .delta').textContent()).toContain('previous: 1');

    // charts drawn: weekly bars with a bar per week and series, the funnel, speed to lead per agent
    expect(await page.locator('svg.chart').count()).toBe(3);
    expect(await page.locator('svg.chart').first().locator('rect.bar-a').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('svg.chart[aria-label^="Median minutes"] text.axis').allTextContents()).toEqual(
      expect.arrayContaining(['alice', 'bob']),
    );
    // cohort heat map: March's three first buyers, a third of whom bought again the next month
    const march = page.locator('table.cohorts tr', { hasText: '2026-03' });
    expect(await march.locator('td').first().textContent()).toBe('3');
    expect(await march.locator('td.heat').first().textContent()).toBe('33.3%');
    // the breakdown table by source
    expect(await page.locator('tr', { hasText: 'google-ads' }).locator('td').nth(0).textContent()).toBe('3');
    await page.screenshot({ path: join(SCREENSHOTS, 'reports.png'), fullPage: true });

    const download = page.waitForEvent('download');
    await page.getByRole('link', { name: 'KPIs as CSV' }).click();
    const csv = await download;
    expect(csv.suggestedFilename()).toBe('kpis-2026-03-01-2026-03-31.csv');

    // readable on a phone: nothing wider than the screen but the scrollable tables
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(SCREENSHOTS, 'reports-390.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('answers a malformed period with a message page, not an error', async () => {
    const response = await page.goto(`${app.url}/reports?from=2026-02-30&to=2026-03-01`);
    expect(response?.status()).toBe(400);
    expect(await page.locator('main').textContent()).toContain('from and to must be dates');
  });
});
