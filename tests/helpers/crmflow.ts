import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ENV_VARS } from '../../src/config/env.js';
import { startCrmflow, type Crmflow, type Roles } from '../../src/runtime.js';

export const TEST_TOKEN = 'test-api-token';
/** A test value for every secret crmflow knows (tests run with NODE_ENV=production: no demo values). */
export const SECRETS: Record<string, string> & { SHOPIFY_WEBHOOK_SECRET: string; FORM_WEBHOOK_SECRET: string } = {
  ...Object.fromEntries(
    ENV_VARS.filter((spec) => spec.secret).map((spec) => [spec.name, `test-${spec.name.toLowerCase()}`]),
  ),
  SHOPIFY_WEBHOOK_SECRET: 'shopify-test-secret',
  FORM_WEBHOOK_SECRET: 'form-test-secret',
  // The shipped workflows.yaml reads mailboxes from it; a test that wants one sets its own.
  EMAIL_MAILBOXES: 'none',
};
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Writes a workflows file into a temporary folder and returns its path. */
export function writeConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'crmflow-test-'));
  const path = join(dir, 'workflows.yaml');
  writeFileSync(path, text);
  return path;
}

/** A unique BullMQ prefix, so test files never see each other's jobs. */
export function testPrefix(): string {
  return `crmflow-test-${randomBytes(5).toString('hex')}`;
}

export interface TestEnvOptions {
  databaseUrl: string;
  configPath: string;
  prefix: string;
  smtpUrl?: string;
  redisUrl?: string;
  extra?: Record<string, string>;
}

export function testEnv(options: TestEnvOptions): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl ?? REDIS_URL,
    CRMFLOW_CONFIG: options.configPath,
    CRMFLOW_QUEUE_PREFIX: options.prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    CRMFLOW_LOCK_MS: '3000',
    // Several test files, each with apps and worker processes, share one PostgreSQL: stay well under max_connections.
    CRMFLOW_PG_POOL_MAX: '8',
    CRMFLOW_DRAIN_MS: '0',
    CRMFLOW_SHUTDOWN_TIMEOUT_MS: '10000',
    // Worker-only processes serve no metrics port unless a test gives them one (parallel test files would collide).
    CRMFLOW_METRICS_PORT: '0',
    // Spawned `bin/crmflow.js` processes run the sources under test, never a dist/ built earlier.
    CRMFLOW_RUN_FROM: 'src',
    WORKER_CONCURRENCY: '8',
    ...(options.smtpUrl ? { SMTP_URL: options.smtpUrl } : {}),
    ...SECRETS,
    CRMFLOW_API_TOKEN: TEST_TOKEN,
    ...options.extra,
  };
}

/** `now`: the clock of time-based steps (business hours, waits, SLAs), e.g. a fixed offset from the real one. */
export async function startTestCrmflow(
  env: Record<string, string>,
  roles: Roles = { api: true, worker: true, scheduler: true },
  now?: () => Date,
): Promise<Crmflow> {
  return startCrmflow({
    env,
    roles,
    logger: pino({ level: env.LOG_LEVEL ?? 'silent' }),
    reconciler: { intervalMs: 500, graceMs: 500 },
    now,
  });
}

/** fetch against a running crmflow with the API token. */
export async function api(app: Crmflow, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${app.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_TOKEN}`, ...(init.headers ?? {}) },
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function post(
  app: Crmflow,
  path: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: any; headers: Record<string, string> }> {
  const response = await fetch(`${app.url}${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
    headers,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: Object.fromEntries(response.headers) };
}

/** For apps built only to be inspected or to fail before sending: resending a message must not happen there. */
export const notCalled = (): never => {
  throw new Error('not expected to be called in this test');
};
