import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisAnswers } from '../src/config/bootstrap.js';
import { createEventsQueue, producerConnection } from '../src/engine/queues.js';
import { createApp } from '../src/http/app.js';
import { createPool } from '../src/store/pool.js';
import { loadConfigText } from '../src/workflows/load.js';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import {
  notCalled,
  post,
  REDIS_URL,
  SECRETS,
  startTestCrmflow,
  testEnv,
  testPrefix,
  writeConfig,
} from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: every-second
    trigger: { type: schedule, cron: "* * * * * *" }
    steps: [{ type: log, message: "tick" }]
`;

function startRedis(port: number, dir: string): ChildProcess {
  return spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
}

const lead = (id: string) => JSON.stringify({ submission_id: id, email: `${id}@outage.example` });

describe('outages: nothing acknowledged that is not stored, nothing lost', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('acknowledges webhooks from the Postgres inbox while Redis is down and processes them when it returns', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'crmflow-redis-'));
    const redisUrl = `redis://127.0.0.1:${port}`;
    let redis = startRedis(port, dir);
    await waitFor('redis to start', () => redisAnswers(redisUrl, 200));
    const app: Crmflow = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), redisUrl }),
      {
        api: true,
        worker: true,
        scheduler: false,
      },
    );
    try {
      redis.kill('SIGKILL');
      await new Promise((resolve) => redis.once('exit', resolve));
      const ids = ['down-1', 'down-2', 'down-3'];
      for (const id of ids) {
        const response = await post(
          app,
          '/webhooks/form',
          lead(id),
          formHeaders(lead(id), SECRETS.FORM_WEBHOOK_SECRET),
        );
        expect(response.status).toBe(202);
        expect(response.body.stored).toBe(1);
      }
      expect(
        await count(db.pool, "SELECT 1 FROM inbox_events WHERE external_id LIKE 'down-%' AND status = 'pending'"),
      ).toBe(3);

      redis = startRedis(port, dir); // an empty Redis: the jobs were never there
      await waitFor(
        'all three processed after Redis returns',
        async () =>
          (await count(
            db.pool,
            "SELECT 1 FROM inbox_events WHERE external_id LIKE 'down-%' AND status = 'processed'",
          )) === 3,
        30_000,
      );
      expect(await count(db.pool, "SELECT 1 FROM timeline_events WHERE external_id LIKE 'submission/down-%'")).toBe(3);
    } finally {
      await app.close();
      redis.kill('SIGKILL');
    }
  });

  it('answers 503 with Retry-After, never 2xx, when PostgreSQL is unreachable', async () => {
    const config = loadConfigText(CONFIG, 'workflows.yaml', { env: SECRETS });
    const unreachable = createPool(`postgres://postgres@127.0.0.1:${await freePort()}/nothing`, {
      connectionTimeoutMillis: 1000,
    });
    const producer = producerConnection(REDIS_URL);
    const queue = createEventsQueue(producer, testPrefix());
    const app = createApp({
      pool: unreachable,
      queue,
      redis: producer,
      config,
      apiToken: 't',
      publicUrl: 'http://localhost',
      defaultRegion: 'US',
      logger: pino({ level: 'silent' }),
      resendMessage: notCalled,
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const { port } = server.address() as { port: number };
      const body = lead('pg-down');
      const response = await fetch(`http://127.0.0.1:${port}/webhooks/form`, {
        method: 'POST',
        body,
        headers: formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect((await response.json()).error.code).toBe('unavailable');
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    } finally {
      server.close();
      await queue.close();
      producer.disconnect();
      await unreachable.end();
    }
  });

  it('answers webhooks 503 with Retry-After and /readyz 503 while shutting down', async () => {
    const app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        extra: { CRMFLOW_DRAIN_MS: '1500' },
      }),
      {
        api: true,
        worker: false,
        scheduler: false,
      },
    );
    const closing = app.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const body = lead('during-shutdown');
    const response = await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('shutting_down');
    expect(response.headers['retry-after']).toBe('5');
    expect((await fetch(`${app.url}/readyz`)).status).toBe(503);
    await closing;
    expect(await count(db.pool, "SELECT 1 FROM inbox_events WHERE external_id = 'during-shutdown'")).toBe(0);
  });

  it('fires a schedule once per tick however many processes run the scheduler', async () => {
    const env = testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() });
    const processes = await Promise.all([
      startTestCrmflow(env, { api: false, worker: true, scheduler: true }),
      startTestCrmflow(env, { api: false, worker: true, scheduler: true }),
      startTestCrmflow(env, { api: false, worker: false, scheduler: true }),
    ]);
    try {
      await waitFor(
        'four ticks',
        async () =>
          (await count(
            db.pool,
            "SELECT 1 FROM workflow_runs WHERE workflow = 'every-second' AND status = 'succeeded'",
          )) >= 4,
        15_000,
      );
    } finally {
      await Promise.all(processes.map((process) => process.close()));
    }
    const { rows } = await db.pool.query(
      "SELECT trigger_key, count(*)::int AS n FROM workflow_runs WHERE workflow = 'every-second' GROUP BY 1",
    );
    expect(rows.length).toBeGreaterThanOrEqual(4);
    // Three schedulers, one run per second: ticks are whole seconds, at least a second apart.
    const ticks = rows.map((row) => Date.parse(String(row.trigger_key).replace('schedule:', ''))).sort((a, b) => a - b);
    expect(ticks.every((tick) => tick % 1000 === 0)).toBe(true);
    expect(ticks.slice(1).every((tick, i) => tick - ticks[i]! >= 1000)).toBe(true);
  });
});
