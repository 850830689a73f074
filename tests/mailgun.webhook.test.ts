import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { fixtureBytes } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const KEY = SECRETS.MAILGUN_WEBHOOK_SIGNING_KEY!;
const OUR_MESSAGE_ID = '<run-41.reply.7@crmflow.shop.example.org>';

const CONFIG = `
connectors:
  mailgun: { secrets: { signing_key: "\${MAILGUN_WEBHOOK_SIGNING_KEY}", own_addresses: sales@shop.example.org } }
workflows:
  - id: mail-in
    trigger: { type: webhook, connector: mailgun, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: thank-for-mail
    trigger: { type: event, on: message.received }
    steps:
      - { type: reply, channel: email, to: "{{ $customer.email }}", subject: "We got your email", body: "Thanks, we answer today." }
`;

/** Mailgun's signature fields for now (or `ageSeconds` ago), under `key`. */
function signature(key = KEY, ageSeconds = 0) {
  const timestamp = String(Math.floor(Date.now() / 1000) - ageSeconds);
  const token = randomBytes(25).toString('hex');
  return {
    timestamp,
    token,
    signature: createHmac('sha256', key)
      .update(timestamp + token)
      .digest('hex'),
  };
}

/** The fixture delivery, signed: its placeholders replaced by `fields`. */
function signedSample(fields: { timestamp: string; token: string; signature: string }): string {
  return fixtureBytes('mailgun', 'inbound_reply.urlencoded.txt')
    .toString('utf8')
    .trim()
    .replace('timestamp=TIMESTAMP', `timestamp=${fields.timestamp}`)
    .replace('token=TOKEN', `token=${fields.token}`)
    .replace('signature=SIGNATURE', `signature=${fields.signature}`);
}

const URLENCODED = { 'content-type': 'application/x-www-form-urlencoded' };

describe('Mailgun inbound webhook', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), smtpUrl: smtp.url }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const stored = () => count(db.pool, "SELECT 1 FROM inbox_events WHERE connector = 'mailgun'");

  it('refuses a forged, a stale and a replayed delivery with nothing stored', async () => {
    const forged = await post(app, '/webhooks/mailgun', signedSample(signature('not-the-key')), URLENCODED);
    expect(forged.status).toBe(401);
    const stale = await post(app, '/webhooks/mailgun', signedSample(signature(KEY, 10 * 60)), URLENCODED);
    expect(stale.status).toBe(401);
    const body = signedSample(signature());
    const tampered = body.replace('price+list', 'price+lists');
    expect(
      (
        await post(
          app,
          '/webhooks/mailgun',
          tampered.replace(/signature=[0-9a-f]+/, 'signature=' + '0'.repeat(64)),
          URLENCODED,
        )
      ).status,
    ).toBe(401);
    expect(await stored()).toBe(0);
  });

  it('accepts a correctly signed reply once, joined to the email of ours it answers, without its quoted history', async () => {
    // Our earlier email to Ana, whose Message-ID her reply names in In-Reply-To.
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO outbound_messages (idempotency_key, channel, transport, recipient, subject, body, status, email_message_id, sent_at)
       VALUES ('run:41:reply', 'email', 'smtp', 'ana.souza@example.com', 'We got your message', 'Hi Ana', 'sent', $1, now()) RETURNING id`,
      [OUR_MESSAGE_ID],
    );
    const body = signedSample(signature());
    const first = await post(app, '/webhooks/mailgun', body, URLENCODED);
    expect(first.status).toBe(200);
    // The same capture again: its token was used.
    expect((await post(app, '/webhooks/mailgun', body, URLENCODED)).status).toBe(401);
    // Mailgun delivering the same email again signs it anew: accepted, and a duplicate.
    expect((await post(app, '/webhooks/mailgun', signedSample(signature()), URLENCODED)).status).toBe(200);
    expect(await stored()).toBe(1);

    const entry = await waitFor('the reply on the timeline', async () => {
      const result = await db.pool.query<{ type: string; data: Record<string, unknown>; summary: string }>(
        `SELECT t.type, t.data, t.summary FROM timeline_events t JOIN customer_identities i ON i.customer_id = t.customer_id
         WHERE i.kind = 'email' AND i.value = 'ana.souza@example.com' AND t.source = 'mailgun'`,
      );
      return result.rows[0];
    });
    expect(entry).toMatchObject({
      type: 'message.received',
      data: {
        text: 'Thanks! Could you send the price list for 50 units?',
        references: [OUR_MESSAGE_ID],
        in_reply_to_message: { message_id: rows[0]!.id },
        automated: null,
      },
    });
    expect(await count(db.pool, "SELECT 1 FROM timeline_events WHERE source = 'mailgun'")).toBe(1);
  });

  it('answers a person’s email in a chained workflow, never an out-of-office', async () => {
    const delivery = (from: string, id: string, extra: Array<[string, string]>) =>
      new URLSearchParams({
        ...signature(),
        recipient: 'sales@shop.example.org',
        sender: from,
        from,
        subject: 'Hello',
        'body-plain': 'Hello there',
        'message-headers': JSON.stringify([['Message-Id', `<${id}@mail.example.com>`], ['From', from], ...extra]),
      }).toString();
    expect(
      (
        await post(
          app,
          '/webhooks/mailgun',
          delivery('otto@example.com', 'ooo-1', [
            ['Auto-Submitted', 'auto-replied'],
            ['Subject', 'Out of office'],
          ]),
          URLENCODED,
        )
      ).status,
    ).toBe(200);
    expect(
      (await post(app, '/webhooks/mailgun', delivery('paula@example.com', 'person-1', []), URLENCODED)).status,
    ).toBe(200);
    await waitFor('the answer to Paula', async () =>
      smtp.messages.some((message) => message.to.includes('paula@example.com')),
    );
    const skipped = await waitFor('the chained run on the out-of-office', async () => {
      const { rows } = await db.pool.query<{ output: Record<string, unknown> }>(
        `SELECT s.output FROM workflow_runs r JOIN run_steps s ON s.run_id = r.id JOIN customer_identities i ON i.customer_id = r.customer_id
         WHERE r.workflow = 'thank-for-mail' AND i.value = 'otto@example.com'`,
      );
      return rows[0]?.output;
    });
    expect(skipped).toMatchObject({
      status: 'skipped',
      reason: 'not answered automatically: Auto-Submitted: auto-replied',
    });
    expect(smtp.messages.some((message) => message.to.includes('otto@example.com'))).toBe(false);
  });

  it('suggests merging the sender of a reply from another address with the customer we wrote to', async () => {
    const { rows } = await db.pool.query<{ customer_id: number }>(
      "SELECT customer_id FROM customer_identities WHERE kind = 'email' AND value = 'ana.souza@example.com'",
    );
    const ana = rows[0]!.customer_id;
    await db.pool.query(
      `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, subject, body, status, email_message_id, sent_at)
       VALUES ('run:42:reply', $1, 'email', 'smtp', 'ana.souza@example.com', 'Your price list', 'Attached', 'sent', '<run.42.reply@crmflow>', now())`,
      [ana],
    );
    const reply = new URLSearchParams({
      ...signature(),
      recipient: 'sales@shop.example.org',
      from: 'Ana Souza <ana@souza-design.example>',
      subject: 'Re: Your price list',
      'stripped-text': 'Thanks, ordering 50.',
      'message-headers': JSON.stringify([
        ['Message-Id', '<work-1@souza-design.example>'],
        ['In-Reply-To', '<run.42.reply@crmflow>'],
      ]),
    }).toString();
    expect((await post(app, '/webhooks/mailgun', reply, URLENCODED)).status).toBe(200);
    const suggestion = await waitFor('the merge suggestion', async () => {
      const result = await db.pool.query<{ customer_a: number; customer_b: number; reason: Record<string, unknown> }>(
        'SELECT customer_a, customer_b, reason FROM customer_merge_suggestions',
      );
      return result.rows[0];
    });
    const { rows: work } = await db.pool.query<{ customer_id: number }>(
      "SELECT customer_id FROM customer_identities WHERE kind = 'email' AND value = 'ana@souza-design.example'",
    );
    expect([suggestion.customer_a, suggestion.customer_b].sort()).toEqual([ana, work[0]!.customer_id].sort());
    expect(suggestion.reason).toMatchObject({ why: 'a reply to our email to the other customer' });
  });

  it('reads a multipart delivery: attachments by name, type and size, never their bytes', async () => {
    const boundary = '----mailgun-test-boundary';
    const fields = {
      ...signature(),
      recipient: 'sales@shop.example.org',
      sender: 'eva@example.com',
      from: 'Eva <eva@example.com>',
      subject: 'Floor plan',
      'body-plain': 'Here is the plan.',
      'stripped-text': 'Here is the plan.',
      'attachment-count': '1',
      'message-headers': JSON.stringify([
        ['Message-Id', '<plan-1@mail.example.com>'],
        ['From', 'Eva <eva@example.com>'],
        ['Date', 'Tue, 1 Dec 2026 10:00:00 +0000'],
      ]),
    };
    const file = Buffer.alloc(2048, 7);
    const parts = [
      ...Object.entries(fields).map(([name, value]) =>
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
      ),
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="attachment-1"; filename="plan.pdf"\r\nContent-Type: application/pdf\r\n\r\n`,
      ),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ];
    const response = await post(app, '/webhooks/mailgun', Buffer.concat(parts), {
      'content-type': `multipart/form-data; boundary=${boundary}`,
    });
    expect(response.status).toBe(200);
    const data = await waitFor('Eva’s email on the timeline', async () => {
      const result = await db.pool.query<{ data: Record<string, unknown> }>(
        `SELECT data FROM timeline_events WHERE external_id = 'email/received/<plan-1@mail.example.com>'`,
      );
      return result.rows[0]?.data;
    });
    expect(data.attachments).toEqual([{ filename: 'plan.pdf', content_type: 'application/pdf', size: 2048 }]);
    expect(data.text).toBe('Here is the plan.');
  });
});
