import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { dovecotMissing, mailboxesRead, startDovecot, type Dovecot } from './helpers/dovecot.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** The shipped workflows.yaml, as a user copies it. */
const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const SALES = 'sales@shop.example.org';

describe.skipIf(dovecotMissing)('the shipped email-to-sales workflow, on a real mailbox', () => {
  let db: TestDatabase;
  let dovecot: Dovecot;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    dovecot = await startDovecot([SALES]);
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(EXAMPLE_CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { EMAIL_MAILBOXES: `sales=${dovecot.url(SALES)}` },
      }),
    );
    // Mail that was there before the first read is left alone (backfill_days: 0): deliver only after it.
    await mailboxesRead(db.pool, ['sales']);
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await dovecot?.remove();
    await db?.drop();
  });

  const deliver = async (from: string, subject: string, text: string) => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: dovecot.port,
      secure: false,
      auth: { user: SALES, pass: 'imap-test-password' },
      logger: false,
    });
    await client.connect();
    await client.append(
      'INBOX',
      `From: ${from}\r\nTo: ${SALES}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}-${Date.now()}@mail.example.com>\r\nDate: ${new Date().toUTCString()}\r\n\r\n${text}\r\n`,
    );
    await client.logout();
  };

  it('makes someone new a lead with an owner, an answer and 24 h to write back; a known customer’s email reaches the owner', async () => {
    await deliver('Nina Patel <nina@example.com>', 'Wholesale prices', 'Do you sell wholesale?');
    const assignment = await waitFor('Nina assigned', async () => {
      const { rows } = await db.pool.query<{ customer_id: number; agent_id: string; pool: string; within_ms: number }>(
        `SELECT a.customer_id, a.agent_id, a.pool, extract(epoch FROM s.due_at - a.assigned_at) * 1000 AS within_ms
         FROM lead_assignments a JOIN lead_slas s ON s.assignment_id = a.id JOIN customer_identities i ON i.customer_id = a.customer_id
         WHERE i.kind = 'email' AND i.value = 'nina@example.com'`,
      );
      return rows[0];
    });
    expect(assignment.pool).toBe('sales');
    expect(Math.round(Number(assignment.within_ms) / 3_600_000)).toBe(24);
    const answer = await waitFor('the answer to Nina', async () =>
      smtp.messages.find((message) => message.to.includes('nina@example.com')),
    );
    expect(answer.subject).toBe('Re: Wholesale prices');
    const owner = { alice: 'alice@example.com', bob: 'bob@example.com', carol: 'carol@example.com' }[
      assignment.agent_id
    ]!;

    await deliver('Nina Patel <nina@example.com>', 'Minimum order', 'And what is the minimum order?');
    const told = await waitFor('the owner told', async () =>
      smtp.messages.find((message) => message.to.includes(owner)),
    );
    expect(told.subject).toBe('Nina Patel wrote: Minimum order');
    expect(told.text).toContain('And what is the minimum order?');
    expect(
      await count(db.pool, "SELECT 1 FROM timeline_events WHERE customer_id = $1 AND type = 'message.received'", [
        assignment.customer_id,
      ]),
    ).toBe(2);
    // No second answer to Nina, no second lead, no second SLA.
    expect(smtp.messages.filter((message) => message.to.includes('nina@example.com'))).toHaveLength(1);
    expect(
      await count(
        db.pool,
        'SELECT 1 FROM lead_slas s JOIN lead_assignments a ON a.id = s.assignment_id WHERE a.customer_id = $1',
        [assignment.customer_id],
      ),
    ).toBe(1);
  }, 60_000);
});
