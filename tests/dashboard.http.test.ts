import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardUsersFromEnv, hashPassword, parseUsers, verifyPassword } from '../src/dashboard/auth.js';
import { escapeHtml, html } from '../src/dashboard/html.js';
import { maskSecrets } from '../src/dashboard/mask.js';
import type { Crmflow } from '../src/runtime.js';
import { upsertCustomer } from '../src/store/customers.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, startTestCrmflow, TEST_TOKEN, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';

const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');
const PASSWORDS = { viewer: 'viewer-password-1', support: 'support-password-1', admin: 'admin-password-1' };
const USERS = Object.entries(PASSWORDS)
  .map(([role, password]) => `${role}-user:${role}:${hashPassword(password)}`)
  .join(',');

/** Every page and stream of the dashboard (ids that exist or not: the login comes first either way). */
const GET_ROUTES = [
  '/',
  '/runs',
  '/runs/1',
  '/customers',
  '/customers?q=x',
  '/customers/1',
  '/workflows',
  '/agents',
  '/events',
  '/admin/queues',
  '/admin/queues/api/queues',
];

interface Browser {
  cookie: string;
  csrf: string;
}

describe('dashboard: sign-in, roles, CSRF and escaping', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let configPath: string;

  const request = (path: string, init: RequestInit & { as?: Browser } = {}) =>
    fetch(`${app.url}${path}`, {
      redirect: 'manual',
      ...init,
      headers: { ...(init.as ? { cookie: init.as.cookie } : {}), ...(init.headers ?? {}) },
    });

  async function signIn(fields: Record<string, string>): Promise<Browser> {
    const response = await request('/login', {
      method: 'POST',
      body: new URLSearchParams({ ...fields, next: '/runs' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/runs');
    const setCookie = response.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/crmflow_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; https requests get Secure
    const cookie = setCookie.split(';')[0]!;
    const page = await (await request('/runs', { as: { cookie, csrf: '' } })).text();
    const csrf = /<meta name="csrf-token" content="([^"]+)">/.exec(page)![1]!;
    return { cookie, csrf };
  }

  async function failedRun(): Promise<number> {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, status, error, attempts) VALUES ('web-lead', 'v', $1, 'failed', 'boom', 1) RETURNING id`,
      [`test:${Math.random()}`],
    );
    return rows[0]!.id;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    configPath = writeConfig(EXAMPLE_CONFIG);
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath,
        prefix: testPrefix(),
        smtpUrl: 'smtp://127.0.0.1:9',
        extra: { CRMFLOW_USERS: USERS },
      }),
      { api: true, worker: false, scheduler: false },
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('sends every dashboard page to the login (302) and answers 401 to streams and tools without a session', async () => {
    for (const path of GET_ROUTES) {
      const page = await request(path, { headers: { accept: 'text/html' } });
      expect(page.status, path).toBe(302);
      expect(page.headers.get('location'), path).toBe(`/login?next=${encodeURIComponent(path)}`);
      const other = await request(path, { headers: { accept: 'text/event-stream' } });
      expect(other.status, path).toBe(401);
    }
    for (const path of ['/runs/1/retry', '/logout', '/admin/queues/api/queues/events/clean/failed']) {
      expect((await request(path, { method: 'POST' })).status, path).toBe(401);
    }
    // A forged or expired cookie is no session either.
    const forged = Buffer.from(
      JSON.stringify({ user: 'admin-user', role: 'admin', nonce: 'x', expires: Date.now() + 1e6 }),
    ).toString('base64url');
    expect(
      (await request('/', { headers: { cookie: `crmflow_session=${forged}.AAAA`, accept: 'text/html' } })).status,
    ).toBe(302);
    // The login page and the assets are public; the API keeps its bearer token.
    expect((await request('/login')).status).toBe(200);
    expect((await request('/assets/dashboard.css')).status).toBe(200);
    expect((await request('/api/runs')).status).toBe(401);
  });

  it('signs in with a user name and password or the API token, never with a wrong one, and signs out', async () => {
    const wrong = await request('/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'admin-user', password: 'nope' }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const unknown = await request('/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'nobody', password: 'nope' }),
    });
    expect(unknown.status).toBe(401);
    expect(
      (await request('/login', { method: 'POST', body: new URLSearchParams({ token: 'not-the-token' }) })).status,
    ).toBe(401);

    const admin = await signIn({ username: 'admin-user', password: PASSWORDS.admin });
    const overview = await request('/', { as: admin });
    expect(overview.status).toBe(200);
    expect(overview.headers.get('content-security-policy')).toContain("script-src 'self'");
    const text = await overview.text();
    expect(text).toContain('Runs per minute');
    expect(text).toContain('admin-user');

    const byToken = await signIn({ token: TEST_TOKEN });
    expect((await request('/workflows', { as: byToken })).status).toBe(200);
    expect((await request('/admin/queues', { as: byToken, headers: { accept: 'text/html' } })).status).toBe(200);

    const out = await request('/logout', {
      method: 'POST',
      as: admin,
      body: new URLSearchParams({ _csrf: admin.csrf }),
    });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/crmflow_session=; .*Max-Age=0/);
  });

  it('rejects a POST without the session CSRF token, or from another origin', async () => {
    const support = await signIn({ username: 'support-user', password: PASSWORDS.support });
    const other = await signIn({ username: 'admin-user', password: PASSWORDS.admin });
    const id = await failedRun();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await request(`/runs/${id}/retry`, { method: 'POST', as: support, headers: form, body: '' })).status).toBe(
      403,
    );
    expect(
      (
        await request(`/runs/${id}/retry`, {
          method: 'POST',
          as: support,
          headers: form,
          body: new URLSearchParams({ _csrf: 'x' }).toString(),
        })
      ).status,
    ).toBe(403);
    // Another session's token is not this session's.
    expect(
      (
        await request(`/runs/${id}/retry`, {
          method: 'POST',
          as: support,
          headers: form,
          body: new URLSearchParams({ _csrf: other.csrf }).toString(),
        })
      ).status,
    ).toBe(403);
    const crossSite = await request(`/runs/${id}/retry`, {
      method: 'POST',
      as: support,
      headers: { ...form, origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: support.csrf }).toString(),
    });
    expect(crossSite.status).toBe(403);
    // bull-board's own API: refused without a same-origin Origin.
    expect((await request('/admin/queues/api/queues/events/clean/failed', { method: 'PUT', as: other })).status).toBe(
      403,
    );
    const { rows } = await db.pool.query('SELECT status FROM workflow_runs WHERE id = $1', [id]);
    expect(rows[0].status).toBe('failed');
    expect(await app.queue.getJob(`retry-${id}-1`)).toBeUndefined();

    const ok = await request(`/runs/${id}/retry`, {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf }).toString(),
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe(`/runs/${id}?notice=retried`);
    expect(await app.queue.getJob(`retry-${id}-1`)).toBeDefined();
  });

  it('shows why customers were merged and lets an admin, not support, undo a merge', async () => {
    const upsert = (emails: string[]) =>
      upsertCustomer(db.pool, {
        identities: emails.map((value) => ({ kind: 'email', value })),
        profile: {},
        occurredAt: new Date(),
        source: 'form',
        eventRef: 'run:77',
      });
    const kept = (await upsert(['una@undo.example'])).customerId;
    const merged = (await upsert(['uno@undo.example'])).customerId;
    await upsert(['una@undo.example', 'uno@undo.example']);
    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM customer_merges WHERE merged_id = $1', [
      merged,
    ]);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const admin = await signIn({ username: 'admin-user', password: PASSWORDS.admin });
    const page = await (await request(`/customers/${kept}`, { as: admin })).text();
    expect(page).toContain('shared email');
    expect(page).toContain('uno@undo.example; run:77');
    expect(page).toContain('Undo merge');
    const support = await signIn({ username: 'support-user', password: PASSWORDS.support });
    expect(await (await request(`/customers/${kept}`, { as: support })).text()).not.toContain('Undo merge');
    const body = (who: { csrf: string }) =>
      new URLSearchParams({ _csrf: who.csrf, merge_id: String(rows[0]!.id) }).toString();
    expect(
      (await request(`/customers/${kept}/unmerge`, { method: 'POST', as: support, headers: form, body: body(support) }))
        .status,
    ).toBe(403);
    const undone = await request(`/customers/${kept}/unmerge`, {
      method: 'POST',
      as: admin,
      headers: form,
      body: body(admin),
    });
    expect([undone.status, undone.headers.get('location')]).toEqual([303, `/customers/${kept}?notice=unmerged`]);
    expect(
      (await db.pool.query('SELECT merged_into FROM customers WHERE id = $1', [merged])).rows[0].merged_into,
    ).toBeNull();
    expect(
      (await request(`/customers/${kept}/unmerge`, { method: 'POST', as: admin, headers: form, body: body(admin) }))
        .status,
    ).toBe(409);
    const audit = await db.pool.query(
      "SELECT actor, details->>'via' AS via FROM audit_log WHERE action = 'customer.unmerge'",
    );
    expect(audit.rows).toEqual([{ actor: 'admin-user', via: 'dashboard' }]);
  });

  it('lists merge suggestions with their evidence; an admin, not a viewer, decides', async () => {
    const one = (email: string) =>
      upsertCustomer(db.pool, {
        identities: [{ kind: 'email', value: email }],
        profile: { name: 'Sam Lee' },
        occurredAt: new Date(),
        source: 'form',
        eventRef: 'run:1',
      });
    const [a, b] = [(await one('sam.lee@a.example')).customerId, (await one('sam.lee@b.example')).customerId];
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO customer_merge_suggestions (customer_a, customer_b, score, reason) VALUES ($1, $2, 1, '{"why": "similar names", "shared": [{"kind": "email_local_part", "value": "sam.lee"}]}') RETURNING id`,
      [a, b],
    );
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    const seen = await (await request('/merge-suggestions', { as: viewer })).text();
    expect(seen).toContain('email_local_part');
    expect(seen).not.toContain('Different people');
    expect(
      (
        await request(`/merge-suggestions/${rows[0]!.id}/reject`, {
          method: 'POST',
          as: viewer,
          headers: form,
          body: new URLSearchParams({ _csrf: viewer.csrf }).toString(),
        })
      ).status,
    ).toBe(403);
    const admin = await signIn({ username: 'admin-user', password: PASSWORDS.admin });
    expect(await (await request('/merge-suggestions', { as: admin })).text()).toContain('Different people');
    const rejected = await request(`/merge-suggestions/${rows[0]!.id}/reject`, {
      method: 'POST',
      as: admin,
      headers: form,
      body: new URLSearchParams({ _csrf: admin.csrf }).toString(),
    });
    expect([rejected.status, rejected.headers.get('location')]).toEqual([303, '/merge-suggestions?notice=rejected']);
    expect(
      (await db.pool.query('SELECT status, decided_by FROM customer_merge_suggestions WHERE id = $1', [rows[0]!.id]))
        .rows[0],
    ).toEqual({ status: 'rejected', decided_by: 'admin-user' });
    expect(
      (
        await request(`/merge-suggestions/${rows[0]!.id}/accept`, {
          method: 'POST',
          as: admin,
          headers: form,
          body: new URLSearchParams({ _csrf: admin.csrf }).toString(),
        })
      ).status,
    ).toBe(409);
  });

  it('lets a viewer read but not retry (403) nor open the queue tool', async () => {
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    const id = await failedRun();
    const page = await (await request(`/runs/${id}`, { as: viewer })).text();
    expect(page).toContain('Retry, replay and cancel need the support or admin role');
    expect(page).not.toContain('Retry run</button>');
    expect(page).not.toContain('Cancel run</button>');
    const retry = await request(`/runs/${id}/retry`, {
      method: 'POST',
      as: viewer,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: viewer.csrf }).toString(),
    });
    expect(retry.status).toBe(403);
    expect(await app.queue.getJob(`retry-${id}-1`)).toBeUndefined();
    expect((await request('/admin/queues', { as: viewer, headers: { accept: 'text/html' } })).status).toBe(403);
    expect(await (await request('/', { as: viewer })).text()).not.toContain('href="/admin/queues"');
  });

  it('cancels a run with the reason given, audited; without a reason nothing changes', async () => {
    const support = await signIn({ username: 'support-user', password: PASSWORDS.support });
    const id = await failedRun();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const page = await (await request(`/runs/${id}`, { as: support })).text();
    expect(page).toMatch(/<label for="cancel-reason">Reason for cancelling<\/label>/);
    const empty = await request(`/runs/${id}/cancel`, {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf, reason: ' ' }).toString(),
    });
    expect(empty.headers.get('location')).toBe(`/runs/${id}?notice=bad_request`);
    expect((await db.pool.query('SELECT status FROM workflow_runs WHERE id = $1', [id])).rows[0].status).toBe('failed');
    const ok = await request(`/runs/${id}/cancel`, {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf, reason: 'duplicate lead, handled by phone' }).toString(),
    });
    expect(ok.headers.get('location')).toBe(`/runs/${id}?notice=cancelled`);
    expect((await db.pool.query('SELECT status, error FROM workflow_runs WHERE id = $1', [id])).rows[0]).toEqual({
      status: 'cancelled',
      error: 'cancelled: duplicate lead, handled by phone',
    });
    const after = await (await request(`/runs/${id}?notice=cancelled`, { as: support })).text();
    expect(after).toContain('Run cancelled');
    expect(after).not.toContain('Cancel run</button>');
    const audit = await db.pool.query(
      "SELECT actor, role, details FROM audit_log WHERE action = 'run.cancel' AND target = $1",
      [`run:${id}`],
    );
    expect(audit.rows).toEqual([
      {
        actor: 'support-user',
        role: 'support',
        details: { reason: 'duplicate lead, handled by phone', via: 'dashboard' },
      },
    ]);
    // A run that is not from a stored event offers no replay, and refuses one.
    expect(page).not.toContain('Replay event</button>');
    const replay = await request(`/runs/${id}/replay`, {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf }).toString(),
    });
    expect(replay.headers.get('location')).toBe(`/runs/${id}?notice=not_replayable`);
  });

  it('shows signature failures of the last hour and the last error per connector on the overview', async () => {
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    for (let n = 0; n < 3; n++) {
      const forged = await request('/webhooks/shopify', {
        method: 'POST',
        body: '{"id":1}',
        headers: {
          'content-type': 'application/json',
          'x-shopify-hmac-sha256': 'forged',
          'x-shopify-topic': 'orders/create',
        },
      });
      expect(forged.status).toBe(401);
    }
    const page = await (await request('/', { as: viewer })).text();
    const shopifyRow = page.split('<tr>').find((row) => row.includes('data-label="Connector">shopify<'))!;
    expect(shopifyRow).toMatch(
      /data-label="Signature failures, last hour"><span class="status status-failed">3<\/span>/,
    );
    expect(shopifyRow).toContain('webhook refused: missing or invalid signature');
    const formRow = page.split('<tr>').find((row) => row.includes('data-label="Connector">form<'))!;
    expect(formRow).toMatch(/data-label="Signature failures, last hour">0</);
  });

  it('lets an admin switch an agent off for new leads on the agents page; others only read it', async () => {
    const admin = await signIn({ username: 'admin-user', password: PASSWORDS.admin });
    const support = await signIn({ username: 'support-user', password: PASSWORDS.support });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const readOnly = await (await request('/agents', { as: support })).text();
    expect(readOnly).toContain('Changing availability needs the admin role');
    expect(readOnly).not.toContain('Make unavailable</button>');
    const denied = await request('/agents/bob/availability', {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf, available: 'false' }).toString(),
    });
    expect(denied.status).toBe(403);

    const page = await (await request('/agents', { as: admin })).text();
    expect(page).toMatch(
      /<tr data-agent="bob">[\s\S]*?<span class="status status-succeeded">available<\/span>[\s\S]*?Make unavailable<\/button>/,
    );
    const off = await request('/agents/bob/availability', {
      method: 'POST',
      as: admin,
      headers: form,
      body: new URLSearchParams({ _csrf: admin.csrf, available: 'false' }).toString(),
    });
    expect(off.headers.get('location')).toBe('/agents?notice=saved');
    expect(
      (await api(app, '/api/agents')).body.agents.find((agent: { id: string }) => agent.id === 'bob').available,
    ).toBe(false);
    const after = await (await request('/agents', { as: admin })).text();
    expect(after).toMatch(
      /<tr data-agent="bob">[\s\S]*?<span class="status status-failed">unavailable<\/span>[\s\S]*?Make available<\/button>/,
    );
    expect(
      (
        await request('/agents/bob/availability', {
          method: 'POST',
          as: admin,
          headers: form,
          body: new URLSearchParams({ _csrf: admin.csrf, available: 'maybe' }).toString(),
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await request('/agents/nobody/availability', {
          method: 'POST',
          as: admin,
          headers: form,
          body: new URLSearchParams({ _csrf: admin.csrf, available: 'true' }).toString(),
        })
      ).status,
    ).toBe(404);
    await request('/agents/bob/availability', {
      method: 'POST',
      as: admin,
      headers: form,
      body: new URLSearchParams({ _csrf: admin.csrf, available: 'true' }).toString(),
    });
    const audit = await db.pool.query(
      "SELECT actor, details FROM audit_log WHERE action = 'agent.availability' ORDER BY id",
    );
    expect(audit.rows).toEqual([
      { actor: 'admin-user', details: { available: false, via: 'dashboard' } },
      { actor: 'admin-user', details: { available: true, via: 'dashboard' } },
    ]);
  });

  it('shows the errors of an edited, broken workflows.yaml while the running workflows stay in force', async () => {
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    expect(await (await request('/workflows', { as: viewer })).text()).not.toContain('role="alert"');
    const original = readFileSync(configPath, 'utf8');
    try {
      writeFileSync(configPath, original.replace('type: upsert_customer', 'type: upsert_customr'));
      const broken = await (await request('/workflows', { as: viewer })).text();
      expect(broken).toMatch(/<code>workflows\.yaml<\/code> on disk has 1 error</);
      expect(broken).toMatch(/<li><code>workflows\.yaml:\d+:\d+ [^<]*upsert_customr/);
      expect(broken).toContain('id="wf-web-lead"');
      writeFileSync(configPath, `${original}\n# edited\n`);
      expect(await (await request('/workflows', { as: viewer })).text()).toContain('was edited and is valid');
    } finally {
      writeFileSync(configPath, original);
    }
  });

  it('shows a customer’s score and follow-up tasks', async () => {
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO customers (name, score, owner_agent_id) VALUES ('Scored Lead', 42, 'bob') RETURNING id`,
    );
    const id = rows[0]!.id;
    await db.pool.query(
      `INSERT INTO tasks (idempotency_key, customer_id, agent_id, title, due_at, overdue_at) VALUES ('test:task', $1, 'bob', 'Call back about the quote', now() + interval '2 hours', now() + interval '3 hours')`,
      [id],
    );
    const page = await (await request(`/customers/${id}`, { as: viewer })).text();
    expect(page).toMatch(/<dt>Score<\/dt><dd>42/);
    expect(page).toMatch(
      /<span class="status status-open">open<\/span> <strong>Call back about the quote<\/strong> <span class="muted">for Bob/,
    );
  });

  it('escapes user-controlled text: a customer named <script>alert(1)</script>', async () => {
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    const name = '<script>alert(1)</script>';
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO customers (name, attributes) VALUES ($1, $2) RETURNING id`,
      [name, JSON.stringify({ note: '"><img src=x onerror=alert(2)>' })],
    );
    const id = rows[0]!.id;
    await db.pool.query(
      `INSERT INTO customer_identities (customer_id, kind, value) VALUES ($1, 'email', 'xss@example.com')`,
      [id],
    );
    await db.pool.query(
      `INSERT INTO consents (channel, address, granted, source, changed_at) VALUES ('email', 'xss@example.com', false, $1, now())`,
      ['<b onmouseover=alert(4)>'],
    );
    await db.pool.query(
      `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, summary) VALUES ($1, 'form', 'x-1', 'lead.submitted', now(), now(), $2)`,
      [id, '<b onmouseover=alert(3)>hi</b>'],
    );
    for (const path of [`/customers/${id}`, '/customers?q=%3Cscript%3E', `/customers?q=xss%40example.com`]) {
      const page = await (await request(path, { as: viewer })).text();
      expect(page, path).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page, path).not.toContain('<script>alert(1)');
      expect(page, path).not.toMatch(/<img src=x|<b onmouseover/);
    }
    expect(await (await request(`/customers/${id}`, { as: viewer })).text()).toMatch(
      /<strong>email<\/strong> xss@example\.com: <strong>opted out<\/strong>/,
    );
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    expect(html`<p title="${'"onclick="x'}">${['<i>', html`<b>ok</b>`]}</p>`.value).toBe(
      '<p title="&quot;onclick=&quot;x">&lt;i&gt;<b>ok</b></p>',
    );
  });

  it('support staff record a customer’s opt-out from the customer page (audited); viewers cannot', async () => {
    const support = await signIn({ username: 'support-user', password: PASSWORDS.support });
    const viewer = await signIn({ username: 'viewer-user', password: PASSWORDS.viewer });
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO customers (name) VALUES ('Opal Out') RETURNING id`,
    );
    const id = rows[0]!.id;
    await db.pool.query(
      `INSERT INTO customer_identities (customer_id, kind, value) VALUES ($1, 'phone', '+14155550177')`,
      [id],
    );
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect(await (await request(`/customers/${id}`, { as: viewer })).text()).not.toContain(
      `action="/customers/${id}/consent"`,
    );
    const page = await (await request(`/customers/${id}`, { as: support })).text();
    expect(page).toContain(`action="/customers/${id}/consent"`);
    const byViewer = await request(`/customers/${id}/consent`, {
      method: 'POST',
      as: viewer,
      headers: form,
      body: new URLSearchParams({ _csrf: viewer.csrf, channel: 'sms', granted: 'false' }).toString(),
    });
    expect(byViewer.status).toBe(403);
    expect(
      (
        await request(`/customers/${id}/consent`, {
          method: 'POST',
          as: support,
          headers: form,
          body: new URLSearchParams({ _csrf: support.csrf, channel: 'fax', granted: 'false' }).toString(),
        })
      ).status,
    ).toBe(400);
    expect(await count(db.pool, "SELECT 1 FROM consents WHERE address = '+14155550177'")).toBe(0);

    const saved = await request(`/customers/${id}/consent`, {
      method: 'POST',
      as: support,
      headers: form,
      body: new URLSearchParams({ _csrf: support.csrf, channel: 'sms', granted: 'false' }).toString(),
    });
    expect([saved.status, saved.headers.get('location')]).toEqual([303, `/customers/${id}`]);
    expect(
      (await db.pool.query("SELECT channel, address, granted, source FROM consents WHERE address = '+14155550177'"))
        .rows,
    ).toEqual([{ channel: 'sms', address: '+14155550177', granted: false, source: 'dashboard (support-user)' }]);
    const { rows: audit } = await db.pool.query(
      "SELECT actor, role, action, target, details FROM audit_log WHERE action = 'customer.consent'",
    );
    expect(audit).toEqual([
      {
        actor: 'support-user',
        role: 'support',
        action: 'customer.consent',
        target: `customer:${id}`,
        details: { channel: 'sms', granted: false, source: 'dashboard (support-user)', addresses: 1, via: 'dashboard' },
      },
    ]);
    expect(await (await request(`/customers/${id}`, { as: support })).text()).toMatch(
      /<strong>sms<\/strong> \+14155550177: <strong>opted out<\/strong>/,
    );
  });

  it('follows only local paths after the login', async () => {
    for (const next of ['//evil.example/', '/\\evil.example', 'https://evil.example/']) {
      const response = await request('/login', {
        method: 'POST',
        body: new URLSearchParams({ token: TEST_TOKEN, next }),
      });
      expect(response.headers.get('location'), next).toBe('/');
    }
  });
});

describe('dashboard users and secrets', () => {
  it('parses CRMFLOW_USERS and checks scrypt hashes', () => {
    const hash = hashPassword('s3cret pass');
    expect(verifyPassword('s3cret pass', hash)).toBe(true);
    expect(verifyPassword('s3cret pas', hash)).toBe(false);
    expect(parseUsers(`ann:support:${hash}, bo:viewer:${hash}`).map((user) => `${user.name}:${user.role}`)).toEqual([
      'ann:support',
      'bo:viewer',
    ]);
    expect(() => parseUsers(`ann:root:${hash}`)).toThrow(/role "root"/);
    expect(() => parseUsers('ann:admin:plaintext')).toThrow(/not scrypt/);
    expect(() => parseUsers(`ann:admin:${hash},ann:viewer:${hash}`)).toThrow(/twice/);
    expect(() => parseUsers('ann:admin:plaintext')).not.toThrow(/plaintext/);
  });

  it('has a demo admin only in demo mode', () => {
    const demo = dashboardUsersFromEnv({});
    expect(demo.demo).toBe(true);
    expect(demo.users[0]).toMatchObject({ name: 'admin', role: 'admin' });
    expect(verifyPassword('demo-admin-password', demo.users[0]!.passwordHash)).toBe(true);
    expect(demo.warnings[0]).toMatch(/DEMO user/);
    expect(dashboardUsersFromEnv({ NODE_ENV: 'production' }).users).toEqual([]);
  });

  it('masks the values of secret-looking keys at any depth', () => {
    expect(
      maskSecrets({
        email: 'a@b.c',
        api_key: 'k',
        nested: [{ Authorization: 'Bearer x', password: 'p', ok: 1 }],
        token: null,
      }),
    ).toEqual({
      email: 'a@b.c',
      api_key: '••••••',
      nested: [{ Authorization: '••••••', password: '••••••', ok: 1 }],
      token: null,
    });
  });
});
