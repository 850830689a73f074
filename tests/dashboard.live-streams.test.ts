import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRunStreamHub, type RunStreamHub } from '../src/dashboard/sse.js';
import type { Crmflow } from '../src/runtime.js';
import { startTestCrmflow, TEST_TOKEN, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR } from './helpers/engine.js';
import type { OperationContext } from '../src/operations/context.js';
import type { Pool } from '../src/store/pool.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { waitFor } from './helpers/wait.js';

interface OpenStream {
  status: number;
  text: () => string;
  ended: () => boolean;
  abort: () => void;
}

describe('live-update streams (/events): capped per session and in total, one shared poll', () => {
  let db: TestDatabase;
  let server: Server;
  let url: string;
  let hub: RunStreamHub;
  let queries = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Every query the hub makes is counted: the poll must not grow with the number of viewers.
    const counting = {
      query: (...args: unknown[]) => (queries++, (db.pool.query as (...a: unknown[]) => unknown)(...args)),
    } as unknown as Pool;
    hub = createRunStreamHub({
      ctx: { pool: counting } as OperationContext,
      intervalMs: 200,
      maxPerSession: 3,
      maxTotal: 12,
    });
    const app = express();
    app.get('/events', (req, res) =>
      hub.open(req, res, {
        owner: String(req.query.owner),
        filter: { workflow: 'web-lead' },
        after: Number(req.query.after ?? 0),
        watch: new Map(),
        render: (run) => `<tr>${run.id}</tr>`,
      }),
    );
    server = await new Promise<Server>((resolve) => {
      const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await db?.drop();
  });

  async function open(owner: string, after = 0): Promise<OpenStream> {
    const controller = new AbortController();
    const response = await fetch(`${url}/events?owner=${owner}&after=${after}`, { signal: controller.signal });
    let text = '';
    let ended = false;
    if (response.body) {
      const reader = response.body.getReader();
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            text += Buffer.from(value).toString('utf8');
          }
        } catch {
          // aborted by the test
        }
        ended = true;
      })();
    } else ended = true;
    return { status: response.status, text: () => text, ended: () => ended, abort: () => controller.abort() };
  }

  it('one session opening many streams keeps only its newest few; the total is capped; all share one poll', async () => {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key) VALUES ('web-lead', 'v', 'before') RETURNING id`,
    );
    const after = rows[0]!.id;

    // An attacker's session opens 10: only the last 3 stay open.
    const flood: OpenStream[] = [];
    for (let i = 0; i < 10; i++) flood.push(await open('attacker', after));
    await waitFor('the flood to be cut to 3', async () => flood.filter((stream) => !stream.ended()).length === 3);
    expect(flood.slice(7).every((stream) => !stream.ended())).toBe(true);

    // Other sessions fill the rest; past the total, a stream is refused with 503 (not queued up).
    const viewers: OpenStream[] = [];
    for (let i = 0; i < 9; i++) viewers.push(await open(`viewer-${i}`, after));
    expect(viewers.every((stream) => stream.status === 200)).toBe(true);
    const refused = await open('late-viewer', after);
    expect(refused.status).toBe(503);
    expect(hub.size()).toBe(12);

    // A new run reaches every open stream, read once for all of them.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const before = queries;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const ticks = 5;
    // At most two queries a tick (new runs for the one filter, statuses of watched runs), for 12 streams.
    expect(queries - before).toBeLessThanOrEqual(2 * (ticks + 1));
    const inserted = await db.pool.query<{ id: number }>(
      `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key) VALUES ('web-lead', 'v', 'new') RETURNING id`,
    );
    const open12 = [...flood.slice(7), ...viewers];
    await waitFor('every open stream to get the new run', async () =>
      open12.every((stream) => stream.text().includes(`"id":${inserted.rows[0]!.id}`)),
    );

    for (const stream of [...flood, ...viewers]) stream.abort();
    await waitFor('closed streams to be forgotten', async () => hub.size() === 0);
  });

  it('through the dashboard: one signed-in session keeps at most 8 open streams', async () => {
    const app: Crmflow = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(`${FORM_CONNECTOR}\nworkflows: []\n`),
        prefix: testPrefix(),
      }),
      {
        api: true,
        worker: false,
        scheduler: false,
      },
    );
    const controllers: AbortController[] = [];
    try {
      const login = await fetch(`${app.url}/login`, {
        method: 'POST',
        redirect: 'manual',
        body: new URLSearchParams({ token: TEST_TOKEN }),
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const ended: boolean[] = [];
      for (let i = 0; i < 12; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await fetch(`${app.url}/events`, { headers: { cookie }, signal: controller.signal });
        expect(response.status).toBe(200);
        ended.push(false);
        const reader = response.body!.getReader();
        void (async () => {
          try {
            while (!(await reader.read()).done);
          } catch {
            // aborted at the end of the test
          }
          ended[i] = true;
        })();
      }
      await waitFor('the session to be cut to 8 streams', async () => ended.filter((done) => !done).length === 8);
      expect(ended.slice(0, 4)).toEqual([true, true, true, true]);
    } finally {
      for (const controller of controllers) controller.abort();
      await app.close();
    }
  });
});
