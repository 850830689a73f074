import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  EMBEDDED_POSTGRES_SETTINGS,
  redisAnswers,
  RedisUnavailableError,
  startLocalRedis,
} from '../src/config/bootstrap.js';
import { testPrefix } from './helpers/crmflow.js';
import { fixtureBytes, shopifyHeaders } from './helpers/sign.js';
import { freePort } from './helpers/net.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('a newcomer runs `npm start` with no configuration at all', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
  });

  it('serves on embedded PostgreSQL with demo secrets: a signed Shopify order becomes a customer with an owner and an email', async () => {
    const port = await freePort();
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', CI: 'true' };
    const dataDir = mkdtempSync(join(tmpdir(), 'crmflow-quickstart-'));
    chmodSync(dataDir, 0o755); // as in a project folder: PostgreSQL's own user must reach it when tests run as root
    Object.assign(env, {
      PORT: String(port),
      CRMFLOW_QUEUE_PREFIX: testPrefix(),
      CRMFLOW_DATA_DIR: dataDir,
      CRMFLOW_EMBEDDED_PG_PORT: String(await freePort()),
    });
    let output = '';
    // Exactly what `npm start` runs (spawned directly so the test owns the process and its signals).
    child = spawn(process.execPath, ['bin/crmflow.js', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(
      `crmflow to print its URLs (output so far: ${output.slice(-500)})`,
      async () => output.includes('/webhooks/shopify'),
      90_000,
      200,
    );
    expect(output).toContain(`http://localhost:${port}/api`);
    expect(output).toMatch(/demo mode: \d+ secrets are not set: using their DEMO values \(.*SHOPIFY_WEBHOOK_SECRET/);

    const body = fixtureBytes('shopify', 'orders_create.json');
    const response = await fetch(`http://127.0.0.1:${port}/webhooks/shopify`, {
      method: 'POST',
      body: new Uint8Array(body),
      headers: shopifyHeaders(body, 'demo-shopify-secret'),
    });
    expect(response.status).toBe(202);
    const auth = { authorization: 'Bearer demo-api-token' };
    const customer = await waitFor('the customer', async () => {
      const found = (await (
        await fetch(`http://127.0.0.1:${port}/api/customers?email=jon@example.com`, { headers: auth })
      ).json()) as { customers: Array<{ id: number }> };
      return found.customers[0];
    });
    const detail = await waitFor('the reply in the outbox', async () => {
      const record = (await (
        await fetch(`http://127.0.0.1:${port}/api/customers/${customer.id}`, { headers: auth })
      ).json()) as { messages: Array<{ status: string; transport: string }> };
      // Recorded as `sending` before it goes out (record-before-send), then settled: wait for the settled record.
      return record.messages.length > 0 && record.messages.every((message) => message.status !== 'sending')
        ? record
        : undefined;
    });
    expect(detail).toMatchObject({ owner_agent_id: 'alice', messages: [{ status: 'sent', transport: 'outbox' }] });

    // The embedded server runs with the settings the README documents for crmflow's write load.
    const embedded = new pg.Client({
      connectionString: `postgres://crmflow:crmflow@127.0.0.1:${env.CRMFLOW_EMBEDDED_PG_PORT}/crmflow`,
    });
    await embedded.connect();
    try {
      for (const [name, value] of Object.entries(EMBEDDED_POSTGRES_SETTINGS))
        expect((await embedded.query(`SHOW ${name}`)).rows[0][name]).toBe(value);
      expect((await embedded.query('SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
    } finally {
      await embedded.end();
    }

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child!.once('exit', resolve));
    expect(code).toBe(0);
  });
});

describe('Redis bootstrap', () => {
  it('starts redis-server from PATH when nothing answers', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    expect(await redisAnswers(url, 200)).toBe(false);
    const redis = await startLocalRedis(url, mkdtempSync(join(tmpdir(), 'crmflow-redis-')), pino({ level: 'silent' }));
    try {
      expect(await redisAnswers(url)).toBe(true);
    } finally {
      await redis.stop();
    }
  });

  it('names the fixes when there is no redis-server either', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const attempt = startLocalRedis('redis://127.0.0.1:1', tmpdir(), pino({ level: 'silent' }));
      await expect(attempt).rejects.toBeInstanceOf(RedisUnavailableError);
      await expect(attempt).rejects.toThrow(/docker compose up -d redis.*install Redis.*REDIS_URL/);
    } finally {
      process.env.PATH = path;
    }
  });
});
