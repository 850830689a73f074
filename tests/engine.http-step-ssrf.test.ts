import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuardedHttp, isInternalAddress } from '../src/engine/guarded-http.js';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR, submitLead } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

interface Hit {
  url: string;
  headers: IncomingMessage['headers'];
}

async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    hits.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

const workflow = (id: string, step: string) => `
  - id: ${id}
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - ${step}`;

describe('http step: no requests to internal addresses, no cross-host redirects, encoded placeholders, bounded answers', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let hook: Awaited<ReturnType<typeof listen>>;
  let internal: Awaited<ReturnType<typeof listen>>;

  beforeAll(async () => {
    // The "metadata service": an internal server on another port that must never be reached.
    internal = await listen((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"AccessKeyId":"internal-credentials"}'),
    );
    // The hook an admin allowed (CRMFLOW_HTTP_ALLOW_HOSTS): it answers as an attacker-controlled endpoint might.
    hook = await listen((req, res) => {
      const path = req.url ?? '';
      if (path === '/hook')
        return void res
          .writeHead(302, { location: `http://127.0.0.1:${internal.port}/latest/meta-data/iam/security-credentials/` })
          .end();
      if (path === '/moved') return void res.writeHead(301, { location: '/final' }).end();
      if (path === '/huge')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ blob: 'x'.repeat(2 * 1024 * 1024) }));
      if (path === '/large')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ blob: 'y'.repeat(100 * 1024) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const config = `${FORM_CONNECTOR}
workflows:${[
      workflow(
        'redirected',
        `{ type: http, url: "http://127.0.0.1:${hook.port}/hook", headers: { X-Api-Key: hook-key } }`,
      ),
      workflow('direct-internal', `{ type: http, url: "http://127.0.0.1:${internal.port}/latest/meta-data/" }`),
      workflow('by-name', `{ type: http, url: "http://localhost:${internal.port}/by-name" }`),
      workflow('mapped-v6', `{ type: http, url: "http://[::ffff:127.0.0.1]:${internal.port}/mapped" }`),
      workflow('steered', `{ type: http, method: GET, url: "http://127.0.0.1:${hook.port}/leads/{{ message }}" }`),
      workflow('same-host', `{ type: http, method: GET, url: "http://127.0.0.1:${hook.port}/moved" }`),
      workflow('huge', `{ type: http, method: GET, url: "http://127.0.0.1:${hook.port}/huge" }`),
      workflow('large', `{ type: http, method: GET, url: "http://127.0.0.1:${hook.port}/large" }`),
    ].join('')}
`;
    db = await createTestDatabase();
    const extra = { CRMFLOW_HTTP_ALLOW_HOSTS: `127.0.0.1:${hook.port}`, CRMFLOW_JOB_ATTEMPTS: '1' };
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(config), prefix: testPrefix(), extra }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    hook?.server.close();
    internal?.server.close();
  });

  it('refuses internal addresses and cross-host redirects, encodes placeholder values, caps answers', async () => {
    expect(
      (await submitLead(app, { submission_id: 'ssrf-1', email: 'a@example.com', message: '../../admin/keys?x=' }))
        .status,
    ).toBe(202);
    await waitFor(
      'all eight runs to end',
      async () => (await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status IN ('succeeded', 'failed')")) === 8,
      30_000,
    );
    const runs = new Map(
      (
        await db.pool.query<{ workflow: string; status: string; error: string | null }>(
          'SELECT workflow, status, error FROM workflow_runs',
        )
      ).rows.map((row) => [row.workflow, row]),
    );

    // The internal server was never reached: not through the redirect, not directly, not by name, not IPv4-mapped.
    expect(internal.hits).toEqual([]);
    expect(runs.get('redirected')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/redirected to another host \(http:\/\/127\.0\.0\.1:\d+\): not followed/),
    });
    expect(runs.get('direct-internal')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('is an internal address'),
    });
    expect(runs.get('by-name')).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/localhost resolves to the internal address/),
    });
    expect(runs.get('mapped-v6')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('is an internal address'),
    });

    // A vendor field cannot steer the path: it arrives as one encoded path segment.
    expect(runs.get('steered')!.status).toBe('succeeded');
    expect(hook.hits.map((hit) => hit.url)).toContain('/leads/..%2F..%2Fadmin%2Fkeys%3Fx%3D');
    // Same-host redirects are still followed.
    expect(runs.get('same-host')!.status).toBe('succeeded');
    expect(hook.hits.map((hit) => hit.url)).toContain('/final');

    expect(runs.get('huge')).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('the answer is larger than allowed'),
    });
    expect(runs.get('large')!.status).toBe('succeeded');
    const large = await db.pool.query(
      "SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.workflow = 'large'",
    );
    expect(large.rows[0].output).toEqual({ status: 200, data: null, truncated: true, size: expect.any(Number) });
  });

  it('classifies loopback, private, link-local, metadata and IPv6 internal ranges; public addresses pass', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '0.0.0.0',
      '::1',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:10.0.0.1',
      '100.64.0.1',
    ]) {
      expect([address, isInternalAddress(address)]).toEqual([address, true]);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])
      expect([address, isInternalAddress(address)]).toEqual([address, false]);
  });

  it('connects to the address its own lookup checked: a public answer is dialled, an internal one never', async () => {
    const answers: Record<string, string> = { 'public.test': '192.0.2.10', 'rebound.test': '127.0.0.1' };
    const http = createGuardedHttp({
      timeoutMs: 1500,
      resolve: async (hostname) => [{ address: answers[hostname]!, family: 4 }],
    });
    // TEST-NET-1 is unroutable: the attempt fails, but at that address, so the checked answer is the one dialled.
    const dialled = await http
      .get(`http://public.test:${internal.port}/`)
      .catch((error: Error & { code?: string }) => error);
    expect(String((dialled as Error).message)).not.toMatch(/internal address/);
    expect((dialled as { code?: string }).code).toMatch(/ECONNABORTED|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|ECONNREFUSED/);
    const rebound = await http.get(`http://rebound.test:${internal.port}/`).catch((error: Error) => error);
    expect((rebound as Error).message).toContain('rebound.test resolves to the internal address 127.0.0.1');
    expect(internal.hits).toEqual([]);
  });
});
