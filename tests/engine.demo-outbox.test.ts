import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor } from '../src/cli/doctor.js';
import { ENV_VARS } from '../src/config/env.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, recentWhatsAppSample, twilioWebhook } from './helpers/sign.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

/** The shipped example, in demo mode: no secret set, no SMTP server, nothing reachable but this machine. */
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PUBLIC_URL = 'https://crm.example.com';

// A demo send that reached a vendor would fail here instead of resolving graph.facebook.com or api.twilio.com.
useNock({ checkPending: false });

function demoEnv(databaseUrl: string, configPath: string): Record<string, string> {
  const env = testEnv({ databaseUrl, configPath, prefix: testPrefix(), extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL } });
  for (const spec of ENV_VARS) if (spec.secret && spec.name !== 'CRMFLOW_API_TOKEN') delete env[spec.name];
  delete env.NODE_ENV;
  return env;
}

const metaSigned = (body: Buffer) => ({
  'content-type': 'application/json',
  'x-hub-signature-256': `sha256=${createHmac('sha256', 'demo-meta-app-secret').update(body).digest('hex')}`,
});

/** Messenger's documented `messaging[]` event in its POST envelope, as sent just now (inside Meta's 24-hour window). */
function messengerDelivery(psid: string, pageId: string): Buffer {
  const event = fixtureBytes('meta', 'messenger_text_message_event.json')
    .toString('utf8')
    .replaceAll('<PSID>', psid)
    .replaceAll('<PAGE_ID>', pageId)
    .replace(/"timestamp":\s*\d+/, `"timestamp": ${Date.now()}`);
  return Buffer.from(`{"object":"page","entry":[{"id":"${pageId}","time":${Date.now()},"messaging":[${event}]}]}`);
}

function instagramDelivery(): Buffer {
  const sample = readFileSync(
    new URL('../src/connectors/meta/samples/instagram_text_message.json', import.meta.url),
    'utf8',
  );
  return Buffer.from(sample.replace(/"timestamp":\s*\d+/, `"timestamp": ${Date.now()}`));
}

describe('demo mode answers on every channel, into the local outbox', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = demoEnv(db.url, writeConfig(EXAMPLE_CONFIG));
    app = await startTestCrmflow(env);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const messages = async () =>
    (await api(app, '/api/messages?limit=100')).body.messages as Array<{
      channel: string;
      transport: string;
      status: string;
      recipient: string;
      customer_id: number;
    }>;

  it('texts a missed caller back and still creates the call-back task', async () => {
    const params = {
      AccountSid: 'ACdemo00000000000000000000000000000',
      ApiVersion: '2010-04-01',
      CallSid: 'CA00000000000000000000000000demo01',
      CallStatus: 'no-answer',
      CallDuration: '0',
      Direction: 'inbound',
      From: '+14155550188',
      To: '+15005550006',
      Timestamp: new Date().toUTCString(),
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, 'demo-twilio-token');
    expect((await post(app, '/webhooks/twilio', body, headers)).status).toBe(200);
    const run = await waitFor(
      'the missed-call run to finish',
      async () => {
        const { rows } = await db.pool.query(
          "SELECT id, status, error FROM workflow_runs WHERE workflow = 'missed-call'",
        );
        return rows[0]?.status === 'succeeded' || rows[0]?.status === 'failed' ? rows[0] : undefined;
      },
      30_000,
    );
    expect(run).toMatchObject({ status: 'succeeded', error: null });
    expect(await messages()).toContainEqual(
      expect.objectContaining({ channel: 'sms', transport: 'outbox', status: 'sent', recipient: '+14155550188' }),
    );
    const tasks = (await api(app, '/api/tasks')).body.tasks;
    expect(tasks).toContainEqual(expect.objectContaining({ title: expect.stringContaining('+14155550188') }));
  });

  it('answers WhatsApp, Messenger and Instagram messages on their own channel', async () => {
    for (const body of [
      recentWhatsAppSample(),
      messengerDelivery('6945284213287045', '104578132315417'),
      instagramDelivery(),
    ]) {
      expect((await post(app, '/webhooks/meta', body, metaSigned(body))).status).toBe(202);
    }
    const outbox = await waitFor(
      'the three answers',
      async () => {
        const sent = (await messages()).filter((message) =>
          ['whatsapp', 'messenger', 'instagram'].includes(message.channel),
        );
        // recorded first (record-before-send), then marked sent: wait for the outcome of all three
        return sent.length === 3 && sent.every((message) => message.status !== 'sending') ? sent : undefined;
      },
      30_000,
    );
    for (const message of outbox) expect(message).toMatchObject({ transport: 'outbox', status: 'sent' });
    // A run ends a moment after its message is recorded (the customer's traits are refreshed after a send): wait for it.
    const rows = await waitFor(
      'the three runs to end',
      async () => {
        const { rows } = await db.pool.query(
          "SELECT workflow, status FROM workflow_runs WHERE workflow = 'social-message' AND status NOT IN ('queued', 'running')",
        );
        return rows.length === 3 ? rows : undefined;
      },
      30_000,
    );
    expect(rows).toEqual([...Array(3)].map(() => ({ workflow: 'social-message', status: 'succeeded' })));
  });

  it('marks demo messages on the customer page', async () => {
    const sms = (await messages()).find((message) => message.channel === 'sms')!;
    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: 'admin', password: 'demo-admin-password', next: '/' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(login.status).toBe(303);
    const page = await (
      await fetch(`${app.url}/customers/${sms.customer_id}`, {
        headers: { cookie: login.headers.get('set-cookie')!.split(';')[0]! },
      })
    ).text();
    expect(page).toMatch(/sms <span class="status status-demo"[^>]*>demo outbox<\/span>/);
  });

  it('`crmflow doctor` names the channels in demo', async () => {
    const findings = await doctor({ ...env, DATABASE_URL: '' }, pino({ level: 'silent' }));
    const line = findings.find((finding) => finding.line.startsWith('channels'))!.line;
    const [, channels] = /^channels in demo: (.*) go to the local outbox/.exec(line)!;
    expect(channels!.split(', ').sort()).toEqual(['email', 'instagram', 'messenger', 'sms', 'whatsapp']);
    expect(line).toContain('TWILIO_ACCOUNT_SID');
    expect(line).toContain('META_ACCESS_TOKEN');
    expect(line).toContain('SMTP_URL');
  });
});
