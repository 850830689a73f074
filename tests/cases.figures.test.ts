import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { recordFeedback } from '../src/store/feedback.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { twilioWebhook } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';
const HOUR = 3_600_000;

// Every SMS opens a case in `support` (Mon–Fri 09:00–18:00 UTC): 4 open hours to answer, 27 to resolve.
const CONFIG = `
connectors:
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents: [{ id: sam, name: Sam }]
pools:
  support: { agents: [sam], business_hours: office }
business_hours:
  office: { time_zone: UTC, open: { mon-fri: "09:00-18:00" } }
workflows:
  - id: sms
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: complaints
    trigger: { type: event, on: message.received }
    steps:
      - { type: open_case, pool: support, subject: "{{ summary }}", first_response: 4h, resolution: 27h, join_open_case: true }
`;

describe('cases: the figures of a period in the API, in business hours, unknown as null', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let clock = new Date('2026-12-04T10:00:00Z');
  let sms = 0;

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
  /** A complaint by SMS at `at`; returns the case it opened. */
  const complaint = async (at: string, from: string) => {
    clock = new Date(at);
    sms++;
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      MessageSid: `SM${String(sms).padStart(32, '0')}`,
      SmsStatus: 'received',
      From: from,
      To: '+15005550006',
      Body: `Complaint number ${sms}`,
      NumMedia: '0',
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', body, headers)).status).toBe(200);
    return waitFor(`the case of ${from}`, async () => {
      const { rows } = await db.pool.query<{ id: number; customer_id: number }>(
        "SELECT c.id, c.customer_id FROM cases c JOIN customer_identities i ON i.customer_id = c.customer_id WHERE i.kind = 'phone' AND i.value = $1",
        [from],
      );
      return rows[0];
    });
  };
  const note = async (caseId: number, at: string) => {
    clock = new Date(at);
    expect((await api(app, `/api/cases/${caseId}/notes`, json({ body: 'Looking into it' }))).status).toBe(201);
  };
  const resolve = async (caseId: number, at: string) => {
    clock = new Date(at);
    expect((await api(app, `/api/cases/${caseId}/status`, json({ status: 'resolved' }))).status).toBe(200);
  };
  /** A satisfaction answer on a question sent about the case (rating links themselves are tested in cases.feedback). */
  const rate = async (row: { id: number; customer_id: number }, score: number) => {
    const key = `case:${row.id}:csat:0`;
    await db.pool.query(
      `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, body, status)
       VALUES ($1, $2, 'sms', 'twilio', '+10000000000', 'How did we do?', 'sent')`,
      [key, row.customer_id],
    );
    expect(
      await recordFeedback(db.pool, { messageKey: key, caseId: row.id, kind: 'csat', score, at: clock }),
    ).toMatchObject({ changed: true });
  };

  it('counts, medians in business hours, breach rates and CSAT of the cases opened in the period', async () => {
    // Before the period: opened Friday 4 December, still open.
    await complaint('2026-12-04T10:00:00Z', '+14155550100');
    // A: Monday 09:00, noted 10:00 (1 h), resolved 15:00 (6 h), rated 4.
    const a = await complaint('2026-12-07T09:00:00Z', '+14155550101');
    await note(a.id, '2026-12-07T10:00:00Z');
    await resolve(a.id, '2026-12-07T15:00:00Z');
    await rate(a, 4);
    // B: Monday 17:00, noted Tuesday 11:00 (1 h + 2 h = 3 h), resolved Wednesday 10:00 (1 h + 9 h + 1 h = 11 h), rated 2.
    const b = await complaint('2026-12-07T17:00:00Z', '+14155550102');
    await note(b.id, '2026-12-08T11:00:00Z');
    // C: Tuesday 09:00, due 13:00, breached when its check runs at 13:30, noted 14:00 (5 h), still open.
    const c = await complaint('2026-12-08T09:00:00Z', '+14155550103');
    clock = new Date('2026-12-08T13:30:00Z');
    await app.queue.add('case', { kind: 'case', caseId: c.id, target: 'first_response' }, { jobId: 'check-c' });
    await waitFor(
      'the breach of C',
      async () => (await api(app, `/api/cases/${c.id}`)).body.first_response_breached_at !== null,
    );
    await note(c.id, '2026-12-08T14:00:00Z');
    await resolve(b.id, '2026-12-09T10:00:00Z');
    await rate(b, 2);
    // D: Wednesday 11:00, nobody answered yet.
    await complaint('2026-12-09T11:00:00Z', '+14155550104');
    clock = new Date('2026-12-09T12:00:00Z');

    const { status, body } = await api(app, '/api/cases/figures?from=2026-12-07&to=2026-12-12T00:00:00Z');
    expect(status).toBe(200);
    expect(body).toEqual({
      from: '2026-12-07T00:00:00.000Z',
      to: '2026-12-12T00:00:00.000Z',
      active_now: 3, // C, D and the one opened before the period
      opened: 4,
      median_first_response_ms: 3 * HOUR, // of 1 h, 3 h, 5 h
      median_resolution_ms: 8.5 * HOUR, // of 6 h and 11 h
      first_response_breach_rate: 0.25,
      resolution_breach_rate: 0,
      csat_average: 3,
      csat_answers: 2,
    });

    // Monday morning alone: A.
    const monday = await api(app, '/api/cases/figures?from=2026-12-07T00:00:00Z&to=2026-12-07T12:00:00Z');
    expect(monday.body).toMatchObject({
      opened: 1,
      median_first_response_ms: HOUR,
      median_resolution_ms: 6 * HOUR,
      csat_average: 4,
      csat_answers: 1,
    });
    // Only D (nobody answered, nothing resolved or rated): unknown, not 0.
    const wednesday = await api(app, '/api/cases/figures?from=2026-12-09T11:00:00Z&to=2026-12-09T12:00:00Z');
    expect(wednesday.body).toMatchObject({
      opened: 1,
      median_first_response_ms: null,
      median_resolution_ms: null,
      csat_average: null,
      csat_answers: 0,
    });
    // Without `to`: until now (the clock); without `from`: the 30 days before.
    const recent = await api(app, '/api/cases/figures');
    expect(recent.body).toMatchObject({ from: '2026-11-09T12:00:00.000Z', to: '2026-12-09T12:00:00.000Z', opened: 5 });
  });

  it('a period without cases is all unknown; bad periods are refused with the reason', async () => {
    const { body } = await api(app, '/api/cases/figures?from=2026-11-01&to=2026-11-02');
    expect(body).toMatchObject({
      opened: 0,
      median_first_response_ms: null,
      median_resolution_ms: null,
      first_response_breach_rate: null,
      resolution_breach_rate: null,
      csat_average: null,
      csat_answers: 0,
    });
    const garbage = await api(app, '/api/cases/figures?from=yesterday');
    expect(garbage.status).toBe(400);
    expect(garbage.body.error.message).toMatch(/from must be an ISO 8601/);
    const backwards = await api(app, '/api/cases/figures?from=2026-12-09&to=2026-12-01');
    expect(backwards.status).toBe(400);
    expect(backwards.body.error.message).toMatch(/from must be before to/);
  });
});
