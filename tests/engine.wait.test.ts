import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRow } from '../src/dashboard/views/runs.js';
import { jobIds } from '../src/engine/queues.js';
import type { Crmflow } from '../src/runtime.js';
import { getRun, listStepRecords } from '../src/store/runs.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders, shopifyHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** A run as `GET /api/runs` answers it (snake_case). */
type ApiRun = { id: number; customer_id: number | null; resume_at: string | null; trigger: Record<string, unknown> };

// Wait 3 s, then follow up unless the customer ordered meanwhile.
const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  shopify: { secrets: { webhook_secret: "\${SHOPIFY_WEBHOOK_SECRET}" } }
workflows:
  - id: lead-follow-up
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "$not(form = 'until')" }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: wait
        for: 3s
        unless: "$exists($timeline[type = 'order.created'])"
      - type: reply
        channel: email
        subject: "Still interested, {{ $customer.first_name }}?"
        body: "We have not heard from you since your message."
  - id: until-time
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'until'" }
    steps:
      - type: wait
        until: "$fromMillis($toMillis($event.occurred_at) + 2000)"
      - { type: log, message: "two seconds after {{ $event.occurred_at }}" }
  - id: shopify-order
    trigger: { type: webhook, connector: shopify, event: order.created }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

describe('wait step: runs suspended in Postgres, resumed by delayed jobs', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let env: Record<string, string>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    env = testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), smtpUrl: smtp.url });
    app = await startTestCrmflow(env);
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const submitLead = async (id: string, email: string) => {
    const body = JSON.stringify({ submission_id: id, name: `Lea ${id}`, email, message: 'Tell me more' });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    return waitFor(`the run of ${id} waiting`, async () => {
      const { body: runs } = await api(app, '/api/runs?workflow=lead-follow-up&status=waiting');
      return (runs.runs as ApiRun[]).find(
        (run) => run.customer_id !== null && !runIdsSeen.has(run.id) && runIdsSeen.add(run.id),
      );
    });
  };
  const runIdsSeen = new Set<number>();
  const finished = (runId: number) =>
    waitFor(`run ${runId} finished`, async () => {
      const run = await getRun(db.pool, runId);
      return run && ['succeeded', 'filtered', 'failed'].includes(run.status) ? run : undefined;
    });
  const emailsTo = (email: string) => smtp.messages.filter((message) => message.to.includes(email));

  it('records the run as waiting with its resume time, then sends the follow-up after the delay', async () => {
    const waiting = await submitLead('w-1', 'wait1@example.com');
    expect(waiting.resume_at).not.toBeNull();
    const steps = await listStepRecords(db.pool, waiting.id);
    expect(steps.find((step) => step.type === 'wait')).toMatchObject({
      status: 'waiting',
      output: { reason: 'wait 3s' },
    });
    expect(emailsTo('wait1@example.com')).toHaveLength(0);
    // The dashboard's runs table says so, with the time it resumes.
    expect(String(runRow((await getRun(db.pool, waiting.id))!))).toMatch(/status-waiting[\s\S]*resumes <time/);

    expect(await finished(waiting.id)).toMatchObject({ status: 'succeeded' });
    expect(emailsTo('wait1@example.com').map((message) => message.subject)).toEqual(['Still interested, Lea?']);
    const records = await listStepRecords(db.pool, waiting.id);
    expect(records.map((step) => step.status)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
    ]);

    // A duplicate resume job (same run) changes nothing.
    await app.queue.add('resume', { kind: 'resume', runId: waiting.id }, { jobId: `duplicate-resume-${waiting.id}` });
    await waitFor(
      'the duplicate job done',
      async () => (await app.queue.getJobState(`duplicate-resume-${waiting.id}`)) === 'completed',
    );
    expect(emailsTo('wait1@example.com')).toHaveLength(1);
  });

  it('survives a worker restart while waiting: a new instance on the same database and prefix resumes it once', async () => {
    const waiting = await submitLead('w-2', 'wait2@example.com');
    await app.close();
    expect((await getRun(db.pool, waiting.id))?.status).toBe('waiting');
    app = await startTestCrmflow(env);
    expect(await finished(waiting.id)).toMatchObject({ status: 'succeeded' });
    expect(emailsTo('wait2@example.com')).toHaveLength(1);
  });

  it('recovers a resume job Redis lost: the reconciler re-adds it once the time has come', async () => {
    const waiting = await submitLead('w-3', 'wait3@example.com');
    const jobId = jobIds.resume(waiting.id, new Date(waiting.resume_at!));
    expect(await app.queue.getJobState(jobId)).toBe('delayed');
    await app.queue.remove(jobId);
    expect(await app.queue.getJobState(jobId)).toBe('unknown');
    expect(await finished(waiting.id)).toMatchObject({ status: 'succeeded' });
    expect(emailsTo('wait3@example.com')).toHaveLength(1);
  });

  it('waits until the time an `until` expression gives', async () => {
    const body = JSON.stringify({ submission_id: 'u-1', form: 'until', name: 'Una', email: 'until@example.com' });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    const run = await waitFor(
      'the until run waiting',
      async () => (await api(app, '/api/runs?workflow=until-time&status=waiting')).body.runs[0] as ApiRun | undefined,
    );
    const occurredAt = new Date((run.trigger as { occurred_at: string }).occurred_at);
    expect(new Date(run.resume_at!).getTime()).toBe(occurredAt.getTime() + 2000);
    expect(await finished(run.id)).toMatchObject({ status: 'succeeded' });
  });

  it('ends the run as filtered when `unless` holds on the fresh customer: they ordered during the wait', async () => {
    const waiting = await submitLead('w-4', 'wait4@example.com');
    const sample = JSON.parse(
      readFileSync(new URL('../src/connectors/shopify/samples/orders_create.json', import.meta.url), 'utf8'),
    );
    const now = new Date().toISOString();
    const order = JSON.stringify({
      ...sample,
      id: 7_000_000_001,
      email: 'wait4@example.com',
      contact_email: 'wait4@example.com',
      created_at: now,
      updated_at: now,
    });
    expect(
      (await post(app, '/webhooks/shopify', order, shopifyHeaders(order, SECRETS.SHOPIFY_WEBHOOK_SECRET))).status,
    ).toBe(202);

    expect(await finished(waiting.id)).toMatchObject({ status: 'filtered' });
    const wait = (await listStepRecords(db.pool, waiting.id)).find((step) => step.type === 'wait');
    expect(wait).toMatchObject({
      status: 'succeeded',
      output: { unless: true, reason: expect.stringContaining('order.created') },
    });
    expect(emailsTo('wait4@example.com')).toHaveLength(0);
  });
});
