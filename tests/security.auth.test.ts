import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import { createApp, type AppOptions } from '../src/http/app.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import {
  notCalled,
  REDIS_URL,
  TEST_TOKEN,
  startTestCrmflow,
  testEnv,
  testPrefix,
  writeConfig,
} from './helpers/crmflow.js';

const EXAMPLE_CONFIG = readFileSync(new URL('../workflows.yaml', import.meta.url), 'utf8');

/**
 * Routes that answer without a session or the API token, each with the reason. A route that is neither here nor
 * protected fails the test: add protection, or add it here with a reason a reviewer accepts.
 */
const PUBLIC_ROUTES: Record<string, string> = {
  'ALL /webhooks/:connector': 'vendors authenticate each delivery with a signature over the raw body instead',
  'GET /healthz': 'liveness probe for load balancers; answers {"status":"ok"} only',
  'GET /readyz': 'readiness probe; reports only whether PostgreSQL and Redis answer',
  'GET /api/openapi.json': 'the API description; holds no data and no secrets',
  'GET /metrics': 'its own bearer token (CRMFLOW_METRICS_TOKEN), or loopback clients only when unset',
  'GET /login': 'the sign-in page itself',
  'POST /login': 'the sign-in form (rate limited, same-origin only)',
  'GET /unsubscribe/:token':
    'the link in auto-reply emails: the HMAC-signed token is the credential; the page changes nothing',
  'POST /unsubscribe/:token':
    'RFC 8058 one-click unsubscribe from mail clients: the HMAC-signed token is the credential and revokes only its own address',
  'GET /feedback/:token':
    'the rating links of satisfaction questions: the HMAC-signed token is the credential; the page changes nothing',
  'POST /feedback/:token': 'records the rating its signed, unexpired token names (one answer per message)',
};
/** Static files, served by middleware rather than routes: public, and checked below to hold nothing but assets. */
const PUBLIC_PREFIXES = ['/assets/'];

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: string;
  /** A mounted router has a stack; a mounted express app (bull-board's) has a router with one. */
  handle: { stack?: Layer[]; router?: { stack?: Layer[] } };
}

/** `METHOD /path` of every route registered on the app, mounted routers (the dashboard, bull-board) included. */
function expressRoutes(stack: Layer[], prefix = ''): string[] {
  const join = (a: string, b: string) => `${a}/${b}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
  return stack.flatMap((layer) => {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      return paths.flatMap((path) =>
        Object.keys(layer.route!.methods).map(
          (method) => `${method === '_all' ? 'ALL' : method.toUpperCase()} ${join(prefix, path)}`,
        ),
      );
    }
    const inner = layer.handle.stack ?? layer.handle.router?.stack;
    if (inner) return expressRoutes(inner, join(prefix, typeof layer.rawPath === 'string' ? layer.rawPath : ''));
    return [];
  });
}

/** A concrete URL for a route pattern: every `:param` (and `*splat`) becomes a plausible value. */
const concrete = (path: string) =>
  path.replace(/\{?\*\w+\}?/g, 'x').replace(/:(\w+)\??/g, (_, name: string) => (/id$/i.test(name) ? '1' : 'x'));

describe('authentication: every route is protected unless listed', () => {
  let db: TestDatabase;
  let crmflow: Crmflow;
  let redis: Redis;
  let server: Server;
  let base: string;
  let routes: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(EXAMPLE_CONFIG),
      prefix: testPrefix(),
      smtpUrl: 'smtp://127.0.0.1:9',
      extra: {
        CRMFLOW_USERS: `ana:admin:${hashPassword('ana-password')}`,
        CRMFLOW_METRICS_TOKEN: 'metrics-token-for-the-auth-test',
      },
    });
    crmflow = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
    redis = new Redis(REDIS_URL);
    // The very app whose routing table is walked is the one asked: nothing registered can escape the check.
    const app = createApp({
      pool: crmflow.pool,
      queue: crmflow.queue,
      redis,
      config: crmflow.config,
      apiToken: TEST_TOKEN,
      publicUrl: 'http://127.0.0.1',
      defaultRegion: 'US',
      logger: pino({ level: 'silent' }),
      resendMessage: notCalled,
      metricsToken: 'metrics-token-for-the-auth-test',
      dashboard: {
        users: [{ name: 'ana', role: 'admin', passwordHash: hashPassword('ana-password') }],
        secretKey: 'auth-test-secret-key',
      },
    } satisfies AppOptions);
    routes = [...new Set(expressRoutes(app.router.stack as Layer[]))].sort();
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    redis?.disconnect();
    await crmflow?.close();
    await db?.drop();
  });

  it('finds the API, the dashboard and bull-board in the routing table', () => {
    for (const route of [
      'GET /api/customers',
      'POST /api/runs/:id/retry',
      'GET /api/audit',
      'GET /runs',
      'POST /logout',
      'GET /audit',
      'GET /events',
    ]) {
      expect(routes).toContain(route);
    }
    expect(routes.some((route) => route.startsWith('GET /admin/queues/api/'))).toBe(true);
    expect(routes.length).toBeGreaterThan(30);
    // Every allow-list entry is a real route: a stale entry would hide nothing, but would mislead a reader.
    for (const route of Object.keys(PUBLIC_ROUTES)) expect(routes, route).toContain(route);
  });

  it('answers 401, or sends a page to /login, on every other route without credentials or with wrong ones', async () => {
    const bad: string[] = [];
    const checked: string[] = [];
    const credentials: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['a wrong bearer token', { authorization: 'Bearer not-the-token' }],
      [
        'a forged session',
        {
          cookie: `crmflow_session=${Buffer.from(JSON.stringify({ user: 'ana', role: 'admin', nonce: 'n', expires: Date.now() + 1e6 })).toString('base64url')}.AAAA`,
        },
      ],
    ];
    for (const route of routes) {
      if (route in PUBLIC_ROUTES) continue;
      const [method, pattern] = route.split(' ') as [string, string];
      const url = concrete(pattern);
      const methods = method === 'ALL' ? ['GET', 'POST'] : [method];
      for (const verb of methods) {
        for (const [label, headers] of credentials) {
          // As a program (JSON): 401, whatever the route.
          const asProgram = await fetch(`${base}${url}`, {
            method: verb,
            redirect: 'manual',
            headers: { accept: 'application/json', ...headers },
          });
          await asProgram.body?.cancel();
          if (asProgram.status !== 401) bad.push(`${verb} ${url} with ${label} as a program → ${asProgram.status}`);
          // As a browser: pages outside the API go to the login, and come back after it; everything else is 401.
          if (verb === 'GET' || verb === 'HEAD') {
            const asBrowser = await fetch(`${base}${url}`, {
              method: verb,
              redirect: 'manual',
              headers: { accept: 'text/html', ...headers },
            });
            await asBrowser.body?.cancel();
            const toLogin =
              asBrowser.status === 302 &&
              asBrowser.headers.get('location') === `/login?next=${encodeURIComponent(url)}`;
            const expected = url.startsWith('/api/') ? asBrowser.status === 401 : toLogin;
            if (!expected)
              bad.push(
                `${verb} ${url} with ${label} as a browser → ${asBrowser.status} ${asBrowser.headers.get('location') ?? ''}`,
              );
          }
        }
        checked.push(`${verb} ${url}`);
      }
    }
    expect(bad).toEqual([]);
    expect(checked.length).toBeGreaterThan(25);
  });

  it('keeps unknown paths and assets from serving data, and puts security headers on every answer', async () => {
    for (const path of ['/api/nothing-here', '/api/', '/admin', '/nothing-here']) {
      const response = await fetch(`${base}${path}`, { redirect: 'manual', headers: { accept: 'application/json' } });
      expect([401, 404], path).toContain(response.status);
    }
    for (const prefix of PUBLIC_PREFIXES) {
      expect((await fetch(`${base}${prefix}dashboard.css`)).status).toBe(200);
      // Only files inside the asset folder: no traversal into the source tree.
      expect((await fetch(`${base}${prefix}..%2Froutes.ts`)).status).not.toBe(200);
      expect((await fetch(`${base}${prefix}%2e%2e/auth.ts`)).status).not.toBe(200);
    }
    for (const path of ['/healthz', '/api/customers', '/login', '/runs', '/assets/dashboard.js', '/webhooks/shopify']) {
      const response = await fetch(`${base}${path}`, { redirect: 'manual' });
      expect(response.headers.get('x-powered-by'), path).toBeNull();
      expect(response.headers.get('content-security-policy'), path).toContain("script-src 'self'");
      expect(response.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('strict-transport-security'), path).toMatch(/max-age=\d+/);
      expect(response.headers.get('referrer-policy'), path).toBe('same-origin');
    }
  });

  it('lets the listed routes answer without credentials (the reasons above hold)', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/api/openapi.json`)).status).toBe(200);
    expect((await fetch(`${base}/login`)).status).toBe(200);
    // Metrics with a token configured: 401 without it, even from loopback.
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    // An unsubscribe link needs a token signed with the secret key: a forged one is refused and changes nothing.
    const forged = `${Buffer.from('ana@example.com').toString('base64url')}.${'A'.repeat(43)}`;
    for (const method of ['GET', 'POST'])
      expect((await fetch(`${base}/unsubscribe/${forged}`, { method })).status).toBe(404);
    expect((await db.pool.query('SELECT 1 FROM consents UNION ALL SELECT 1 FROM consent_history')).rows).toEqual([]);
    // An unsigned webhook is refused by its signature check, not by a session.
    expect(
      (
        await fetch(`${base}/webhooks/shopify`, {
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(401);
  });
});
