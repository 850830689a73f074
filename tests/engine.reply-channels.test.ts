import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { loadConfigText } from '../src/workflows/load.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { recentWhatsAppSample, twilioWebhook } from './helpers/sign.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';
const GRAPH = 'https://graph.test';
const TWILIO = 'https://twilio.test';

const CONFIG = `
connectors:
  meta:
    secrets: { app_secret: "\${META_APP_SECRET}", verify_token: "\${META_VERIFY_TOKEN}", access_token: "\${META_ACCESS_TOKEN}" }
  twilio:
    secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" }
workflows:
  - id: social-auto-reply
    trigger: { type: webhook, connector: meta, event: message.received }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: same
        subject: unused for messaging channels
        body: "Hi {{ $customer.first_name }}, thanks for your message. We answer within the hour."
  - id: missed-call-sms
    trigger: { type: webhook, connector: twilio, event: call.missed }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: sms
        body: "Sorry we missed your call. We will call you back shortly."
`;

// Vendor APIs are nock'd; only local servers are reachable.
useNock({ checkPending: false });

describe('replies on messaging channels through the connectors', () => {
  let db: TestDatabase;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        smtpUrl: 'smtp://127.0.0.1:1',
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, META_GRAPH_URL: GRAPH, TWILIO_API_URL: TWILIO },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('answers a WhatsApp message on WhatsApp, from the number the customer wrote to', async () => {
    const sent: unknown[] = [];
    const graph = nock(GRAPH)
      .post('/v21.0/106540352242922/messages', (body) => (sent.push(body), true))
      .matchHeader('authorization', `Bearer ${SECRETS.META_ACCESS_TOKEN}`)
      .query(true)
      .reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '16505551234', wa_id: '16505551234' }],
        messages: [{ id: 'wamid.reply-1' }],
      });
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

    await waitFor(
      'the WhatsApp reply',
      async () => (await count(db.pool, "SELECT 1 FROM outbound_messages WHERE status = 'sent'")) === 1,
    );
    expect(graph.isDone()).toBe(true);
    expect(sent).toEqual([
      expect.objectContaining({
        messaging_product: 'whatsapp',
        to: '16505551234',
        type: 'text',
        text: { body: expect.stringMatching(/^Hi .*thanks for your message/) },
      }),
    ]);
    const { rows } = await db.pool.query('SELECT channel, transport, recipient, provider_id FROM outbound_messages');
    expect(rows).toEqual([
      { channel: 'whatsapp', transport: 'meta', recipient: '+16505551234', provider_id: 'wamid.reply-1' },
    ]);
  });

  it('texts a missed caller back by SMS with Twilio’s idempotency token', async () => {
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      CallSid: 'CA0000000000000000000000000000missed',
      CallStatus: 'no-answer',
      CallDuration: '0',
      Direction: 'inbound',
      From: '+14155550188',
      To: '+15005550006',
      Timestamp: 'Mon, 23 Nov 2026 09:00:00 +0000',
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    const sms = nock(TWILIO)
      .post(
        '/2010-04-01/Accounts/ACtest/Messages.json',
        (form) => form.To === '+14155550188' && form.From === '+15005550006' && /missed your call/.test(form.Body),
      )
      .matchHeader('i-twilio-idempotency-token', /^run:\d+:reply$/)
      .reply(201, { sid: 'SM00000000000000000000000000000001', status: 'queued' });
    const response = await post(app, '/webhooks/twilio', body, headers);
    expect(response.status).toBe(200);
    expect(response.body).toContain('<Response/>');
    await waitFor('the SMS', async () => sms.isDone());
    await waitFor(
      'the SMS recorded as sent',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM outbound_messages WHERE channel = 'sms' AND status = 'sent' AND provider_id = 'SM00000000000000000000000000000001'",
        )) === 1,
    );
  });

  it('refuses a reply channel no configured connector provides, at load time', () => {
    const text = `connectors:
  form: { secrets: { webhook_secret: x } }
workflows:
  - id: lead-sms
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: reply, channel: sms, body: hi }
`;
    expect(() => loadConfigText(text, 'workflows.yaml', { env: {} })).toThrow(
      'workflows.yaml:9:33 no configured connector sends on channel sms; configure one that does (sms: twilio; whatsapp, messenger, instagram: meta)',
    );
  });
});
