import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { api, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { dovecotMissing, mailboxesRead, startDovecot, type Dovecot } from './helpers/dovecot.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const SALES = 'sales@shop.example.org';
const BOB = 'bob@shop.example.org';

// The shared sales@ mailbox and Bob's own; every folder is read every 2 s besides IDLE on the INBOXes. A mailbox on a
// server that is down comes first: it must not hold up the others.
const CONFIG = `
connectors:
  email:
    secrets:
      mailboxes: "down=imap://nobody:pw@127.0.0.1:9,sales=\${SALES_IMAP_URL},bob=\${BOB_IMAP_URL}?agent=bob"
      poll_seconds: "2"
agents:
  - { id: ann, name: Ann, email: ann@shop.example.org }
  - { id: bob, name: Bob, email: ${BOB} }
pools:
  sales: { agents: [ann] }
  backup: { agents: [bob] }
workflows:
  - id: email-in
    trigger: { type: webhook, connector: email, event: message.received, when: "$not(system_sender)" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - { type: timeline }
      - type: assign_lead
        pool: sales
        sla: { within: 8s, then: { escalate_to: backup } }
      - { type: reply, channel: email, subject: "Re: {{ subject }}", body: "Thanks, {{ $owner.name }} will answer you." }
  - id: email-sent
    trigger: { type: webhook, connector: email, event: message.sent }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

let serial = 0;
function email(headers: Record<string, string>, text: string): string {
  const lines = {
    'Message-ID': `<imap-test-${Date.now()}-${++serial}@mail.example.com>`,
    Date: new Date().toUTCString(),
    ...headers,
  };
  return `${Object.entries(lines)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\r\n')}\r\n\r\n${text}\r\n`;
}

describe.skipIf(dovecotMissing)('email connector against a real IMAP server (Dovecot)', () => {
  let db: TestDatabase;
  let dovecot: Dovecot;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  let env: Record<string, string>;

  /** Delivers a message into a folder of a mailbox, as the mail server does (IMAP APPEND), received `at` (default now). */
  const deliver = async (user: string, folder: string, raw: string, at?: Date) => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.port,
      secure: false,
      auth: { user, pass: 'imap-test-password' },
      logger: false,
    });
    await client.connect();
    await client.append(folder, raw, [], at);
    await client.logout();
  };
  const timeline = async (address: string) =>
    (
      await db.pool.query<{ type: string; external_id: string; data: Record<string, unknown>; customer_id: number }>(
        `SELECT t.type, t.external_id, t.data, t.customer_id FROM timeline_events t JOIN customer_identities i ON i.customer_id = t.customer_id
         WHERE i.kind = 'email' AND i.value = $1 AND t.source = 'email' ORDER BY t.id`,
        [address],
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    dovecot = await startDovecot([SALES, BOB]);
    smtp = await startSmtpServer();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      smtpUrl: smtp.url,
      extra: { SALES_IMAP_URL: dovecot.url(SALES), BOB_IMAP_URL: dovecot.url(BOB), SMTP_FROM: `Shop <${SALES}>` },
    });
    // Last week's mail, in the mailbox before crmflow ever read it.
    await deliver(
      SALES,
      'INBOX',
      email({ From: 'Olga <olga@example.com>', To: SALES, Subject: 'Old question' }, 'Still there?'),
      new Date(Date.now() - 7 * 86_400_000),
    );
    app = await startTestCrmflow(env);
    // Mail that was there before the first read is left alone (backfill_days: 0): deliver only after it.
    await mailboxesRead(db.pool, ['sales', 'bob']);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await dovecot?.remove();
    await db?.drop();
  });

  it('puts a delivered email on the sender’s timeline once, across a restart of crmflow and a reconnect to the server', async () => {
    await deliver(
      SALES,
      'INBOX',
      email(
        { From: 'Ana Souza <ana.souza@example.com>', To: SALES, Subject: 'Price for 50 units?' },
        'Could you send the price list?\r\n\r\nOn Mon, Dec 1 Shop wrote:\r\n> old text',
      ),
    );
    const [first] = await waitFor('the first email on the timeline', async () => {
      const rows = await timeline('ana.souza@example.com');
      return rows.length === 1 && rows;
    });
    expect(first).toMatchObject({
      type: 'message.received',
      data: {
        channel: 'email',
        subject: 'Price for 50 units?',
        text: 'Could you send the price list?',
        automated: null,
      },
    });
    await waitFor('the auto-reply', async () =>
      smtp.messages.some((message) => message.to.includes('ana.souza@example.com')),
    );

    // crmflow is down while a second email arrives: read when it is back, the first not again.
    await app.close();
    await deliver(
      SALES,
      'INBOX',
      email({ From: 'ana.souza@example.com', To: SALES, Subject: 'And shipping?' }, 'Do you ship to Lisbon?'),
    );
    app = await startTestCrmflow(env);
    await waitFor(
      'the email sent while crmflow was down',
      async () => (await timeline('ana.souza@example.com')).length === 2,
    );

    // The IMAP server restarts: the connection is opened again and the next email read.
    await dovecot.stop();
    await dovecot.restart();
    await deliver(SALES, 'INBOX', email({ From: 'ana.souza@example.com', To: SALES, Subject: 'One more' }, 'Thanks!'));
    const rows = await waitFor(
      'the email after the reconnect',
      async () => {
        const found = await timeline('ana.souza@example.com');
        return found.length === 3 && found;
      },
      30_000,
    );
    expect(new Set(rows.map((row) => row.external_id)).size).toBe(3);
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE connector = 'email'")).toBe(3);
    // Connecting the mailbox took in no old mail (backfill_days 0): nobody answers last week's questions by surprise.
    expect(await timeline('olga@example.com')).toEqual([]);
    // The auto-reply to the first lead did not count as the owner's contact: the lead was escalated.
    const { rows: slas } = await waitFor('the SLA of the first lead checked', async () => {
      const result = await db.pool.query<{ status: string }>(
        `SELECT s.status FROM lead_slas s JOIN lead_assignments a ON a.id = s.assignment_id WHERE a.customer_id = $1 AND s.status <> 'pending' ORDER BY a.id LIMIT 1`,
        [first!.customer_id],
      );
      return result.rows.length > 0 && result;
    });
    expect(slas[0]!.status).toBe('escalated');
  }, 90_000);

  it('counts an email in an agent’s Sent folder as that agent’s contact, which meets the open SLA', async () => {
    await deliver(
      SALES,
      'INBOX',
      email({ From: 'Carl <carl@example.com>', To: SALES, Subject: 'Quote' }, 'Please send a quote.'),
    );
    const [received] = await waitFor('Carl’s email', async () => {
      const rows = await timeline('carl@example.com');
      return rows.length === 1 && rows;
    });
    // A note to a colleague first: mail between our own addresses is about no customer.
    await deliver(
      BOB,
      'Sent',
      email({ From: `Bob <${BOB}>`, To: SALES, Subject: 'Carl wants a quote' }, 'I will answer him.'),
    );
    // Bob answers Carl, copying the shared mailbox.
    await deliver(
      BOB,
      'Sent',
      email(
        {
          From: `Bob <${BOB}>`,
          To: SALES,
          Cc: 'Carl <carl@example.com>',
          Subject: 'Re: Quote',
          'In-Reply-To': '<unknown@mail.example.com>',
        },
        'Hi Carl, here it is.',
      ),
    );
    const sent = await waitFor('Bob’s email on Carl’s timeline', async () =>
      (await timeline('carl@example.com')).find((row) => row.type === 'message.sent'),
    );
    expect(sent.data).toMatchObject({
      agent_id: 'bob',
      direction: 'outbound',
      from: BOB,
      to: ['carl@example.com', SALES],
    });
    expect(
      await count(
        db.pool,
        "SELECT 1 FROM inbox_events WHERE connector = 'email' AND type = 'message.sent' AND payload->>'subject' = 'Carl wants a quote'",
      ),
    ).toBe(0);
    const status = await waitFor('Carl’s SLA checked', async () => {
      const { rows } = await db.pool.query<{ status: string }>(
        `SELECT s.status FROM lead_slas s JOIN lead_assignments a ON a.id = s.assignment_id WHERE a.customer_id = $1 AND s.status <> 'pending'`,
        [received!.customer_id],
      );
      return rows[0]?.status;
    });
    expect(status).toBe('met');
    const { body } = await api(app, `/api/customers/${received!.customer_id}`);
    expect(body.owner_agent_id).toBe('ann');
  }, 60_000);

  it('reads a folder that was recreated (a new UIDVALIDITY) from its new start', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.port,
      secure: false,
      auth: { user: BOB, pass: 'imap-test-password' },
      logger: false,
    });
    await client.connect();
    const validity = async () => ((await client.status('Sent', { uidValidity: true })) || undefined)?.uidValidity;
    const before = await validity();
    await client.mailboxDelete('Sent');
    await client.mailboxCreate('Sent');
    expect(await validity()).not.toBe(before);
    await client.logout();
    // Its first message has UID 1 again, below the position stored for the old folder.
    await deliver(
      BOB,
      'Sent',
      email({ From: `Bob <${BOB}>`, To: 'Fay <fay@example.com>', Subject: 'Your visit' }, 'See you Monday.'),
    );
    const rows = await waitFor('the message in the new Sent folder', async () => {
      const found = await timeline('fay@example.com');
      return found.length === 1 && found;
    });
    expect(rows[0]).toMatchObject({ type: 'message.sent', data: { agent_id: 'bob' } });
  }, 60_000);

  it('puts an auto-reply on the timeline and does not answer it', async () => {
    await deliver(
      SALES,
      'INBOX',
      email(
        { From: 'Dora <dora@example.com>', To: SALES, Subject: 'Out of office', 'Auto-Submitted': 'auto-replied' },
        'I am away until Monday.',
      ),
    );
    const [entry] = await waitFor('the auto-reply on the timeline', async () => {
      const rows = await timeline('dora@example.com');
      return rows.length === 1 && rows;
    });
    expect(entry!.data.automated).toBe('Auto-Submitted: auto-replied');
    const run = await waitFor('the run finished', async () => {
      const { rows } = await db.pool.query<{ status: string; output: Record<string, unknown> }>(
        `SELECT r.status, s.output FROM workflow_runs r JOIN run_steps s ON s.run_id = r.id WHERE r.customer_id = $1 AND s.type = 'reply'`,
        [entry!.customer_id],
      );
      return rows[0];
    });
    expect(run.output).toMatchObject({
      status: 'skipped',
      reason: 'not answered automatically: Auto-Submitted: auto-replied',
    });
    expect(await count(db.pool, 'SELECT 1 FROM outbound_messages WHERE customer_id = $1', [entry!.customer_id])).toBe(
      0,
    );
    expect(smtp.messages.some((message) => message.to.includes('dora@example.com'))).toBe(false);
  }, 60_000);
});
