import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';

// Contacts by a person are engine events: a workflow moves the lead on when an agent called or wrote.
const CONFIG = `
connectors:
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents:
  - { id: ann, name: Ann, email: ann@shop.example.org, phone: "+1 (415) 555-0901" }
workflows:
  - id: calls
    trigger: { type: webhook, connector: twilio, event: [call.completed, call.missed] }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
  - id: contacted
    trigger: { type: event, on: [call.completed, message.sent] }
    steps:
      - { type: log, message: "{{ agent_id }} contacted {{ customer_id }}" }
`;

describe('contacts by a person: calls to or from an agent’s phone, an agent’s message', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    app = await startTestCrmflow(
      testEnv({
        databaseUrl: db.url,
        configPath: writeConfig(CONFIG),
        prefix: testPrefix(),
        smtpUrl: smtp.url,
        extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
      }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const call = async (sid: string, direction: string, from: string, to: string) => {
    const params = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      CallSid: sid,
      CallStatus: 'completed',
      CallDuration: '61',
      Direction: direction,
      From: from,
      To: to,
      Timestamp: new Date().toUTCString(),
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', body, headers)).status).toBe(200);
    return waitFor(`call ${sid} on the timeline`, async () => {
      const { rows } = await db.pool.query<{ customer_id: number; data: Record<string, unknown> }>(
        'SELECT customer_id, data FROM timeline_events WHERE external_id = $1',
        [`call/${sid}`],
      );
      return rows[0];
    });
  };
  const contactRuns = async () =>
    (
      await db.pool.query<{ trigger: { type: string; agent_id?: string } }>(
        "SELECT trigger->'data' AS trigger FROM workflow_runs WHERE workflow = 'contacted' ORDER BY id",
      )
    ).rows;

  it('attributes a call to the agent whose phone made or took it, and starts call.completed workflows; other calls are nobody’s', async () => {
    const dialled = await call('CA000000000000000000000000000000a1', 'outbound-dial', '+14155550901', '+14155550177');
    expect(dialled.data.agent_id).toBe('ann');
    const taken = await call('CA000000000000000000000000000000a2', 'inbound', '+14155550178', '+14155550901');
    expect(taken.data.agent_id).toBe('ann');
    const ivr = await call('CA000000000000000000000000000000a3', 'inbound', '+14155550179', '+15005550006');
    expect(ivr.data.agent_id).toBeUndefined();
    const runs = await waitFor('two contact runs', async () => {
      const { rows } = await db.pool.query<{ status: string; customer_id: number }>(
        "SELECT status, customer_id FROM workflow_runs WHERE workflow = 'contacted' ORDER BY id",
      );
      return rows.length === 2 && rows.every((row) => row.status === 'succeeded') && rows;
    });
    expect(runs.map((run) => run.customer_id).sort()).toEqual([dialled.customer_id, taken.customer_id].sort());
  });

  it('makes an agent’s message from crmflow a message.sent event, and a hand-logged call a call.completed one', async () => {
    const { rows } = await db.pool.query<{ customer_id: number }>(
      "SELECT customer_id FROM customer_identities WHERE kind = 'phone' AND value = '+14155550177'",
    );
    const customerId = rows[0]!.customer_id;
    await db.pool.query(
      "INSERT INTO customer_identities (customer_id, kind, value, source) VALUES ($1, 'email', 'lee@example.com', 'test')",
      [customerId],
    );
    const sent = await api(app, `/api/customers/${customerId}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'email', text: 'Following up on our call.', agent_id: 'ann' }),
    });
    expect(sent.status).toBe(201);
    await waitFor('the email', async () => smtp.messages.some((message) => message.to.includes('lee@example.com')));
    const logged = await api(app, `/api/customers/${customerId}/contacts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'note', text: 'Prefers mornings.', agent_id: 'ann' }),
    });
    expect(logged.status).toBe(201);
    const events = await waitFor('the message.sent event', async () => {
      const result = await db.pool.query<{ type: string; agent_id: string }>(
        "SELECT type, data->>'agent_id' AS agent_id FROM engine_events ORDER BY id",
      );
      return result.rows.some((row) => row.type === 'message.sent') && result.rows;
    });
    // A note is no contact: no event for it.
    expect(events.map((event) => [event.type, event.agent_id])).toEqual([
      ['call.completed', 'ann'],
      ['call.completed', 'ann'],
      ['message.sent', 'ann'],
    ]);
    expect(await contactRuns()).toHaveLength(3);
  });
});
