import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIds } from '../src/engine/queues.js';
import type { Crmflow } from '../src/runtime.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders, twilioWebhook } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

const PUBLIC_URL = 'https://crm.example.com';

// Round robin over ann, ben, cat; the owner has 2 s to call or write, else the next agent gets the lead.
const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
  twilio: { secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" } }
agents:
  - { id: ann, name: Ann, phone: "+14155550901" }
  - { id: ben, name: Ben, phone: "+14155550902" }
  - { id: cat, name: Cat, phone: "+14155550903" }
  - { id: max, name: Max Manager }
pools:
  sales: { agents: [ann, ben, cat] }
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form != 'vip'" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - type: assign_lead
        pool: sales
        sla: { within: 2s, then: reassign }
      - { type: reply, channel: email, subject: "We got your message", body: "{{ $owner.name }} will call you." }
  - id: vip-lead
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'vip'" }
    steps:
      - { type: map }
      - { type: upsert_customer }
      - type: assign_lead
        pool: sales
        sla: { within: 2s, then: { escalate_to: max } }
  - id: calls
    trigger: { type: webhook, connector: twilio, event: call.completed }
    steps: [{ type: map }, { type: upsert_customer }, { type: timeline }]
`;

interface Assignment {
  id: number;
  agent_id: string;
  reason: string | null;
  replaces: number | null;
}

describe('assign_lead SLA: reassignment by a delayed job when the owner made no contact', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase();
    smtp = await startSmtpServer();
    env = testEnv({
      databaseUrl: db.url,
      configPath: writeConfig(CONFIG),
      prefix: testPrefix(),
      smtpUrl: smtp.url,
      extra: { CRMFLOW_PUBLIC_URL: PUBLIC_URL },
    });
    app = await startTestCrmflow(env);
  });
  afterAll(async () => {
    await app?.close();
    await smtp?.close();
    await db?.drop();
  });

  const submitLead = async (id: string, phone: string, form = 'contact') => {
    const body = JSON.stringify({ submission_id: id, form, name: `Lead ${id}`, email: `${id}@example.com`, phone });
    expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(202);
    const { rows } = await waitFor(`the assignment of ${id}`, async () => {
      const result = await db.pool.query<Assignment & { customer_id: number }>(
        `SELECT a.id, a.customer_id, a.agent_id, a.reason, a.replaces FROM lead_assignments a JOIN customer_identities i ON i.customer_id = a.customer_id
         WHERE i.kind = 'email' AND i.value = $1 ORDER BY a.id`,
        [`${id}@example.com`],
      );
      return result.rows.length > 0 && result;
    });
    return rows[0]!;
  };
  const assignments = async (customerId: number) =>
    (
      await db.pool.query<Assignment>(
        'SELECT id, agent_id, reason, replaces FROM lead_assignments WHERE customer_id = $1 ORDER BY id',
        [customerId],
      )
    ).rows;
  const slaStatus = (assignmentId: number) =>
    waitFor(`SLA ${assignmentId} checked`, async () => {
      const { rows } = await db.pool.query<{ status: string; outcome: Record<string, unknown> }>(
        'SELECT status, outcome FROM lead_slas WHERE assignment_id = $1',
        [assignmentId],
      );
      return rows[0] && rows[0].status !== 'pending' ? rows[0] : undefined;
    });

  it('reassigns to the next agent of the pool (not the same one) when nobody called or wrote; the auto-reply does not count', async () => {
    const first = await submitLead('sla-1', '+14155550101');
    expect(first.agent_id).toBe('ann');
    await waitFor('the auto-reply', async () =>
      smtp.messages.some((message) => message.to.includes('sla-1@example.com')),
    );

    expect(await slaStatus(first.id)).toMatchObject({ status: 'reassigned', outcome: { from: 'ann', to: 'ben' } });
    expect(await assignments(first.customer_id)).toEqual([
      { id: first.id, agent_id: 'ann', reason: null, replaces: null },
      {
        id: expect.any(Number),
        agent_id: 'ben',
        reason: 'reassigned: ann made no contact within 2s',
        replaces: first.id,
      },
    ]);
    const { body: customer } = await api(app, `/api/customers/${first.customer_id}`);
    expect(customer.owner_agent_id).toBe('ben');
    expect(customer.timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'lead.reassigned', summary: expect.stringContaining('now owned by ben') }),
      ]),
    );

    // A second check of the same SLA (a duplicate job) does nothing.
    await app.queue.add('sla', { kind: 'sla', assignmentId: first.id }, { jobId: `duplicate-${jobIds.sla(first.id)}` });
    await waitFor(
      'the duplicate check done',
      async () => (await app.queue.getJobState(`duplicate-${jobIds.sla(first.id)}`)) === 'completed',
    );
    expect(await assignments(first.customer_id)).toHaveLength(2);
  });

  it('leaves the owner alone when they called the lead from their phone (a completed call attributed to them)', async () => {
    const lead = await submitLead('sla-2', '+14155550102');
    // The owner calls the lead back from the phone declared in agents:; Twilio reports the completed outbound call.
    const phones: Record<string, string> = { ann: '+14155550901', ben: '+14155550902', cat: '+14155550903' };
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      CallSid: 'CA00000000000000000000000000callback',
      CallStatus: 'completed',
      CallDuration: '95',
      Direction: 'outbound-dial',
      From: phones[lead.agent_id]!,
      To: '+14155550102',
      Timestamp: new Date(Date.now() + 1000).toUTCString(),
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    const response = await post(app, '/webhooks/twilio', body, headers);
    expect(response.status).toBe(200);

    expect(await slaStatus(lead.id)).toMatchObject({ status: 'met', outcome: { owner: lead.agent_id } });
    expect(await assignments(lead.customer_id)).toHaveLength(1);
    expect(
      await count(
        db.pool,
        "SELECT 1 FROM timeline_events WHERE type = 'call.completed' AND customer_id = $1 AND data->>'agent_id' = $2",
        [lead.customer_id, lead.agent_id],
      ),
    ).toBe(1);
  });

  it('counts no automated contact: another workflow’s email and a call no agent made leave the SLA unmet', async () => {
    const lead = await submitLead('sla-4', '+14155550104');
    // A thank-you email of another run (what a shop order workflow sends) and a completed call from the main Twilio
    // number (an IVR, a call-tracking line): neither is a person's contact.
    await db.pool.query(
      `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, subject, body, status, sent_at)
       VALUES ('other-run:thank-you', $1, 'email', 'smtp', 'sla-4@example.com', 'Thank you for your order', 'Thanks!', 'sent', now() + interval '1 second')`,
      [lead.customer_id],
    );
    const params: Record<string, string> = {
      AccountSid: 'ACtest',
      ApiVersion: '2010-04-01',
      CallSid: 'CA0000000000000000000000000000ivr',
      CallStatus: 'completed',
      CallDuration: '30',
      Direction: 'outbound-api',
      From: '+15005550006',
      To: '+14155550104',
      Timestamp: new Date(Date.now() + 1000).toUTCString(),
    };
    const { body, headers } = twilioWebhook(PUBLIC_URL, params, SECRETS.TWILIO_AUTH_TOKEN!);
    expect((await post(app, '/webhooks/twilio', body, headers)).status).toBe(200);
    expect(await slaStatus(lead.id)).toMatchObject({ status: 'reassigned', outcome: { from: lead.agent_id } });
    expect(
      await count(
        db.pool,
        "SELECT 1 FROM timeline_events WHERE type = 'call.completed' AND customer_id = $1 AND data->>'agent_id' IS NULL",
        [lead.customer_id],
      ),
    ).toBe(1);
  });

  it('escalates to the named agent across a restart, re-adding the SLA job Redis lost', async () => {
    const lead = await submitLead('sla-3', '+14155550103', 'vip');
    // The SLA job is added just after the assignment is stored.
    await waitFor('the delayed SLA job', async () => (await app.queue.getJobState(jobIds.sla(lead.id))) === 'delayed');
    await app.queue.remove(jobIds.sla(lead.id));
    await app.close();
    app = await startTestCrmflow(env);
    expect(await slaStatus(lead.id)).toMatchObject({
      status: 'escalated',
      outcome: { from: lead.agent_id, to: 'max' },
    });
    expect((await assignments(lead.customer_id)).map((assignment) => assignment.agent_id)).toEqual([
      lead.agent_id,
      'max',
    ]);
  });
});
