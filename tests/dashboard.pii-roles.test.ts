import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/dashboard/auth.js';
import { MASK, maskIdentity, maskSecrets, setPiiFields } from '../src/dashboard/mask.js';
import type { Crmflow } from '../src/runtime.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { FORM_CONNECTOR, submitLead } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `${FORM_CONNECTOR}
identity: { default_region: US, suggest_duplicates: false }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
`;
const USERS = `vic:viewer:${hashPassword('vic-password')},sue:support:${hashPassword('sue-password')}`;
const EMAIL = 'maria.pii@example.com';
const PHONE = '+14155550142';

describe('identity values declared PII are masked for viewers wherever they are rendered, shown to support and admin', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    const extra = { CRMFLOW_USERS: USERS, CRMFLOW_PII_FIELDS: 'email,phone' };
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix(), extra }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    setPiiFields([]);
  });

  async function pages(user: string, password: string, customerId: number, runId: number): Promise<string> {
    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ username: user, password }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    let text = '';
    for (const path of ['/customers?q=Maria', `/customers/${customerId}`, `/runs/${runId}`, '/runs']) {
      const response = await fetch(`${app.url}${path}`, { headers: { cookie } });
      expect([path, response.status]).toEqual([path, 200]);
      text += await response.text();
    }
    return text;
  }

  it('a viewer sees no email or phone in the customer list, the customer page, or the upsert_customer output; support does', async () => {
    expect(
      (await submitLead(app, { submission_id: 'pii-1', name: 'Maria Pii', email: EMAIL, phone: '(415) 555-0142' }))
        .status,
    ).toBe(202);
    const run = await waitFor(
      'the run',
      async () => (await db.pool.query("SELECT id, customer_id FROM workflow_runs WHERE status = 'succeeded'")).rows[0],
    );
    // A message sent to her and her consent, as the reply step and an opt-out would record them.
    await db.pool.query(
      `INSERT INTO outbound_messages (idempotency_key, customer_id, run_id, channel, transport, recipient, body, status) VALUES ('pii-msg', $1, $2, 'sms', 'twilio', $3, 'Hi', 'sent')`,
      [run.customer_id, run.id, PHONE],
    );
    await db.pool.query(
      `INSERT INTO consents (channel, address, granted, source, changed_at) VALUES ('email', $1, false, 'unsubscribe', now())`,
      [EMAIL],
    );
    const viewer = await pages('vic', 'vic-password', run.customer_id, run.id);
    expect(viewer).toContain('Maria Pii');
    expect(viewer).not.toContain(EMAIL);
    expect(viewer).not.toContain(PHONE);
    expect(viewer).toContain(MASK);
    expect(viewer).toContain('opted out');
    const support = await pages('sue', 'sue-password', run.customer_id, run.id);
    expect(support).toContain(EMAIL);
    expect(support).toContain(`${EMAIL}: <strong>opted out</strong>`);
    expect(support).toContain(PHONE);
  });

  it('masks by value for viewers (identities, recipients, consent addresses), by key for everyone', () => {
    setPiiFields(['email', 'phone']);
    const output = {
      customer_id: 7,
      identities: [
        { kind: 'email', value: EMAIL },
        { kind: 'phone', value: PHONE },
      ],
      to: 'whatsapp:+14155550142',
      note: 'order 12345',
    };
    expect(maskSecrets(output, 'viewer')).toEqual({
      customer_id: 7,
      identities: [
        { kind: 'email', value: MASK },
        { kind: 'phone', value: MASK },
      ],
      to: MASK,
      note: 'order 12345',
    });
    expect(maskSecrets(output, 'support')).toEqual(output);
    expect(maskIdentity('email', EMAIL, 'viewer')).toBe(MASK);
    expect(maskIdentity('phone', PHONE, 'admin')).toBe(PHONE);
    setPiiFields([]);
  });
});
