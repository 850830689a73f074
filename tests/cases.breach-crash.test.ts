import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { spawnCrmflow, type CrmflowProcess } from './faults/harness.js';
import { post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { freePort } from './helpers/net.js';
import { twilioWebhook } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';

/**
 * Worker processes run on the real clock, so the pool has no business hours (targets count round the clock) and the
 * first-response target is a few seconds. The breach workflow calls a hook the test holds open, so a worker can be
 * killed while that run is in flight.
 */
/** Backends of this test's database, not counting the one asking. */
const ACTIVITY = 'SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()';
const CASE_QUERIES = `${ACTIVITY} AND query ILIKE '%FROM cases%'`;

const config = (hookUrl: string) => `
connectors:
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents: [{ id: sam, name: Sam }]
pools:
  support: { agents: [sam] }
workflows:
  - id: sms
    trigger: { type: webhook, connector: twilio, event: message.received }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: complaints
    trigger: { type: event, on: message.received }
    steps:
      - { type: open_case, pool: support, subject: "{{ summary }}", first_response: 5s, join_open_case: true }
  - id: breach
    trigger: { type: event, on: case.first_response_breached }
    steps:
      - { type: http, url: "${hookUrl}", body: '{ "case": case_id }' }
`;

describe('cases: a first-response breach fires once when worker processes are killed -9 during the check, before its run and during it', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let env: Record<string, string>;
  let hook: Server;
  const logDir = mkdtempSync(join(tmpdir(), 'crmflow-cases-crash-'));
  const workers: CrmflowProcess[] = [];
  const calls: Array<{ key: string | undefined; body: string }> = [];
  let holding: ServerResponse[] = [];
  // While true the hook never answers: the breach run stays in flight.
  let hold = true;

  const worker = () => {
    const started = spawnCrmflow('worker', env, join(logDir, `worker-${workers.length}.log`));
    workers.push(started);
    return started;
  };

  beforeAll(async () => {
    const port = await freePort();
    hook = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        calls.push({ key: req.headers['idempotency-key'] as string | undefined, body });
        if (hold) holding.push(res);
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => hook.listen(port, '127.0.0.1', resolve));
    db = await createTestDatabase();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(config(`http://127.0.0.1:${port}/breach`)),
      prefix: testPrefix(),
      // The breach hook is this test's own server on loopback: allowed as an admin would allow an internal host.
      extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL, CRMFLOW_LOCK_MS: '2000', CRMFLOW_HTTP_ALLOW_HOSTS: `127.0.0.1:${port}` },
    });
    // Webhooks and the API in this process; every worker is a `crmflow worker` process of its own.
    app = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
  });
  afterAll(async () => {
    for (const started of workers) await started.kill();
    for (const res of holding) res.destroy();
    await app?.close();
    await new Promise((resolve) => hook?.close(resolve));
    await db?.drop();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('one case.first_response_breached event and one run of the breach workflow', async () => {
    const first = worker();
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      MessageSid: `SM${'1'.padStart(32, '0')}`,
      SmsStatus: 'received',
      From: '+14155550199',
      To: '+15005550006',
      Body: 'The kettle arrived broken',
      NumMedia: '0',
    };
    const { body: form, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', form, headers)).status).toBe(200);
    const caseId = await waitFor(
      'the case',
      async () => (await db.pool.query<{ id: number }>('SELECT id FROM cases')).rows[0]?.id,
      60_000,
      20,
    );

    // The test holds the case row: at the due time the first worker's check starts and waits on it.
    const holder: PoolClient = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM cases WHERE id = $1 FOR UPDATE', [caseId]);
      await waitFor(
        "the first worker's breach check waiting on the case",
        async () => (await count(db.pool, `${CASE_QUERIES} AND wait_event_type = 'Lock'`)) === 1,
        30_000,
      );
      // kill -9 in the middle of the check: its transaction never commits.
      await first.kill();
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    await waitFor(
      'the killed worker gone from PostgreSQL',
      async () => (await count(db.pool, `${CASE_QUERIES} AND state <> 'idle'`)) === 0,
    );
    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached'")).toBe(0);
    expect(await count(db.pool, 'SELECT 1 FROM cases WHERE first_response_breached_at IS NOT NULL')).toBe(0);

    // The next worker recovers the stalled check and emits the breach; the test holds the runs table, so its start of the
    // breach workflow's run waits: kill -9 between the breach and its run.
    const runs: PoolClient = await db.pool.connect();
    try {
      await runs.query('BEGIN');
      await runs.query('LOCK TABLE workflow_runs IN SHARE ROW EXCLUSIVE MODE');
      const second = worker();
      await waitFor(
        'the breach run waiting to be created',
        async () =>
          (await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached'")) === 1 &&
          (await count(
            db.pool,
            `${ACTIVITY} AND wait_event_type = 'Lock' AND query ILIKE '%INSERT INTO workflow_runs%'`,
          )) === 1,
        60_000,
      );
      await second.kill();
      await runs.query('COMMIT');
    } finally {
      runs.release();
    }

    // The next worker recovers the engine event's job and starts the run, which the hook holds open: kill -9 mid-run.
    const third = worker();
    await waitFor('the breach run calling the hook', async () => calls.length >= 1, 60_000);
    await third.kill();
    hold = false;
    for (const res of holding) res.destroy();
    holding = [];

    const fourth = worker();
    await waitFor(
      'the breach run finished',
      async () =>
        (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'breach' AND status = 'succeeded'")) === 1,
      60_000,
    );
    // The event is marked processed: no reconciler pass queues it again.
    await waitFor(
      'the breach event processed',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached' AND status <> 'pending'",
        )) === 1,
    );
    await fourth.stop();

    expect(await count(db.pool, "SELECT 1 FROM engine_events WHERE type = 'case.first_response_breached'")).toBe(1);
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'breach'")).toBe(1);
    const { rows } = await db.pool.query("SELECT data FROM engine_events WHERE type = 'case.first_response_breached'");
    expect(rows[0].data).toMatchObject({ case_id: caseId, target: 'first_response' });
    // The hook was called again after the kill, always as the same step of the same run (one idempotency key).
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(calls.map((call) => call.key)).size).toBe(1);
    expect(JSON.parse(calls[0]!.body)).toEqual({ case: caseId });
  }, 240_000);
});
