import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { waitFor } from './helpers/wait.js';
import { twilioWebhook } from './helpers/sign.js';

const PUBLIC_URL = 'https://crm.example.com';
const MESSAGES = '/2010-04-01/Accounts/ACtest/Messages.json';

const CONFIG = `
connectors:
  twilio:
    secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" }
workflows:
  - id: missed-call-sms
    trigger: { type: webhook, connector: twilio, event: call.missed }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: sms
        body: "Sorry we missed your call. We will call you back shortly."
`;

/**
 * A local stand-in for Twilio's Messages API (a real socket, so a dropped connection is a real one): each request
 * takes the next answer from `answers` — a status, or `reset` to destroy the connection without answering.
 */
interface FakeTwilio {
  url: string;
  answers: Array<number | 'reset'>;
  /** The To of every request received. */
  received: string[];
  close: () => Promise<void>;
}

async function startFakeTwilio(): Promise<FakeTwilio> {
  const fake = { answers: [], received: [] } as unknown as FakeTwilio;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      if (request.url !== MESSAGES) return void response.writeHead(404).end();
      fake.received.push(form.get('To') ?? '');
      const answer = fake.answers.shift() ?? 201;
      if (answer === 'reset') return void request.socket.destroy();
      const body =
        answer === 201
          ? { sid: `SM${String(fake.received.length).padStart(32, '0')}`, status: 'queued', to: form.get('To') }
          : { code: answer * 100, message: 'refused' };
      response.writeHead(answer, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return fake;
}

/** A signed Twilio status callback for a missed call from `from`. */
async function missedCall(app: Crmflow, callSid: string, from: string): Promise<void> {
  const params: Record<string, string> = {
    AccountSid: 'ACtest',
    ApiVersion: '2010-04-01',
    CallSid: callSid,
    CallStatus: 'no-answer',
    CallDuration: '0',
    Direction: 'inbound',
    From: from,
    To: '+15005550006',
    Timestamp: 'Mon, 23 Nov 2026 09:00:00 +0000',
  };
  const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
  const response = await post(app, '/webhooks/twilio', body, headers);
  expect(response.status).toBe(200);
}

const sid = (n: number) => `CA${String(n).padStart(32, '0')}`;

describe('sends with an unknown outcome, resends, replays and cancellations', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let twilio: FakeTwilio;
  const runOf = async (callSid: string) =>
    (
      await db.pool.query<{ id: number; status: string }>(
        "SELECT r.id, r.status FROM workflow_runs r JOIN inbox_events i ON i.id = r.inbox_event_id WHERE i.external_id LIKE $1 || '%' ORDER BY r.id",
        [callSid],
      )
    ).rows;
  const messagesTo = async (phone: string) =>
    (
      await db.pool.query<{
        id: number;
        status: string;
        status_reason: string | null;
        provider_id: string | null;
        attempts: number;
      }>(
        'SELECT id, status, status_reason, provider_id, attempts FROM outbound_messages WHERE recipient = $1 ORDER BY id',
        [phone],
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase();
    twilio = await startFakeTwilio();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        smtpUrl: 'smtp://127.0.0.1:1',
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, TWILIO_API_URL: twilio.url, CRMFLOW_JOB_BACKOFF_MS: '100' },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await twilio?.close();
    await db?.drop();
  });

  it('does not retry a send the vendor may have acted on: the message is uncertain, listed, and resent once on request', async () => {
    twilio.answers = ['reset'];
    await missedCall(app, sid(1), '+14155550101');
    await waitFor('the uncertain message', async () => (await messagesTo('+14155550101'))[0]?.status === 'uncertain');
    await waitFor('the run to finish', async () => (await runOf(sid(1)))[0]?.status === 'succeeded');
    // Give a wrong retry time to happen: the job is done and nothing else may reach the vendor.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(twilio.received).toEqual(['+14155550101']);
    const [message] = await messagesTo('+14155550101');
    expect(message!.status_reason).toMatch(/ECONNRESET after the request was sent; .*not resent automatically/);

    const listed = await api(app, '/api/messages?status=uncertain');
    expect(listed.status).toBe(200);
    expect(listed.body.messages.map((row: { id: number }) => row.id)).toEqual([message!.id]);
    expect((await api(app, '/api/messages?status=bogus')).status).toBe(400);

    const response = await api(app, `/api/messages/${message!.id}/resend`, { method: 'POST' });
    expect(response).toMatchObject({ status: 200, body: { message_id: message!.id, status: 'sent' } });
    expect(twilio.received).toEqual(['+14155550101', '+14155550101']);
    expect(await messagesTo('+14155550101')).toEqual([
      expect.objectContaining({ status: 'sent', provider_id: `SM${'2'.padStart(32, '0')}`, attempts: 2 }),
    ]);
    // Resent once: a second request finds it sent.
    expect(await api(app, `/api/messages/${message!.id}/resend`, { method: 'POST' })).toMatchObject({
      status: 409,
      body: { error: { code: 'not_uncertain' } },
    });
    expect((await api(app, '/api/messages/999999/resend', { method: 'POST' })).status).toBe(404);
    expect(twilio.received).toHaveLength(2);
    expect(
      await count(db.pool, "SELECT 1 FROM audit_log WHERE action = 'message.resend' AND target = $1", [
        `message:${message!.id}`,
      ]),
    ).toBe(1);
  });

  it('retries a send the vendor refused with a 5xx, and sends it once', async () => {
    twilio.received = [];
    twilio.answers = [503, 201];
    await missedCall(app, sid(2), '+14155550102');
    await waitFor('the SMS sent', async () => (await messagesTo('+14155550102'))[0]?.status === 'sent');
    expect(twilio.received).toEqual(['+14155550102', '+14155550102']);
    expect(await messagesTo('+14155550102')).toEqual([
      expect.objectContaining({ provider_id: `SM${'2'.padStart(32, '0')}` }),
    ]);
  });

  it('replays a run’s event through the current workflow as one new run, even when asked twice at once', async () => {
    await missedCall(app, sid(3), '+14155550103');
    await waitFor('the first run', async () => (await runOf(sid(3)))[0]?.status === 'succeeded');
    const [original] = await runOf(sid(3));
    const [first, second] = await Promise.all(
      [0, 1].map(() => api(app, `/api/runs/${original!.id}/replay`, { method: 'POST' })),
    );
    expect(first!.status).toBe(202);
    expect(second!.body.job_id).toBe(first!.body.job_id);
    await waitFor(
      'the replayed run',
      async () => (await runOf(sid(3))).length === 2 && (await runOf(sid(3)))[1]!.status === 'succeeded',
    );
    expect(await messagesTo('+14155550103')).toHaveLength(2);
    expect((await api(app, '/api/runs/999999/replay', { method: 'POST' })).status).toBe(404);
    expect(
      await count(db.pool, "SELECT 1 FROM audit_log WHERE action = 'run.replay' AND target = $1", [
        `run:${original!.id}`,
      ]),
    ).toBe(2);
  });

  it('cancels a failed run with a reason: it is never retried, and the reason is audited', async () => {
    twilio.answers = [400];
    await missedCall(app, sid(4), '+14155550104');
    await waitFor('the failed run', async () => (await runOf(sid(4)))[0]?.status === 'failed');
    const [run] = await runOf(sid(4));

    const noReason = await api(app, `/api/runs/${run!.id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(noReason).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const cancelled = await api(app, `/api/runs/${run!.id}/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'customer asked us not to text' }),
    });
    expect(cancelled).toMatchObject({
      status: 200,
      body: { run_id: run!.id, status: 'cancelled', error: 'cancelled: customer asked us not to text' },
    });
    expect((await api(app, `/api/runs/${run!.id}/retry`, { method: 'POST' })).status).toBe(409);
    expect(
      (
        await api(app, `/api/runs/${run!.id}/cancel`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'again' }),
        })
      ).status,
    ).toBe(409);
    const { rows } = await db.pool.query(
      "SELECT actor, details FROM audit_log WHERE action = 'run.cancel' AND target = $1",
      [`run:${run!.id}`],
    );
    expect(rows).toEqual([{ actor: 'api-token', details: { reason: 'customer asked us not to text', via: 'api' } }]);
    expect((await api(app, `/api/runs?status=cancelled`)).body.runs.map((row: { id: number }) => row.id)).toEqual([
      run!.id,
    ]);
  });

  it('a cancelled run that is queued again does nothing', async () => {
    const [run] = await runOf(sid(4));
    await app.queue.add('run', { kind: 'run', runId: run!.id }, { jobId: `after-cancel-${run!.id}` });
    await waitFor(
      'the job to finish',
      async () => (await app.queue.getJobState(`after-cancel-${run!.id}`)) === 'completed',
    );
    expect((await runOf(sid(4)))[0]!.status).toBe('cancelled');
    expect(await messagesTo('+14155550104')).toEqual([expect.objectContaining({ status: 'failed' })]);
  });
});
