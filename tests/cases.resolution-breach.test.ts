import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIds } from '../src/engine/queues.js';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { twilioWebhook } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';
const HOUR = 3_600_000;

// Complaints by SMS open a case in `support` (Mon–Fri 09:00–18:00 UTC) to be resolved within 10 open hours.
const CONFIG = `
connectors:
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents: [{ id: sam, name: Sam }, { id: lee, name: Lee Lead, email: lee@example.com }]
pools:
  support: { agents: [sam], business_hours: office, lead: lee }
business_hours:
  office: { time_zone: UTC, open: { mon-fri: "09:00-18:00" } }
workflows:
  - id: sms
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: complaints
    trigger: { type: event, on: message.received }
    steps:
      - { type: open_case, pool: support, subject: "{{ summary }}", first_response: 4h, resolution: 10h, join_open_case: true }
  - id: escalate
    trigger: { type: event, on: case.resolution_breached }
    steps: [{ type: log, message: "case {{ case_id }} not resolved by {{ due_at }}; tell {{ pool_lead.id }}" }]
`;

describe('cases: the resolution breach fires once, after its target in business hours, paused while waiting on the customer', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let clock = new Date('2026-12-07T09:00:00Z');
  let sms = 0;
  let caseId: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
    });
    app = await startTestCrmflow(env, undefined, () => clock);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const json = (body: unknown) => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = async (body: string) => {
    sms++;
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      MessageSid: `SM${String(sms).padStart(32, '0')}`,
      SmsStatus: 'received',
      From: '+14155550123',
      To: '+15005550006',
      Body: body,
      NumMedia: '0',
    };
    const { body: form, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', form, headers)).status).toBe(200);
  };
  const breaches = () => count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.resolution_breached'");
  /** The delayed check of a due time, run now (as BullMQ does when its delay is over). */
  const fireCheck = async (due: Date) => {
    const id = jobIds.caseCheck(caseId, 'resolution', due);
    const job = await waitFor(`the delayed check of ${due.toISOString()}`, async () => {
      const found = await app.queue.getJob(id);
      return found && (await found.getState()) === 'delayed' && found;
    });
    await job.promote();
    await waitFor(
      `the check of ${due.toISOString()} done`,
      async () => (await app.queue.getJobState(id)) === 'completed',
    );
  };
  /** A check that is not the scheduled one (a duplicate job, a stalled one run again). */
  const extraCheck = async (jobId: string) => {
    await app.queue.add('case', { kind: 'case', caseId, target: 'resolution' }, { jobId });
    await waitFor(`${jobId} done`, async () => (await app.queue.getJobState(jobId)) === 'completed');
  };

  it('Monday 09:00 + 10 open hours is due Tuesday 10:00; a person answering stops only the first-response clock', async () => {
    await text('The parcel was never received');
    const { body } = await waitFor('the case', async () => {
      const result = await api(app, '/api/cases?status=open');
      return result.body.cases.length === 1 && result;
    });
    caseId = body.cases[0].id;
    expect(body.cases[0]).toMatchObject({
      resolution_due_at: '2026-12-08T10:00:00.000Z',
      resolution_time_left_ms: 10 * HOUR,
    });

    clock = new Date('2026-12-07T10:00:00Z');
    const noted = await api(app, `/api/cases/${caseId}/notes`, json({ body: 'Asked the courier' }));
    expect(noted.body.case).toMatchObject({
      first_response_due_at: null,
      resolution_due_at: '2026-12-08T10:00:00.000Z',
    });
  });

  it('waiting on the customer pauses it: its old due time passes without a breach', async () => {
    clock = new Date('2026-12-07T12:00:00Z'); // 3 open hours used, 7 left
    const paused = await api(app, `/api/cases/${caseId}/status`, json({ status: 'waiting_on_customer' }));
    expect(paused.body.case).toMatchObject({
      resolution_due_at: null,
      resolution_left_ms: 7 * HOUR,
      resolution_time_left_ms: 7 * HOUR,
    });

    clock = new Date('2026-12-09T09:00:00Z'); // Wednesday, long after the Tuesday 10:00 it was first due
    await fireCheck(new Date('2026-12-08T10:00:00Z'));
    await app.reconcile();
    expect(await breaches()).toBe(0);
  });

  it("the customer's answer resumes it with the 7 open hours that were left: due Wednesday 16:00", async () => {
    await text('The courier says it is lost');
    const detail = await waitFor('the case open again', async () => {
      const { body } = await api(app, `/api/cases/${caseId}`);
      return body.status === 'open' && body;
    });
    expect(detail).toMatchObject({ resolution_due_at: '2026-12-09T16:00:00.000Z', resolution_time_left_ms: 7 * HOUR });

    clock = new Date('2026-12-09T15:00:00Z'); // an early check (not the scheduled one) finds it not due yet
    await extraCheck('early-check');
    expect(await breaches()).toBe(0);
  });

  it('at the due time the breach fires once, with one run of the escalation, whatever checks follow', async () => {
    clock = new Date('2026-12-09T16:30:00Z');
    await fireCheck(new Date('2026-12-09T16:00:00Z'));
    const escalated = "SELECT 1 FROM workflow_runs WHERE workflow = 'escalate' AND status = 'succeeded'";
    await waitFor('the escalation run', async () => (await count(db.pool, escalated)) === 1);

    await extraCheck('duplicate-check');
    await app.reconcile();
    clock = new Date('2026-12-09T17:00:00Z');
    expect((await api(app, `/api/cases/${caseId}/status`, json({ status: 'resolved' }))).status).toBe(200);
    await extraCheck('after-resolve-check');

    expect(await breaches()).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'escalate'")).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached'")).toBe(0);
    const { rows } = await db.pool.query("SELECT data FROM engine_events WHERE type = 'case.resolution_breached'");
    expect(rows[0].data).toMatchObject({
      case_id: caseId,
      target: 'resolution',
      due_at: '2026-12-09T16:00:00.000Z',
      pool_lead: { id: 'lee' },
    });
    const { body } = await api(app, `/api/cases/${caseId}`);
    expect(body).toMatchObject({ status: 'resolved', resolution_breached_at: '2026-12-09T16:30:00.000Z' });
  });
});
