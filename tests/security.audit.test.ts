import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, startTestCrmflow, TEST_TOKEN, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';

const CONFIG = `${readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8')}
  - id: enabled-poll
    trigger: { type: poll, connector: shopify, resource: customers, every: 1h }
    steps: [{ type: map }, { type: upsert_customer }]
`;
const USERS = [
  `ana:admin:${hashPassword('ana-password')}`,
  `sam:support:${hashPassword('sam-password')}`,
  `vic:viewer:${hashPassword('vic-password')}`,
].join(',');
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface Browser {
  cookie: string;
  csrf: string;
}

interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  role: string | null;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  ip: string | null;
}

describe('audit log of human actions', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let env: Record<string, string>;

  const request = (path: string, init: RequestInit & { as?: Browser } = {}) =>
    fetch(`${app.url}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { ...(init.as ? { cookie: init.as.cookie } : {}), ...(init.headers ?? {}) },
    });

  async function signIn(fields: Record<string, string>): Promise<Browser> {
    const response = await request('/login', { method: 'POST', body: new URLSearchParams(fields), headers: FORM });
    expect(response.status).toBe(303);
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await request('/runs', { headers: { cookie } })).text();
    return { cookie, csrf: /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1]! };
  }

  async function failedRun(): Promise<number> {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, status, error, attempts) VALUES ('web-lead', 'v', $1, 'failed', 'boom', 1) RETURNING id`,
      [`test:${Math.random()}`],
    );
    return rows[0]!.id;
  }

  const entries = async (): Promise<AuditEntry[]> =>
    (await api(app, '/api/audit?limit=500')).body.entries as AuditEntry[];

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      smtpUrl: 'smtp://127.0.0.1:9',
      extra: { CRMFLOW_USERS: USERS },
    });
    app = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('records sign-ins (and failed ones), sign-outs, retries, polls and availability changes: who, what, when, from where', async () => {
    const started = Date.now();
    const wrong = await request('/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'ana', password: 'nope' }),
      headers: FORM,
    });
    expect(wrong.status).toBe(401);
    await request('/login', { method: 'POST', body: new URLSearchParams({ token: 'not-the-token' }), headers: FORM });
    const sam = await signIn({ username: 'sam', password: 'sam-password' });
    const fromDashboard = await failedRun();
    expect(
      (
        await request(`/runs/${fromDashboard}/retry`, {
          method: 'POST',
          as: sam,
          headers: FORM,
          body: new URLSearchParams({ _csrf: sam.csrf }).toString(),
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await request('/logout', {
          method: 'POST',
          as: sam,
          headers: FORM,
          body: new URLSearchParams({ _csrf: sam.csrf }).toString(),
        })
      ).status,
    ).toBe(303);
    await signIn({ token: TEST_TOKEN });

    const fromApi = await failedRun();
    expect((await api(app, `/api/runs/${fromApi}/retry`, { method: 'POST' })).status).toBe(202);
    expect((await api(app, '/api/workflows/enabled-poll/poll', { method: 'POST' })).status).toBe(202);
    const json = { 'content-type': 'application/json' };
    expect(
      (await api(app, '/api/agents/bob/availability', { method: 'PUT', body: '{"available":false}', headers: json }))
        .status,
    ).toBe(200);
    // Refused actions change nothing and record nothing.
    expect((await api(app, '/api/runs/999999/retry', { method: 'POST' })).status).toBe(404);
    expect(
      (await api(app, '/api/agents/nobody/availability', { method: 'PUT', body: '{"available":false}', headers: json }))
        .status,
    ).toBe(404);

    const log = (await entries()).filter((entry) => entry.action !== 'config.reload');
    expect(
      log.map(({ actor, role, action, target, details }) => ({ actor, role, action, target, details })).reverse(),
    ).toEqual([
      { actor: 'ana', role: null, action: 'login_failed', target: null, details: { with: 'password' } },
      { actor: 'api-token', role: null, action: 'login_failed', target: null, details: { with: 'token' } },
      { actor: 'sam', role: 'support', action: 'login', target: null, details: { with: 'password' } },
      {
        actor: 'sam',
        role: 'support',
        action: 'run.retry',
        target: `run:${fromDashboard}`,
        details: { job_id: `retry-${fromDashboard}-1`, via: 'dashboard' },
      },
      { actor: 'sam', role: 'support', action: 'logout', target: null, details: {} },
      { actor: 'api-token', role: 'admin', action: 'login', target: null, details: { with: 'token' } },
      {
        actor: 'api-token',
        role: 'admin',
        action: 'run.retry',
        target: `run:${fromApi}`,
        details: { job_id: `retry-${fromApi}-1`, via: 'api' },
      },
      {
        actor: 'api-token',
        role: 'admin',
        action: 'workflow.poll',
        target: 'workflow:enabled-poll',
        details: { job_id: expect.any(String), via: 'api' },
      },
      {
        actor: 'api-token',
        role: 'admin',
        action: 'agent.availability',
        target: 'agent:bob',
        details: { available: false, via: 'api' },
      },
    ]);
    for (const entry of log) {
      expect(entry.ip).toMatch(/127\.0\.0\.1/);
      expect(Date.parse(entry.at)).toBeGreaterThanOrEqual(started - 1000);
    }
    // Keyset pages, newest first.
    const first = (await api(app, '/api/audit?limit=4')).body as { entries: AuditEntry[]; next_before: number };
    const second = (await api(app, `/api/audit?limit=4&before=${first.next_before}`)).body as { entries: AuditEntry[] };
    expect([...first.entries, ...second.entries].map((entry) => entry.id)).toEqual(
      log.slice(0, 8).map((entry) => entry.id),
    );
  });

  it('records each start with an edited workflows.yaml as config.reload: by whom, on which host, what changed', async () => {
    const reloads = async () => (await entries()).filter((entry) => entry.action === 'config.reload');
    const [first] = await reloads();
    expect(first).toMatchObject({
      role: 'admin',
      actor: expect.stringMatching(/^.+@.+$/),
      target: 'file:workflows.yaml',
      details: { changed: [], removed: [] },
    });
    expect(first!.details.added).toEqual(expect.arrayContaining(['web-lead', 'enabled-poll']));
    const restart = async (config: string) =>
      (
        await startTestCrmflow(
          { ...env, CRMFLOW_CONFIG: writeConfig(config) },
          { api: false, worker: false, scheduler: false },
        )
      ).close();

    await restart(
      CONFIG.replace('every: 1h', 'every: 2h').replace(/\n  - id: quickbooks-billing[\s\S]*?(?=\n  - id: )/, ''),
    );
    const [edited, ...older] = await reloads();
    expect(older).toHaveLength(1);
    expect(edited!.details).toMatchObject({ added: [], changed: ['enabled-poll'], removed: ['quickbooks-billing'] });
    // Another process starting with the same file records nothing new.
    await restart(
      CONFIG.replace('every: 1h', 'every: 2h').replace(/\n  - id: quickbooks-billing[\s\S]*?(?=\n  - id: )/, ''),
    );
    expect(await reloads()).toHaveLength(2);
  });

  it('shows the log to admins only, escaped, with times as <time>', async () => {
    await request('/login', {
      method: 'POST',
      body: new URLSearchParams({ username: '<script>alert(1)</script>', password: 'x' }),
      headers: FORM,
    });
    const ana = await signIn({ username: 'ana', password: 'ana-password' });
    const page = await request('/audit', { as: ana });
    expect(page.status).toBe(200);
    const body = await page.text();
    // A name that is no user is never stored (it could be a password typed in the wrong field): nothing to escape.
    expect(body).toContain('(unknown user)');
    expect(body).not.toContain('<script>alert(1)');
    expect(body).toMatch(/<time datetime="[^"]+Z">/);
    expect(body).toContain('agent:bob');
    expect(body).toContain('href="/audit"');
    for (const [user, password] of [
      ['sam', 'sam-password'],
      ['vic', 'vic-password'],
    ] as const) {
      const other = await signIn({ username: user, password });
      expect((await request('/audit', { as: other })).status, user).toBe(403);
      expect(await (await request('/runs', { as: other })).text(), user).not.toContain('href="/audit"');
    }
  });

  it('cannot be changed or deleted: no API route does it, and the table refuses it', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await api(app, '/api/audit', { method })).status, method).toBe(404);
      expect((await api(app, '/api/audit/1', { method })).status, method).toBe(404);
    }
    const before = await entries();
    await expect(db.pool.query(`UPDATE audit_log SET actor = 'someone-else'`)).rejects.toThrow(/append-only/);
    await expect(db.pool.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(db.pool.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    expect(await entries()).toEqual(before);
  });
});
