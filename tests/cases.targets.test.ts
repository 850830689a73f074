import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIds } from '../src/engine/queues.js';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders, twilioWebhook } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';

// Complaints by SMS open a case in `support` (Mon–Fri 09:00–18:00 UTC): 4 open hours to answer, 27 to resolve.
const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents:
  - { id: sam, name: Sam }
  - { id: sue, name: Sue }
  - { id: lee, name: Lee Lead, email: lee@example.com }
pools:
  support: { agents: [sam, sue], business_hours: office, lead: lee }
business_hours:
  office: { time_zone: UTC, open: { mon-fri: "09:00-18:00" } }
workflows:
  - id: sms
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: leads
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
  - id: complaints
    trigger: { type: event, on: message.received }
    steps:
      - type: open_case
        pool: support
        subject: "{{ summary }}"
        first_response: 4h
        resolution: 27h
        join_open_case: true
        open_if: "$contains($lowercase(summary), /broken|refund/)"
  - id: breach
    trigger: { type: event, on: case.first_response_breached }
    steps: [{ type: log, message: "case {{ case_id }} breached; lead {{ pool_lead.id }}" }]
`;

describe('cases: targets in business hours, paused while waiting, joined, breached once, moved by a merge and back', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let env: Record<string, string>;
  // Friday 4 December 2026, 17:00 UTC: one open hour left that day.
  let clock = new Date('2026-12-04T17:00:00Z');
  const now = () => clock;
  let sms = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
    });
    app = await startTestCrmflow(env, undefined, now);
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  const text = async (from: string, body: string) => {
    sms++;
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      MessageSid: `SM${String(sms).padStart(32, '0')}`,
      SmsStatus: 'received',
      From: from,
      To: '+15005550006',
      Body: body,
      NumMedia: '0',
    };
    const { body: form, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', form, headers)).status).toBe(200);
  };
  const thread = (caseId: number, inbound: number) =>
    waitFor(`${inbound} inbound messages on case ${caseId}`, async () => {
      const { body } = await api(app, `/api/cases/${caseId}`);
      return body.thread.filter((entry: { kind: string }) => entry.kind === 'inbound').length === inbound && body;
    });
  let caseId: number;

  it('a complaint on Friday 17:00 with first_response 4h in Mon–Fri 09:00–18:00 is due Monday 12:00', async () => {
    const lead = JSON.stringify({ submission_id: 'older-1', name: 'Older Record', email: 'dana@example.com' });
    expect((await post(app, '/webhooks/form', lead, formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    await waitFor(
      'the older customer',
      async () => (await count(db.pool, "SELECT 1 FROM customer_identities WHERE value = 'dana@example.com'")) === 1,
    );

    await text('+14155550111', 'My blender arrived broken');
    const { body } = await waitFor('the case', async () => {
      const result = await api(app, '/api/cases?status=open');
      return result.body.cases.length === 1 && result;
    });
    const opened = body.cases[0];
    caseId = opened.id;
    expect(opened).toMatchObject({
      status: 'open',
      priority: 'normal',
      channel: 'sms',
      owner_agent_id: 'sam',
      subject: expect.stringContaining('broken'),
    });
    expect(opened.first_response_due_at).toBe('2026-12-07T12:00:00.000Z');
    // 1 h Friday, 9 h Monday, 9 h Tuesday, 8 h Wednesday.
    expect(opened.resolution_due_at).toBe('2026-12-09T17:00:00.000Z');
    expect(opened.first_response_time_left_ms).toBe(4 * 3_600_000);
  });

  it('a second message from the same customer joins the open case (no complaint words needed)', async () => {
    await text('+14155550111', 'Any news? Order 1234');
    const detail = await thread(caseId, 2);
    expect(detail.thread.map((entry: { body: string }) => entry.body)).toEqual([
      expect.stringContaining('broken'),
      expect.stringContaining('Any news'),
    ]);
    expect(await count(db.pool, 'SELECT 1 FROM cases')).toBe(1);
  });

  it('waiting on the customer pauses the clock; their answer resumes it with the time that was left', async () => {
    clock = new Date('2026-12-07T10:00:00Z'); // Monday 10:00: 2 open hours left
    const paused = await api(app, `/api/cases/${caseId}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'waiting_on_customer' }),
    });
    expect(paused.status).toBe(200);
    expect(paused.body.case).toMatchObject({
      status: 'waiting_on_customer',
      first_response_due_at: null,
      first_response_time_left_ms: 2 * 3_600_000,
    });

    clock = new Date('2026-12-08T09:00:00Z'); // a day later the customer answers
    await text('+14155550111', 'Here is the photo you asked for');
    await thread(caseId, 3);
    const { body } = await api(app, `/api/cases/${caseId}`);
    expect(body).toMatchObject({ status: 'open', first_response_due_at: '2026-12-08T11:00:00.000Z' });
    expect(
      body.thread
        .filter((entry: { kind: string }) => entry.kind === 'status')
        .map((entry: { data: unknown }) => entry.data),
    ).toEqual([
      { from: 'open', to: 'waiting_on_customer' },
      { from: 'waiting_on_customer', to: 'open' },
    ]);
  });

  it('the breach event fires exactly once across a worker kill and duplicate checks', async () => {
    const due = new Date('2026-12-08T11:00:00Z');
    await waitFor(
      'the delayed check',
      async () => (await app.queue.getJobState(jobIds.caseCheck(caseId, 'first_response', due))) === 'delayed',
    );
    clock = new Date('2026-12-08T12:00:00Z');
    // The worker dies and Redis loses the delayed check with it: the reconciler of the next process adds it back.
    await app.queue.remove(jobIds.caseCheck(caseId, 'first_response', due));
    await app.close();
    app = await startTestCrmflow(env, undefined, now);
    await waitFor(
      'the breach workflow',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'breach' AND status = 'succeeded'")) === 1,
    );

    // A duplicate check (a second job, a stalled one run again) emits nothing.
    await app.queue.add('case', { kind: 'case', caseId, target: 'first_response' }, { jobId: 'duplicate-check' });
    await waitFor(
      'the duplicate check done',
      async () => (await app.queue.getJobState('duplicate-check')) === 'completed',
    );
    await app.reconcile();
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached'")).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'breach'")).toBe(1);
    const { rows } = await db.pool.query("SELECT data FROM engine_events WHERE type = 'case.first_response_breached'");
    expect(rows[0].data).toMatchObject({
      case_id: caseId,
      target: 'first_response',
      pool_lead: { id: 'lee', email: 'lee@example.com' },
    });
  });

  it('a person answering stops the first-response clock; the case is listed for its owner', async () => {
    const noted = await api(app, `/api/cases/${caseId}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ body: 'Called the customer' }),
    });
    expect(noted.status).toBe(201);
    expect(noted.body.case).toMatchObject({
      first_responded_by: 'api-token',
      first_response_due_at: null,
      first_response_time_left_ms: null,
    });
    expect((await api(app, '/api/cases?owner=sam')).body.cases.map((row: { id: number }) => row.id)).toEqual([caseId]);
    expect((await api(app, '/api/cases?owner=sue')).body.cases).toEqual([]);
    expect((await api(app, '/api/cases?status=nope')).status).toBe(400);
    expect((await api(app, '/api/cases/999999')).status).toBe(404);
    expect(await count(db.pool, "SELECT 1 FROM audit_log WHERE action IN ('case.note', 'case.status')")).toBe(2);
  });

  it('a merge moves the case to the customer kept', async () => {
    const smsCustomer = (
      await db.pool.query<{ customer_id: number }>('SELECT customer_id FROM cases WHERE id = $1', [caseId])
    ).rows[0]!.customer_id;
    const lead = JSON.stringify({
      submission_id: 'merge-1',
      name: 'Dana',
      email: 'dana@example.com',
      phone: '+14155550111',
    });
    expect((await post(app, '/webhooks/form', lead, formHeaders(lead, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    const merged = await waitFor('the merge', async () => {
      const { rows } = await db.pool.query<{ merged_into: number | null }>(
        'SELECT merged_into FROM customers WHERE id = $1',
        [smsCustomer],
      );
      return rows[0]!.merged_into;
    });
    const { rows } = await db.pool.query<{ customer_id: number }>(
      'SELECT DISTINCT customer_id FROM case_entries WHERE case_id = $1 UNION SELECT customer_id FROM cases WHERE id = $1',
      [caseId],
    );
    expect(rows).toEqual([{ customer_id: merged }]);
    expect(
      (await api(app, `/api/cases?customer_id=${smsCustomer}`)).body.cases.map((row: { id: number }) => row.id),
    ).toEqual([caseId]);

    // Undoing the merge gives the case and its thread back to the customer they came from.
    const undone = await api(app, `/api/customers/${merged}/unmerge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: smsCustomer }),
    });
    expect(undone.status).toBe(200);
    const back = await db.pool.query(
      'SELECT DISTINCT customer_id FROM case_entries WHERE case_id = $1 UNION SELECT customer_id FROM cases WHERE id = $1',
      [caseId],
    );
    expect(back.rows).toEqual([{ customer_id: smsCustomer }]);
  });
});
