import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  callApi,
  expectClean,
  listFailedRuns,
  retryThroughApi,
  person,
  random,
  reconcile,
  scalar,
  send,
  startStack,
  twilioDelivery,
  waitForCount,
  waitForSettled,
  type Stack,
} from './harness.js';

/** Inbound SMS answered by SMS through the twilio connector, whose API is the fake below. */
const CONFIG = `
connectors:
  twilio: { secrets: { account_sid: "\${TWILIO_ACCOUNT_SID}", auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "\${TWILIO_FROM_NUMBER}" } }
workflows:
  - id: sms-reply
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: reply
        channel: sms
        body: "Thanks, we got your message: {{ Body }}"
`;

/**
 * A fake Twilio Messages API: `ok` accepts (201 with a Message sid), `429` answers Too Many Requests with
 * `Retry-After: 1`, `500` fails, `hang` holds the request and then drops the connection without answering.
 */
interface FakeTwilio {
  url: string;
  mode: 'ok' | '429' | '500' | 'hang';
  /** Every accepted request, with its idempotency token (a repeat is recorded again: the fake does not deduplicate). */
  accepted: Array<{ token: string; to: string; sid: string }>;
  refused: Record<string, number>;
  close: () => Promise<void>;
}

async function startFakeTwilio(hangMs: number): Promise<FakeTwilio> {
  const fake = { mode: 'ok', accepted: [], refused: {} } as unknown as FakeTwilio;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || !/^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/.test(request.url ?? '')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":20404,"message":"not found"}');
        return;
      }
      const mode = fake.mode;
      if (mode !== 'ok') fake.refused[mode] = (fake.refused[mode] ?? 0) + 1;
      if (mode === '429') {
        response
          .writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' })
          .end('{"code":20429,"message":"Too Many Requests"}');
      } else if (mode === '500') {
        response
          .writeHead(500, { 'content-type': 'application/json' })
          .end('{"code":20500,"message":"Internal Server Error"}');
      } else if (mode === 'hang') {
        setTimeout(() => request.socket.destroy(), hangMs);
      } else {
        const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const sid = `SM${randomBytes(16).toString('hex')}`;
        fake.accepted.push({
          token: String(request.headers['i-twilio-idempotency-token'] ?? ''),
          to: params.get('To') ?? '',
          sid,
        });
        response
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ sid, status: 'queued', to: params.get('To'), body: params.get('Body') }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return fake;
}

describe('fault: the Twilio API fails (429, 500, hangs) for a while, then recovers', () => {
  let stack: Stack;
  let twilio: FakeTwilio;
  beforeAll(async () => {
    // The vendor client's timeout (30 s) has no setting: a hang is a held request the fake then drops. A failing send
    // holds its job for seconds (four tries per job attempt, 1 s apart on 429), so the worker runs many at once lest
    // the backlog of new events delay the retries past the scenario's time.
    twilio = await startFakeTwilio(1000);
    stack = await startStack('vendor-outage', {
      config: CONFIG,
      stepsPerWorkflow: { 'sms-reply': 4 },
      env: {
        TWILIO_API_URL: twilio.url,
        TWILIO_FROM_NUMBER: '+15005550006',
        CRMFLOW_JOB_ATTEMPTS: '2',
        CRMFLOW_JOB_BACKOFF_MS: '200',
        WORKER_CONCURRENCY: '64',
        CRMFLOW_PG_POOL_MAX: '16',
      },
    });
  });
  afterAll(async () => {
    await stack?.close();
    await twilio?.close();
  });

  it('retries with backoff, leaves exhausted runs failed and visible, a manual retry sends each once, nothing is sent twice', async () => {
    const rand = random(23);
    const deliveries = Array.from({ length: 400 }, (_, n) =>
      twilioDelivery(`SMvendoroutage${String(n).padStart(6, '0')}`, person(Math.floor(rand() * 150))),
    );
    await stack.startApi();
    stack.startWorker();
    const sender = send(stack.apiUrl, deliveries, { ratePerSecond: 15 });

    // Fail until enough runs have exhausted their attempts, whatever the machine's speed: 429, then 500, then hangs,
    // each for 3 s at least so that every kind of failure reaches running sends.
    const phase = (n: number) =>
      Promise.all([
        sleep(3000),
        waitForCount(stack, `${n} runs failed for good`, FAILED, (found) => found >= n, 60_000),
      ]);
    const SENT = "SELECT count(*)::int AS n FROM outbound_messages WHERE status = 'sent'";
    const FAILED = "SELECT count(*)::int AS n FROM inbox_events WHERE status = 'failed'";
    await waitForCount(stack, '40 SMS sent', SENT, (n) => n >= 40, 60_000);
    twilio.mode = '429';
    stack.fault('Twilio answers 429 (Retry-After: 1)');
    await phase(8);
    twilio.mode = '500';
    stack.fault('Twilio answers 500');
    await phase(16);
    // A dropped connection leaves open whether Twilio sent the SMS: such sends are not retried but left uncertain.
    const UNCERTAIN = "SELECT count(*)::int AS n FROM outbound_messages WHERE status = 'uncertain'";
    twilio.mode = 'hang';
    stack.fault('Twilio holds requests 1 s, then drops the connection');
    await Promise.all([
      sleep(3000),
      waitForCount(stack, '8 sends uncertain', UNCERTAIN, (found) => found >= 8, 60_000),
    ]);
    await sleep(300);
    twilio.mode = 'ok';
    stack.fault(
      `Twilio recovers (${Object.entries(twilio.refused)
        .map(([mode, n]) => `${mode}×${n}`)
        .join(', ')} refused)`,
    );

    const outcomes = await sender.done;
    await waitForSettled(stack, deliveries, { failedToo: true });

    // Exhausted runs are failed and listed by the API.
    const failed = await listFailedRuns(stack);
    const failedEvents = await scalar(stack.pg.pool, FAILED);
    expect(failed.length).toBeGreaterThanOrEqual(16);
    expect(failed.length).toBe(failedEvents);
    expect(failed.filter((run) => !/step reply \(reply\): sms reply failed: .*Messages\.json/.test(run.error))).toEqual(
      [],
    );
    const failedMessages = await scalar(
      stack.pg.pool,
      "SELECT count(*)::int AS n FROM outbound_messages WHERE status = 'failed'",
    );
    expect(failedMessages).toBe(failed.length);
    const recoveredByBackoff = await scalar(
      stack.pg.pool,
      "SELECT count(*)::int AS n FROM workflow_runs WHERE status = 'succeeded' AND attempts > 1",
    );

    // The fake must accept each retried run's message once.
    const acceptedBefore = twilio.accepted.length;
    await retryThroughApi(stack, failed, deliveries);
    const retriedTokens = twilio.accepted.slice(acceptedBefore).map((send) => send.token);
    expect(retriedTokens.length, 'one accepted send per retried run').toBe(failed.length);
    expect(new Set(retriedTokens).size).toBe(failed.length);

    // Uncertain sends were never repeated; support resends each once (a double click sends once, the other gets 409).
    const uncertain = (await callApi(stack, '/api/messages?status=uncertain&limit=500')).body.messages as Array<{
      id: number;
      idempotency_key: string;
    }>;
    expect(uncertain.length).toBeGreaterThanOrEqual(8);
    const acceptedKeys = new Set(twilio.accepted.map((send) => send.token));
    expect(
      uncertain.filter((message) => acceptedKeys.has(message.idempotency_key)),
      'uncertain sends repeated by a retry',
    ).toEqual([]);
    const resendAnswers = await Promise.all(
      uncertain.map(async (message) =>
        (await Promise.all([0, 1].map(() => callApi(stack, `/api/messages/${message.id}/resend`, { method: 'POST' }))))
          .map((answer) => answer.status)
          .sort(),
      ),
    );
    expect(resendAnswers.filter((statuses) => statuses.join() !== '200,409')).toEqual([]);
    const resentTokens = twilio.accepted.slice(acceptedBefore + failed.length).map((send) => send.token);
    expect(resentTokens.sort()).toEqual(uncertain.map((message) => message.idempotency_key).sort());

    // The tokens are the runs' reply steps' idempotency keys, and each message went to the phone that wrote.
    const rows = (
      await stack.pg.pool.query<{ idempotency_key: string; recipient: string; provider_id: string | null }>(
        "SELECT idempotency_key, recipient, provider_id FROM outbound_messages WHERE channel = 'sms'",
      )
    ).rows;
    const bySid = new Map(twilio.accepted.map((send) => [send.sid, send]));
    expect(
      rows.filter(
        (row) =>
          bySid.get(row.provider_id ?? '')?.token !== row.idempotency_key ||
          bySid.get(row.provider_id ?? '')?.to !== row.recipient,
      ),
    ).toEqual([]);

    const report = await reconcile(
      stack,
      'Twilio API failing (429 with Retry-After, then 500, until 16 runs exhausted their attempts; then hanging up, leaving 8+ sends uncertain), then recovering; failed runs retried and uncertain sends resent through the API',
      outcomes,
      {
        twilioRefused: twilio.refused,
        failedVisible: failed.length,
        retriedThroughApi: failed.length,
        uncertainResent: uncertain.length,
        recoveredByBackoff,
      },
      {
        name: 'twilio',
        channel: 'sms',
        owed: new Set(deliveries.map((delivery) => delivery.event)).size,
        acceptedTokens: twilio.accepted.map((send) => send.token),
      },
    );
    expectClean(report);
    expect(report.vendor).toMatchObject({
      accepted: report.vendor!.owed,
      sentRecorded: report.vendor!.owed,
      duplicateTokens: 0,
    });
    expect(Object.keys(twilio.refused).sort()).toEqual(['429', '500', 'hang']);
  });
});
