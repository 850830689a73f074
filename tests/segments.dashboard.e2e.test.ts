import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { shopifyHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

const PASSWORD = 'viewer-password-for-the-segments-test';

const CONFIG = `
connectors:
  shopify:
    secrets:
      webhook_secret: \${SHOPIFY_WEBHOOK_SECRET}
segments:
  - id: vip
    name: Spent 1,000 or more
    when: "$customer.traits.lifetime_value >= 1000"
workflows:
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

describe('the Segments pages in a real browser (headless Chromium)', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        extra: { CRMFLOW_USERS: `vic:viewer:${hashPassword(PASSWORD)}` },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    context = await launchChromium(profile, {
      viewport: { width: 1280, height: 900 },
      locale: 'en-US',
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
    await db?.drop();
  });

  it('lists the segment with its size and movements, pages its members, and shows them on the customer page, also at 390 px', async () => {
    for (const [i, total] of [600, 500].entries()) {
      const body = JSON.stringify({
        admin_graphql_api_id: `gid://shopify/Order/${5100 + i}`,
        name: `#${5100 + i}`,
        email: 'gus@segments.example',
        financial_status: 'paid',
        total_price: String(total),
        current_total_price: String(total),
        currency: 'EUR',
        created_at: new Date(Date.now() - (2 - i) * 86_400_000).toISOString(),
        customer: {
          admin_graphql_api_id: 'gid://shopify/Customer/5100',
          email: 'gus@segments.example',
          first_name: 'Gus',
          last_name: 'Grand',
        },
        line_items: [],
      });
      expect(
        (await post(app, '/webhooks/shopify', body, shopifyHeaders(body, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
      ).toBe(202);
    }
    await waitFor(
      'Gus in vip',
      async () =>
        (await count(db.pool, "SELECT 1 FROM segment_memberships WHERE segment_id = 'vip' AND exited_at IS NULL")) ===
        1,
    );

    await page.goto(`${app.url}/login?next=%2Fsegments`);
    await page.getByLabel('User name').fill('vic');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(/\/segments$/);
    const row = page.locator('#segment-vip');
    expect(await row.locator('td').allInnerTexts()).toEqual([
      expect.stringContaining('Spent 1,000 or more'),
      '1',
      '1',
      '0',
      expect.stringContaining('lifetime_value >= 1000'),
    ]);

    await page.getByRole('link', { name: 'Spent 1,000 or more' }).click();
    await page.waitForURL(/\/segments\/vip$/);
    expect(await page.locator('tbody tr td').allInnerTexts()).toEqual([
      'Gus Grand',
      expect.any(String),
      '2',
      '1100 EUR',
      '—',
    ]);
    await page.getByRole('link', { name: 'Gus Grand' }).click();
    await page.waitForURL(/\/customers\/\d+$/);
    const section = page.locator('section[aria-labelledby="segments-h"]');
    expect(await section.getByRole('link', { name: 'Spent 1,000 or more' }).count()).toBe(1);
    expect(
      await section
        .locator('dt', { hasText: /^orders_count$/ })
        .locator('xpath=following-sibling::dd')
        .innerText(),
    ).toBe('2');

    await page.setViewportSize({ width: 390, height: 844 });
    for (const path of ['/segments', '/segments/vip', new URL(page.url()).pathname]) {
      await page.goto(`${app.url}${path}`);
      expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(390);
    }
    expect(problems).toEqual([]);
  }, 120_000);
});
