import { createHmac } from 'node:crypto';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import twilio from '../src/connectors/twilio/index.js';
import type { Crmflow } from '../src/runtime.js';
import { loadConfigText } from '../src/workflows/load.js';
import { claimMessage, markMessageFailed, markMessageSent, skipMessage } from '../src/store/messages.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { fixtureBytes, formHeaders, twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';
const GRAPH = 'https://graph.test';
const TWILIO = 'https://twilio.test';
const SMS_PATH = '/2010-04-01/Accounts/ACtest/Messages.json';
const WHATSAPP_PATH = '/v21.0/106540352242922/messages';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  meta:
    secrets: { app_secret: "\${META_APP_SECRET}", verify_token: "\${META_VERIFY_TOKEN}", access_token: "\${META_ACCESS_TOKEN}" }
  twilio:
    secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" }
workflows:
  - id: sms-in
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: same
        subject: unused
        body: "Thanks for your text, we answer shortly."
  - id: missed-call
    trigger: { type: webhook, connector: twilio, event: call.missed }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: sms
        body: "Sorry we missed your call."
  - id: social
    trigger: { type: webhook, connector: meta, event: message.received }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: same
        subject: unused
        body: "Thanks for your message, we answer within the hour."
        once_per: 10m
        template: { name: hello_world, language: en_US }
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: email
        subject: "We got your message"
        body: "Hi {{ $customer.first_name }}, thanks for reaching out."
        variants:
          es: { subject: "Recibimos tu mensaje", body: "Hola {{ $customer.first_name }}, gracias por escribirnos." }
        max_per_customer: { count: 2, per: 1h }
`;

useNock({ checkPending: false });

/** The outbound message of each run of a workflow, oldest first. */
async function replies(
  db: TestDatabase,
  workflow: string,
): Promise<Array<{ status: string; status_reason: string | null; recipient: string; body: string }>> {
  const { rows } = await db.pool.query(
    `SELECT m.status, m.status_reason, m.recipient, m.body FROM outbound_messages m JOIN workflow_runs r ON r.id = m.run_id WHERE r.workflow = $1 ORDER BY m.id`,
    [workflow],
  );
  return rows;
}

const finishedRuns = (db: TestDatabase, workflow: string) =>
  count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = $1 AND status IN ('succeeded', 'failed')", [workflow]);

describe('reply policies: consent, Meta’s window, once per window, rate limit, language variants', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let secondWorker: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  /** Every SMS the nock'd Twilio API received. */
  const texts: Array<Record<string, string>> = [];

  const twilioPost = (params: Record<string, string>) => {
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    return post(app, '/webhooks/twilio', body, headers);
  };
  const sms = (sid: string, from: string, body: string) =>
    twilioPost({
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      MessageSid: sid,
      SmsSid: sid,
      From: from,
      To: '+15005550006',
      Body: body,
      NumMedia: '0',
      SmsStatus: 'received',
    });
  const metaPost = (delivery: unknown) => {
    const body = JSON.stringify(delivery);
    return post(app, '/webhooks/meta', body, {
      'content-type': 'application/json',
      'x-hub-signature-256': `sha256=${createHmac('sha256', SECRETS.META_APP_SECRET!).update(body).digest('hex')}`,
    });
  };
  /** Meta's WhatsApp sample, from `waId`, sent at `at`. */
  const whatsapp = (wamid: string, waId: string, at: Date, text = 'Hello?') => {
    const delivery = JSON.parse(fixtureBytes('meta', 'whatsapp_text_message.json').toString('utf8'));
    const value = delivery.entry[0].changes[0].value;
    value.contacts = [{ profile: { name: 'Wanda Window' }, wa_id: waId }];
    value.messages = [
      {
        ...value.messages[0],
        id: wamid,
        from: waId,
        timestamp: String(Math.floor(at.getTime() / 1000)),
        text: { body: text },
      },
    ];
    return delivery;
  };
  const lead = (id: string, fields: Record<string, string>) => {
    const body = JSON.stringify({ submission_id: id, ...fields });
    return post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    const env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      smtpUrl: smtp.url,
      extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, META_GRAPH_URL: GRAPH, TWILIO_API_URL: TWILIO },
    });
    app = await startTestCrmflow(env);
    // A second worker process on the same queue: replies race across processes, not only inside one.
    secondWorker = await startTestCrmflow(env, { api: false, worker: true, scheduler: false });
    nock(TWILIO)
      .persist()
      .post(SMS_PATH, (form) => (texts.push(form), true))
      .reply(201, () => ({ sid: `SM${String(texts.length).padStart(32, '0')}`, status: 'queued' }));
  });
  afterAll(async () => {
    await secondWorker?.close();
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('STOP revokes SMS consent: no text reaches Twilio, on any workflow, until START', async () => {
    const from = '+14155550101';
    expect((await sms('SM00000000000000000000000000000stop', from, ' stop ')).status).toBe(200);
    await waitFor('the reply to STOP', async () => (await finishedRuns(db, 'sms-in')) === 1);
    const missed = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      CallSid: 'CA00000000000000000000000000000001',
      CallStatus: 'no-answer',
      Direction: 'inbound',
      From: from,
      To: '+15005550006',
    };
    expect((await twilioPost(missed)).status).toBe(200);
    await waitFor('the missed-call reply', async () => (await finishedRuns(db, 'missed-call')) === 1);

    const skipped = [...(await replies(db, 'sms-in')), ...(await replies(db, 'missed-call'))];
    expect(skipped).toEqual([
      expect.objectContaining({
        status: 'skipped',
        recipient: from,
        status_reason: expect.stringMatching(/^sms opt-out \(STOP\) since \d{4}-\d\d-\d\dT/),
      }),
      expect.objectContaining({
        status: 'skipped',
        recipient: from,
        status_reason: expect.stringMatching(/^sms opt-out \(STOP\) since /),
      }),
    ]);
    expect(texts).toEqual([]);

    expect((await sms('SM0000000000000000000000000000start', from, 'START')).status).toBe(200);
    await waitFor('the reply to START', async () => (await finishedRuns(db, 'sms-in')) === 2);
    expect((await replies(db, 'sms-in'))[1]).toMatchObject({ status: 'sent', recipient: from });
    expect(texts).toEqual([
      expect.objectContaining({ To: from, From: '+15005550006', Body: 'Thanks for your text, we answer shortly.' }),
    ]);

    const customerId = (await db.pool.query('SELECT customer_id FROM customer_identities WHERE value = $1', [from]))
      .rows[0].customer_id;
    const record = (await api(app, `/api/customers/${customerId}`)).body;
    expect(record.consent.sms).toEqual([
      { address: from, granted: true, source: 'START', changed_at: expect.any(String) },
    ]);
    // WhatsApp is another channel: the SMS keywords said nothing about it.
    expect(record.consent.whatsapp).toEqual([{ address: from, granted: null, source: null, changed_at: null }]);
    expect(
      record.consent_history.map((change: { granted: boolean; source: string; actor: string }) => [
        change.granted,
        change.source,
        change.actor,
      ]),
    ).toEqual([
      [true, 'START', 'twilio'],
      [false, 'STOP', 'twilio'],
    ]);
  });

  it('a WhatsApp STOP through Twilio stops WhatsApp replies through Meta to the same number', async () => {
    const graph = nock(GRAPH)
      .post(WHATSAPP_PATH)
      .query(true)
      .reply(200, { messages: [{ id: 'wamid.never' }] });
    expect(
      (
        await twilioPost({
          AccountSid: 'ACtest',
          MessageSid: 'SM000000000000000000000000000wstop',
          From: 'whatsapp:+14155550102',
          To: 'whatsapp:+15005550006',
          Body: 'UNSUBSCRIBE',
        })
      ).status,
    ).toBe(200);
    await waitFor(
      'the STOP',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM consents WHERE channel = 'whatsapp' AND address = '+14155550102' AND NOT granted",
        )) === 1,
    );
    expect((await metaPost(whatsapp('wamid.after-stop', '14155550102', new Date()))).status).toBe(202);
    await waitFor(
      'the social reply',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM outbound_messages WHERE channel = 'whatsapp' AND recipient = '+14155550102'",
        )) === 1,
    );
    const [reply] = (await replies(db, 'social')).filter((message) => message.recipient === '+14155550102');
    expect(reply).toMatchObject({
      status: 'skipped',
      status_reason: expect.stringMatching(/^whatsapp opt-out \(UNSUBSCRIBE\) since /),
    });
    expect(graph.isDone()).toBe(false);
  });

  it('three WhatsApp messages at once get one reply (once_per: 10m), across two worker processes', async () => {
    const sent: unknown[] = [];
    nock(GRAPH)
      .post(WHATSAPP_PATH, (body) => (sent.push(body), true))
      .query(true)
      .times(3)
      .reply(200, { messaging_product: 'whatsapp', messages: [{ id: 'wamid.once' }] });
    const now = new Date();
    const answers = await Promise.all(
      ['a', 'b', 'c'].map((suffix) =>
        metaPost(whatsapp(`wamid.burst-${suffix}`, '14155550103', now, `message ${suffix}`)),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([202, 202, 202]);
    await waitFor(
      'three replies recorded',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM outbound_messages WHERE recipient = '+14155550103' AND status <> 'sending'",
        )) === 3,
    );

    const burst = (await replies(db, 'social')).filter((message) => message.recipient === '+14155550103');
    expect(burst.filter((message) => message.status === 'sent')).toHaveLength(1);
    expect(burst.filter((message) => message.status === 'skipped').map((message) => message.status_reason)).toEqual([
      expect.stringMatching(/^once per 10m: already answered at \d{4}-/),
      expect.stringMatching(/^once per 10m: already answered at /),
    ]);
    expect(sent).toHaveLength(1);
  });

  it("outside Meta's 24-hour window: WhatsApp gets the approved template, Messenger (no templates) is skipped", async () => {
    const sent: unknown[] = [];
    const graph = nock(GRAPH)
      .post(WHATSAPP_PATH, (body) => (sent.push(body), true))
      .query(true)
      .reply(200, {
        messaging_product: 'whatsapp',
        contacts: [{ input: '14155550104', wa_id: '14155550104' }],
        messages: [{ id: 'wamid.template' }],
      });
    const twoDaysAgo = new Date(Date.now() - 48 * 3_600_000);
    expect((await metaPost(whatsapp('wamid.old', '14155550104', twoDaysAgo))).status).toBe(202);
    await waitFor('the template', async () => graph.isDone());
    expect(sent).toEqual([
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: '14155550104',
        type: 'template',
        template: { name: 'hello_world', language: { code: 'en_US' } },
      },
    ]);
    await waitFor(
      'the template recorded',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM outbound_messages WHERE recipient = '+14155550104' AND status = 'sent' AND body = 'template hello_world (en_US)'",
        )) === 1,
    );

    const messenger = nock(GRAPH).post('/v21.0/me/messages').query(true).reply(200, { message_id: 'm.never' });
    const old = twoDaysAgo.getTime();
    const delivery = {
      object: 'page',
      entry: [
        {
          id: '1234567890',
          time: old,
          messaging: [
            {
              sender: { id: '7000000000000001' },
              recipient: { id: '1234567890' },
              timestamp: old,
              message: { mid: 'm.old-messenger', text: 'still there?' },
            },
          ],
        },
      ],
    };
    expect((await metaPost(delivery)).status).toBe(202);
    await waitFor(
      'the Messenger reply recorded',
      async () => (await count(db.pool, "SELECT 1 FROM outbound_messages WHERE channel = 'messenger'")) === 1,
    );
    const { rows } = await db.pool.query(
      "SELECT status, status_reason, recipient FROM outbound_messages WHERE channel = 'messenger'",
    );
    expect(rows).toEqual([
      {
        status: 'skipped',
        recipient: '1234567890:7000000000000001',
        status_reason: `outside Meta's 24-hour window (last message from the customer: ${twoDaysAgo.toISOString()}); messenger takes no templates`,
      },
    ]);
    expect(messenger.isDone()).toBe(false);
  });

  it('answers in the customer’s language, and the unsubscribe link in the email stops further emails', async () => {
    expect((await lead('es-1', { name: 'Ana Ruiz', email: 'ana@example.com', language: 'es' })).status).toBe(202);
    const email = await waitFor('the Spanish email', async () =>
      smtp.messages.find((message) => message.to.includes('ana@example.com')),
    );
    expect(email.subject).toBe('Recibimos tu mensaje');
    expect(email.text).toContain('Hola Ana, gracias por escribirnos.');
    const headers = email.raw.slice(0, email.raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const listUnsubscribe = /^List-Unsubscribe:\s*<([^>]+)>/im.exec(headers)?.[1];
    expect(listUnsubscribe).toMatch(new RegExp(`^${PUBLIC_URL}/unsubscribe/[\\w-]+\\.[\\w-]+$`));
    expect(headers).toMatch(/^List-Unsubscribe-Post:\s*List-Unsubscribe=One-Click$/im);
    // The same link is in the text, for readers whose mail client shows no unsubscribe button.
    expect(email.text).toContain(`To stop these emails: ${listUnsubscribe}`);

    const path = new URL(listUnsubscribe!).pathname;
    const page = await fetch(`${app.url}${path}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('a•••@example.com');
    expect(await count(db.pool, 'SELECT 1 FROM consents')).toBe(2);
    // What a mail client sends for RFC 8058 one-click.
    const oneClick = await fetch(`${app.url}${path}`, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(oneClick.status).toBe(200);
    expect(
      (
        await db.pool.query(
          "SELECT granted, source FROM consents WHERE channel = 'email' AND address = 'ana@example.com'",
        )
      ).rows,
    ).toEqual([{ granted: false, source: 'unsubscribe link' }]);

    const before = smtp.messages.length;
    expect((await lead('es-2', { name: 'Ana Ruiz', email: 'ANA@example.com ', language: 'es' })).status).toBe(202);
    await waitFor('the second lead', async () => (await finishedRuns(db, 'web-lead')) === 2);
    expect((await replies(db, 'web-lead'))[1]).toMatchObject({
      status: 'skipped',
      status_reason: expect.stringMatching(/^email opt-out \(unsubscribe link\) since /),
    });
    expect(smtp.messages.length).toBe(before);
  });

  it('max_per_customer: the third auto-reply within the hour is skipped; other languages get the default text', async () => {
    for (const [index, id] of ['bo-1', 'bo-2', 'bo-3'].entries()) {
      expect((await lead(id, { name: 'Bo Berg', email: 'bo@example.com', language: 'sv' })).status).toBe(202);
      await waitFor(`lead ${id}`, async () => (await finishedRuns(db, 'web-lead')) === 3 + index);
    }
    const bo = (await replies(db, 'web-lead')).filter((message) => message.recipient === 'bo@example.com');
    expect(bo.map((message) => message.status)).toEqual(['sent', 'sent', 'skipped']);
    expect(bo[2]!.status_reason).toMatch(/^at most 2 auto-replies per 1h to this customer \(window since \d{4}-/);
    const emails = smtp.messages.filter((message) => message.to.includes('bo@example.com'));
    expect(emails.map((message) => message.subject)).toEqual(['We got your message', 'We got your message']);
    expect(emails[0]!.text).toContain('Hi Bo, thanks for reaching out.');
  });

  it('a skip never hides an earlier attempt: failed becomes skipped, sending becomes uncertain, sent stays sent', async () => {
    const message = (key: string) => ({
      idempotencyKey: key,
      customerId: null,
      runId: null,
      channel: 'sms',
      transport: 'twilio',
      recipient: '+14155550109',
      subject: null,
      body: 'hi',
    });
    const claim = async (key: string) => {
      const claimed = await claimMessage(db.pool, message(key));
      if (!claimed.send) throw new Error('expected a claim');
      return claimed.id;
    };
    await markMessageFailed(db.pool, await claim('skip:failed'), 'timeout');
    await claim('skip:sending');
    await markMessageSent(db.pool, await claim('skip:sent'), 'SM1');
    const skipped = await Promise.all(
      ['skip:new', 'skip:failed', 'skip:sending', 'skip:sent'].map((key) =>
        skipMessage(db.pool, message(key), 'sms opt-out (STOP)'),
      ),
    );
    expect(skipped.map(({ status, statusReason }) => [status, statusReason])).toEqual([
      ['skipped', 'sms opt-out (STOP)'],
      ['skipped', 'sms opt-out (STOP)'],
      ['uncertain', 'an earlier attempt stopped while sending; not resent automatically'],
      ['sent', null],
    ]);
  });

  it('refuses policy fields that cannot work, at load time', () => {
    const load = (fields: string) =>
      loadConfigText(
        `connectors:\n  twilio: { secrets: { account_sid: AC1, auth_token: t } }\nworkflows:\n  - id: w\n    trigger: { type: webhook, connector: twilio, event: call.missed }\n    steps:\n      - { type: map }\n      - { type: upsert_customer }\n      - { type: reply, channel: sms, body: hi, ${fields} }\n`,
        'workflows.yaml',
        { env: {} },
      );
    expect(() => load('once_per: 40d')).toThrow('workflows.yaml:9:58 a reply limit window is at most 31d');
    expect(() => load('template: { name: x, language: en }')).toThrow(
      'workflows.yaml:9:58 `template` applies to WhatsApp replies (Meta approved templates); use channel whatsapp or same',
    );
    expect(() => load('variants: { "not a language": { body: x } }')).toThrow(/workflows\.yaml:9:\d+ /);
  });

  it('SMS sender rules: Twilio’s 1600-character limit and a missing sender are refused before sending', () => {
    const refuses = twilio.channels!.sms!.refuses!;
    expect(refuses({ to: '+14155550100', body: 'x'.repeat(1600) }, { from_number: '+15005550006' })).toBeUndefined();
    expect(refuses({ to: '+14155550100', body: 'x'.repeat(1601) }, { from_number: '+15005550006' })).toBe(
      'the SMS body has 1601 characters; Twilio refuses more than 1600',
    );
    expect(refuses({ to: '+14155550100', body: 'hi' }, {})).toBe(
      'no sender: set the twilio from_number secret (TWILIO_FROM_NUMBER)',
    );
  });
});
