import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { recentWhatsAppSample } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';
import { launchChromium } from './helpers/browser.js';

const SCREENSHOTS = new URL('../test-results/screenshots/', import.meta.url).pathname;
const PASSWORD = 'sam-password-for-the-browser-test';

// Sam is a support user and an agent: what Sam sends from the customer page is Sam's contact.
const CONFIG = `
connectors:
  meta:
    secrets: { app_secret: "\${META_APP_SECRET}", verify_token: "\${META_VERIFY_TOKEN}", access_token: "\${META_ACCESS_TOKEN}" }
agents:
  - { id: sam, name: Sam Support, email: sam@shop.example.org }
workflows:
  - id: social-in
    trigger: { type: webhook, connector: meta, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

/** Meta's Graph API as far as sending a WhatsApp text goes: records each request, answers with a message id. */
async function startGraph(): Promise<{
  url: string;
  sent: Array<{ path: string; body: any }>;
  close: () => Promise<void>;
}> {
  const sent: Array<{ path: string; body: any }> = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      sent.push({ path: req.url ?? '', body: JSON.parse(body || '{}') });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ messaging_product: 'whatsapp', messages: [{ id: `wamid.agent-${sent.length}` }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('a support user answers a WhatsApp customer from the customer page (headless Chromium)', () => {
  let db: TestDatabase;
  let graph: Awaited<ReturnType<typeof startGraph>>;
  let app: Crmflow;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    db = await createTestDatabase();
    graph = await startGraph();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        extra: { CRMFLOW_USERS: `sam:support:${hashPassword(PASSWORD)}`, META_GRAPH_URL: graph.url },
      }),
    );
    profile = mkdtempSync(join(tmpdir(), 'crmflow-chromium-'));
    context = await launchChromium(profile, {
      viewport: { width: 390, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
  });
  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await app?.close();
    await graph?.close();
    await db?.drop();
  });

  it('sends on WhatsApp as Sam, from the number the customer wrote to, and shows it on the timeline as Sam’s', async () => {
    // The customer writes on WhatsApp: Meta's 24-hour window is open.
    const body = recentWhatsAppSample();
    const signature = `sha256=${createHmac('sha256', SECRETS.META_APP_SECRET!).update(body).digest('hex')}`;
    expect(
      (
        await post(app, '/webhooks/meta', body, {
          'content-type': 'application/json',
          'x-hub-signature-256': signature,
        })
      ).status,
    ).toBe(202);
    const customerId = await waitFor('the WhatsApp customer', async () => {
      const { rows } = await db.pool.query<{ customer_id: number }>(
        "SELECT customer_id FROM timeline_events WHERE type = 'message.received'",
      );
      return rows[0]?.customer_id;
    });

    await page.goto(`${app.url}/customers/${customerId}`);
    await page.getByLabel('User name').fill('sam');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${app.url}/customers/${customerId}`);

    const answer = page.getByRole('form', { name: 'Answer the customer' });
    await answer.getByLabel('Channel').selectOption('whatsapp');
    await answer.getByLabel('Message').fill('Hi! Your order ships tomorrow morning.');
    await answer.getByRole('button', { name: 'Send as sam' }).click();
    await page.waitForURL(/notice=sent-whatsapp/);
    await expect.poll(() => page.getByRole('status').first().textContent()).toContain('Sent on whatsapp.');
    const entry = page.locator('.timeline li', { hasText: 'message.sent' });
    await expect.poll(() => entry.textContent()).toContain('by Sam Support');
    expect(await entry.textContent()).toContain('Hi! Your order ships tomorrow morning.');
    await page.screenshot({ path: join(SCREENSHOTS, 'agent-reply-whatsapp.png'), fullPage: true });

    expect(graph.sent).toEqual([
      {
        path: expect.stringMatching(/^\/v21.0\/106540352242922\/messages\?/),
        body: expect.objectContaining({
          messaging_product: 'whatsapp',
          to: '16505551234',
          type: 'text',
          text: { body: 'Hi! Your order ships tomorrow morning.' },
        }),
      },
    ]);
    const { rows } = await db.pool.query(
      'SELECT channel, agent_id, run_id, status, provider_id FROM outbound_messages',
    );
    expect(rows).toEqual([
      { channel: 'whatsapp', agent_id: 'sam', run_id: null, status: 'sent', provider_id: 'wamid.agent-1' },
    ]);
  });
});
