import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import type { Crmflow } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { FORM_CONNECTOR } from './helpers/engine.js';

const USERS = `ana:support:${hashPassword('ana-password')},sam:viewer:${hashPassword('sam-password')}`;

describe('failed sign-ins: throttled in Redis per user and address, summarised in the audit log, trusted proxy configurable', () => {
  let db: TestDatabase;
  /** Two API processes of one installation (one database, one Redis prefix); the second trusts only a Docker network. */
  let first: Crmflow;
  let second: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(`${FORM_CONNECTOR}\nworkflows: []\n`),
      prefix: testPrefix(),
      extra: { CRMFLOW_USERS: USERS },
    });
    first = await startTestCrmflow(env, { api: true, worker: false, scheduler: false });
    second = await startTestCrmflow(
      { ...env, CRMFLOW_TRUSTED_PROXIES: '172.16.0.0/12' },
      { api: true, worker: false, scheduler: false },
    );
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    await db?.drop();
  });

  const signIn = (app: Crmflow, fields: Record<string, string>, from?: string, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams(fields),
      headers: { ...(from ? { 'x-forwarded-for': from } : {}), ...headers },
    });
  const failedRows = async () =>
    (
      await db.pool.query<{ actor: string; ip: string; details: Record<string, unknown> }>(
        "SELECT actor, ip, details FROM audit_log WHERE action = 'login_failed' ORDER BY id",
      )
    ).rows;

  it('60 failures with varied forwarded addresses and a password typed as the user name leave a few summary rows, no typed text', async () => {
    for (let i = 0; i < 60; i++) {
      const answer = await signIn(
        first,
        { username: `Hunter2-secret-typed-in-user-${i % 3}`, password: 'x' },
        `203.0.113.${i}`,
      );
      expect(answer.status).toBe(401);
    }
    const rows = await failedRows();
    expect(rows.map((row) => row.actor)).toEqual(['(unknown user)', '(unknown user)']);
    expect(rows[1]!.details).toEqual({ with: 'password', failures_in_window: 10 });
    expect(JSON.stringify(rows)).not.toContain('Hunter2');
  });

  it('ten failures lock that user at that address only, across processes; colleagues behind the same proxy still sign in', async () => {
    // Five wrong passwords through each API process: one count in Redis, not two of five.
    for (let i = 0; i < 5; i++)
      expect((await signIn(first, { username: 'ana', password: 'wrong' }, '198.51.100.7')).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await signIn(second, { username: 'ana', password: 'wrong' })).status).toBe(401);
    // The second process does not trust the loopback proxy: its failures count for 127.0.0.1, not 198.51.100.7.
    for (let i = 0; i < 5; i++)
      expect((await signIn(first, { username: 'ana', password: 'wrong' }, '127.0.0.1')).status).toBe(401);
    expect((await signIn(first, { username: 'ana', password: 'ana-password' }, '127.0.0.1')).status).toBe(429);
    expect((await signIn(second, { username: 'ana', password: 'ana-password' })).status).toBe(429);
    // Another user from that address, and the same user from another address, are not locked out.
    expect((await signIn(first, { username: 'sam', password: 'sam-password' }, '127.0.0.1')).status).toBe(303);
    expect((await signIn(first, { username: 'ana', password: 'ana-password' }, '198.51.100.8')).status).toBe(303);
    // ana's 15 failures are summarised: her first, and the tenth.
    const anas = (await failedRows()).filter((row) => row.actor === 'ana');
    expect(anas.map((row) => row.details)).toEqual([
      { with: 'password' },
      { with: 'password', failures_in_window: 10 },
    ]);
  });

  it('only the configured proxy is believed: its X-Forwarded-For and -Proto set the address and the cookie’s Secure flag', async () => {
    const trusted = await signIn(first, { username: 'sam', password: 'sam-password' }, '192.0.2.55', {
      'x-forwarded-proto': 'https',
    });
    expect(trusted.headers.get('set-cookie')).toMatch(/; Secure/);
    const untrusted = await signIn(second, { username: 'sam', password: 'sam-password' }, '192.0.2.56', {
      'x-forwarded-proto': 'https',
    });
    expect(untrusted.headers.get('set-cookie')).not.toMatch(/Secure/);
    const { rows } = await db.pool.query<{ ip: string }>(
      "SELECT ip FROM audit_log WHERE action = 'login' AND actor = 'sam' ORDER BY id DESC LIMIT 2",
    );
    expect(rows.map((row) => row.ip)).toEqual([expect.stringMatching(/127\.0\.0\.1$/), '192.0.2.55']);
  });
});
