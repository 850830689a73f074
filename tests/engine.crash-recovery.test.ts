import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
agents: [{ id: ann, name: Ann }, { id: ben, name: Ben }, { id: cat, name: Cat }]
pools: { sales: { agents: [ann, ben, cat] } }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: assign_lead
        pool: sales
      - type: reply
        channel: email
        subject: "Thanks {{ name }}"
        body: "Submission {{ submission_id }}"
`;

const EVENTS = 1000;
const PEOPLE = 250;

/** Submission n is about person n % PEOPLE, alternately by email, by phone, or by both (which links the two). */
function submission(n: number): Record<string, string> {
  const person = n % PEOPLE;
  const email = `person${person}@crash.example`;
  const phone = `+1 415 55${String(person).padStart(5, '0')}`;
  const round = Math.floor(n / PEOPLE);
  return {
    submission_id: `crash-${n}`,
    name: `Person ${person}`,
    ...(round % 3 !== 1 ? { email } : {}),
    ...(round % 3 !== 0 ? { phone } : {}),
  };
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)), 'worker'], {
    env: { ...process.env, ...env, CI: 'true' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * Queues 1,000 events, stops the first worker process mid-way with `signal`, lets a second one finish, and reconciles:
 * every event processed once, no duplicate customer, timeline entry or email.
 */
function restartScenario(signal: 'SIGKILL' | 'SIGTERM') {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let api: Crmflow;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      smtpUrl: smtp.url,
      extra: { CRMFLOW_LOCK_MS: '2000', WORKER_CONCURRENCY: '16' },
    });
    api = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await api?.close();
    await smtp?.close();
    await db?.drop();
  });

  // 1,000 events through a worker that is stopped and replaced take about a minute on a quiet 2-core machine.
  it('processes every event once after a restart: no lost event, no duplicate customer, timeline entry or email', async () => {
    for (let start = 0; start < EVENTS; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, EVENTS - start) }, async (_, i) => {
          const body = JSON.stringify(submission(start + i));
          const response = await post(api, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
          expect(response.status).toBe(202);
        }),
      );
    }
    expect(await count(db.pool, 'SELECT 1 FROM inbox_events')).toBe(EVENTS);

    const first = startWorkerProcess(env);
    children.push(first);
    await waitFor(
      'the first worker to be mid-way',
      async () => (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'succeeded'")) >= 150,
      60_000,
      20,
    );
    first.kill(signal);
    const exitCode = await new Promise((resolve) => first.once('exit', resolve));
    const processedAtStop = await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'processed'");
    expect(processedAtStop).toBeLessThan(EVENTS);
    if (signal === 'SIGTERM') {
      // A clean stop: in-flight runs finished, none left running, nothing held by a dead lock.
      expect(exitCode).toBe(0);
      expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'running'")).toBe(0);
      expect((await api.queue.getJobCounts('active')).active).toBe(0);
    }

    const second = startWorkerProcess(env);
    children.push(second);
    await waitFor(
      'every event processed',
      async () => (await count(db.pool, "SELECT 1 FROM inbox_events WHERE status = 'processed'")) === EVENTS,
      120_000,
      200,
    );
    second.kill('SIGTERM');
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status = 'succeeded'")).toBe(EVENTS);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs')).toBe(EVENTS);
    expect(await count(db.pool, 'SELECT 1 FROM customers WHERE merged_into IS NULL')).toBe(PEOPLE);
    expect(await count(db.pool, 'SELECT 1 FROM timeline_events')).toBe(EVENTS);
    expect(
      await count(db.pool, 'SELECT customer_id FROM customer_identities GROUP BY customer_id HAVING count(*) <> 2'),
    ).toBe(0);

    // Every reply recorded once; an email interrupted between claim and outcome is `uncertain`, never resent.
    const messages = await db.pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM outbound_messages GROUP BY status',
    );
    const byStatus = Object.fromEntries(messages.rows.map((row) => [row.status, row.n]));
    const replies = await db.pool.query<{ status: string; n: number }>(
      "SELECT output->>'status' AS status, count(*)::int AS n FROM run_steps WHERE step_id = 'reply' AND status = 'succeeded' GROUP BY 1",
    );
    const replySteps = Object.fromEntries(replies.rows.map((row) => [row.status, row.n]));
    // Submissions with only a phone may reach a customer with no email yet: those replies are skipped, not lost.
    expect((replySteps.sent ?? 0) + (replySteps.uncertain ?? 0) + (replySteps.skipped ?? 0)).toBe(EVENTS);
    expect((byStatus.sent ?? 0) + (byStatus.uncertain ?? 0)).toBe((replySteps.sent ?? 0) + (replySteps.uncertain ?? 0));
    expect(byStatus.sent ?? 0).toBeGreaterThanOrEqual(EVENTS / 2);
    // A clean stop interrupts no send: nothing is left uncertain.
    if (signal === 'SIGTERM') expect(byStatus.uncertain ?? 0).toBe(0);
    const perMessageId = new Map<string, number>();
    for (const message of smtp.messages)
      perMessageId.set(message.messageId!, (perMessageId.get(message.messageId!) ?? 0) + 1);
    expect([...perMessageId.values()].filter((n) => n > 1)).toEqual([]);
    expect(smtp.messages.length).toBeGreaterThanOrEqual(byStatus.sent ?? 0);
    expect(smtp.messages.length).toBeLessThanOrEqual(EVENTS);
  }, 180_000);
}

describe('kill -9 of a worker process while 1,000 events are queued', () => restartScenario('SIGKILL'));
describe('SIGTERM of a worker process while 1,000 events are queued', () => restartScenario('SIGTERM'));
