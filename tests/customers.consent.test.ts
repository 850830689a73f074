import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keywordConsent, unsubscribeToken, verifyUnsubscribeToken } from '../src/customers/consent.js';
import type { Crmflow } from '../src/runtime.js';
import { setConsent } from '../src/store/consents.js';
import { createPool } from '../src/store/pool.js';
import { claimAllowance } from '../src/store/reply-limits.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: reply
        channel: email
        subject: "We got your message"
        body: "Thanks, {{ $customer.first_name }}."
`;

describe('opt-out keywords and unsubscribe tokens', () => {
  it('reads the standard keywords, trimmed and in any case, and nothing else', () => {
    for (const word of ['STOP', ' stop ', 'StopAll', 'unsubscribe', 'CANCEL', 'end', 'Quit\n'])
      expect(keywordConsent(word), word).toBe(false);
    for (const word of ['START', 'unstop', ' yes']) expect(keywordConsent(word), word).toBe(true);
    for (const text of ['please stop', 'STOP!', 'yes please', '', null, undefined])
      expect(keywordConsent(text), String(text)).toBeUndefined();
  });

  it('accepts a token only under the key that signed it, for the address it names', () => {
    const token = unsubscribeToken('key-1', 'ana@example.com');
    expect(verifyUnsubscribeToken('key-1', token)).toBe('ana@example.com');
    expect(verifyUnsubscribeToken('key-2', token)).toBeUndefined();
    const [, signature] = token.split('.');
    const otherAddress = `${Buffer.from('bob@example.com').toString('base64url')}.${signature}`;
    expect(verifyUnsubscribeToken('key-1', otherAddress)).toBeUndefined();
    for (const bad of ['', '.', 'abc', `${token}.x`, token.slice(0, -1), `${token}A`])
      expect(verifyUnsubscribeToken('key-1', bad), bad).toBeUndefined();
  });
});

describe('consent per channel and address', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  const json = { 'content-type': 'application/json' };
  const lead = async (id: string, fields: Record<string, string>) => {
    const body = JSON.stringify({ submission_id: id, ...fields });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    await waitFor(
      `lead ${id}`,
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM workflow_runs WHERE trigger_key LIKE 'inbox:%' AND status IN ('succeeded', 'failed') AND inbox_event_id IN (SELECT id FROM inbox_events WHERE external_id = $1)",
          [id],
        )) === 1,
    );
  };
  const customerOf = async (value: string) =>
    (
      await db.pool.query<{ id: number }>(
        'SELECT coalesce(c.merged_into, c.id) AS id FROM customer_identities i JOIN customers c ON c.id = i.customer_id WHERE i.value = $1',
        [value],
      )
    ).rows[0]!.id;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), smtpUrl: smtp.url }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  it('PUT /api/customers/:id/consent records the change for every address of the channel, audited; replies respect it', async () => {
    await lead('c-1', { name: 'Cleo Consent', email: 'cleo@example.com', phone: '+1 415 555 0120' });
    const id = await customerOf('cleo@example.com');
    expect(smtp.messages).toHaveLength(1);

    const saved = await api(app, `/api/customers/${id}/consent`, {
      method: 'PUT',
      body: JSON.stringify({ channel: 'email', granted: false, source: 'asked at the counter' }),
      headers: json,
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toEqual({
      customer_id: id,
      channel: 'email',
      consent: [
        { address: 'cleo@example.com', granted: false, source: 'asked at the counter', changed_at: expect.any(String) },
      ],
    });
    const { rows: audit } = await db.pool.query(
      "SELECT actor, role, action, target, details FROM audit_log WHERE action <> 'config.reload'",
    );
    expect(audit).toEqual([
      {
        actor: 'api-token',
        role: 'admin',
        action: 'customer.consent',
        target: `customer:${id}`,
        details: { channel: 'email', granted: false, source: 'asked at the counter', addresses: 1, via: 'api' },
      },
    ]);

    await lead('c-2', { name: 'Cleo Consent', email: 'cleo@example.com' });
    const { rows } = await db.pool.query(
      'SELECT status, status_reason FROM outbound_messages ORDER BY id DESC LIMIT 1',
    );
    expect(rows[0]).toEqual({
      status: 'skipped',
      status_reason: expect.stringMatching(/^email opt-out \(asked at the counter\) since \d{4}-/),
    });
    expect(smtp.messages).toHaveLength(1);

    const record = (await api(app, `/api/customers/${id}`)).body;
    expect(record.consent).toMatchObject({
      email: [{ address: 'cleo@example.com', granted: false }],
      sms: [{ address: '+14155550120', granted: null }],
      messenger: [],
      instagram: [],
    });
  });

  it('refuses bad input with 400/404/409 and changes nothing', async () => {
    const id = await customerOf('cleo@example.com');
    const before = await count(db.pool, 'SELECT 1 FROM consent_history');
    const bad = [
      [`/api/customers/${id}/consent`, { channel: 'fax', granted: false }, 400],
      [`/api/customers/${id}/consent`, { channel: 'sms', granted: 'no' }, 400],
      [`/api/customers/${id}/consent`, { channel: 'sms', granted: false, source: 'x'.repeat(201) }, 400],
      [`/api/customers/${id}/consent`, { channel: 'instagram', granted: false }, 409],
      ['/api/customers/999999/consent', { channel: 'sms', granted: false }, 404],
    ] as const;
    for (const [path, body, status] of bad) {
      const answer = await api(app, path, { method: 'PUT', body: JSON.stringify(body), headers: json });
      expect(answer.status, JSON.stringify(body)).toBe(status);
      expect(answer.body.error.code).toEqual(expect.any(String));
    }
    expect(await count(db.pool, 'SELECT 1 FROM consent_history')).toBe(before);
    expect(await count(db.pool, "SELECT 1 FROM audit_log WHERE action = 'customer.consent'")).toBe(1);
  });

  it('an opt-out stays with the address when customers merge', async () => {
    await lead('d-1', { name: 'Dev Merge', email: 'dev@example.com' });
    const devId = await customerOf('dev@example.com');
    await lead('d-2', { name: 'Dev M', phone: '+1 415 555 0130' });
    const phoneId = await customerOf('+14155550130');
    expect(phoneId).not.toBe(devId);
    expect(
      (
        await api(app, `/api/customers/${phoneId}/consent`, {
          method: 'PUT',
          body: '{"channel":"sms","granted":false}',
          headers: json,
        })
      ).status,
    ).toBe(200);
    // A lead with both links the two customers: the survivor carries the phone, and its opt-out.
    await lead('d-3', { name: 'Dev Merge', email: 'dev@example.com', phone: '+1 415 555 0130' });
    const merged = await customerOf('+14155550130');
    expect(await customerOf('dev@example.com')).toBe(merged);
    const record = (await api(app, `/api/customers/${merged}`)).body;
    expect(record.consent.sms).toEqual([
      { address: '+14155550130', granted: false, source: 'api', changed_at: expect.any(String) },
    ]);
    expect(record.consent_history).toEqual([
      expect.objectContaining({ channel: 'sms', address: '+14155550130', granted: false, actor: 'api-token' }),
    ]);
  });

  it('a forged unsubscribe token is refused and changes nothing', async () => {
    const before = await count(db.pool, 'SELECT 1 FROM consent_history');
    const forged = unsubscribeToken('not-the-secret-key', 'dev@example.com');
    for (const method of ['GET', 'POST']) {
      const answer = await fetch(`${app.url}/unsubscribe/${forged}`, { method });
      expect(answer.status).toBe(404);
      expect((await answer.json()).error.code).toBe('not_found');
    }
    expect(await count(db.pool, 'SELECT 1 FROM consent_history')).toBe(before);
    // The genuine token for the same address works (and a second click changes nothing more).
    const genuine = unsubscribeToken(SECRETS.CRMFLOW_SECRET_KEY!, 'dev@example.com');
    for (let click = 0; click < 2; click++)
      expect((await fetch(`${app.url}/unsubscribe/${genuine}`, { method: 'POST' })).status).toBe(200);
    expect(await count(db.pool, 'SELECT 1 FROM consent_history')).toBe(before + 1);
  });

  it('a redelivered statement is applied once, and an older one never overrides a newer one', async () => {
    const at = new Date('2026-01-02T00:00:00Z');
    const change = {
      channel: 'sms',
      address: '+14155550199',
      granted: false,
      source: 'STOP',
      actor: 'twilio',
      eventRef: 'twilio:SM-old',
      at,
    } as const;
    await setConsent(db.pool, change);
    await setConsent(db.pool, change);
    await setConsent(db.pool, {
      ...change,
      granted: true,
      source: 'START',
      eventRef: 'twilio:SM-older',
      at: new Date('2026-01-01T00:00:00Z'),
    });
    expect(await count(db.pool, "SELECT 1 FROM consent_history WHERE address = '+14155550199'")).toBe(2);
    expect((await db.pool.query("SELECT granted, source FROM consents WHERE address = '+14155550199'")).rows).toEqual([
      { granted: false, source: 'STOP' },
    ]);
  });

  it('lets exactly one of many concurrent replies through a once-per-window limit, and the same reply again on retry', async () => {
    const limit = { scope: 'once:test:reply:customer:1:sms', max: 1, windowMs: 600_000 };
    const DAY = 86_400_000;
    // A reply counted long ago (older than any window may be): pruned when the scope is next claimed.
    await db.pool.query(
      `INSERT INTO reply_allowances (scope, idempotency_key, granted_at) VALUES ($1, 'run:old:reply', now() - interval '2 days')`,
      [limit.scope],
    );
    // One connection per contender, all open before the race starts: the claims really run side by side.
    const pool = createPool(db.url, { max: 12 });
    const clients = await Promise.all(Array.from({ length: 12 }, () => pool.connect()));
    clients.forEach((client) => client.release());
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, index) => claimAllowance(pool, `run:${index}:reply`, [limit], DAY)),
    );
    await pool.end();
    const allowed = results.flatMap((result, index) => (result.allowed ? [index] : []));
    expect(allowed).toHaveLength(1);
    expect(await claimAllowance(db.pool, `run:${allowed[0]}:reply`, [limit], DAY)).toEqual({ allowed: true });
    expect(await claimAllowance(db.pool, 'run:99:reply', [limit], DAY)).toMatchObject({ allowed: false });
    expect(await count(db.pool, "SELECT 1 FROM reply_allowances WHERE idempotency_key = 'run:old:reply'")).toBe(0);
  });
});
