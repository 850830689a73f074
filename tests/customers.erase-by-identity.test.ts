import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryIdentities } from '../src/customers/delivery-identities.js';
import type { Crmflow } from '../src/runtime.js';
import { insertInboxEvents } from '../src/store/inbox.js';
import { api, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';
import { FORM_CONNECTOR, submitLead } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `${FORM_CONNECTOR}
identity:
  default_region: US
  fold_gmail: true
  suggest_duplicates: false
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps: [{ type: map }, { type: upsert_customer }]
`;

const at = new Date('2026-11-20T10:00:00Z');

describe('erasure finds every stored delivery about the person by any of their normalized identities', () => {
  let db: TestDatabase;
  let app: Crmflow;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
    );
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('erases a phone-only SMS and a Gmail address written another way, and leaves other people’s deliveries alone', async () => {
    expect(
      (
        await submitLead(app, {
          submission_id: 'erase-1',
          name: 'Ana Smith',
          email: 'Ana.Smith@gmail.com',
          phone: '(415) 555-0123',
        })
      ).status,
    ).toBe(202);
    const customerId = await waitFor('the lead to become a customer', async () => {
      const { rows } = await db.pool.query<{ customer_id: number }>(
        "SELECT customer_id FROM workflow_runs WHERE status = 'succeeded' AND customer_id IS NOT NULL",
      );
      return rows[0]?.customer_id;
    });
    // Deliveries that never ran a workflow for her: an SMS from her number (Twilio's shape, no email anywhere), an
    // order with her Gmail address spelled another way, a WhatsApp message from her, and someone else's SMS.
    const [sms, order, whatsapp, other] = await insertInboxEvents(db.pool, [
      {
        connector: 'twilio',
        type: 'message.received',
        externalId: 'SM-ana',
        occurredAt: at,
        payload: { From: '+14155550123', To: '+15005550006', Body: 'Call me at home', ProfileName: 'Ana S' },
      },
      {
        connector: 'shopify',
        type: 'order.created',
        externalId: 'order-ana',
        occurredAt: at,
        payload: { customer: { email: 'a.n.a.smith+shop@googlemail.com', first_name: 'Ana' } },
      },
      {
        connector: 'meta',
        type: 'message.received',
        externalId: 'wamid-ana',
        occurredAt: at,
        payload: { contacts: [{ wa_id: '14155550123', profile: { name: 'Ana' } }], text: 'hola' },
      },
      {
        connector: 'twilio',
        type: 'message.received',
        externalId: 'SM-bo',
        occurredAt: at,
        payload: { From: '+14155550199', Body: 'Hi from Bo' },
      },
    ]);

    const erased = await api(app, `/api/customers/${customerId}`, { method: 'DELETE' });
    expect(erased.status).toBe(200);
    const payloads = new Map(
      (
        await db.pool.query<{ id: number; payload: unknown }>(
          'SELECT id, payload FROM inbox_events WHERE id = ANY($1::bigint[])',
          [[sms, order, whatsapp, other]],
        )
      ).rows.map((row) => [row.id, row.payload]),
    );
    expect(payloads.get(sms!)).toEqual({ erased: true });
    expect(payloads.get(order!)).toEqual({ erased: true });
    expect(payloads.get(whatsapp!)).toEqual({ erased: true });
    expect(payloads.get(other!)).toEqual({ From: '+14155550199', Body: 'Hi from Bo' });
    const { rows } = await db.pool.query(
      'SELECT inbox_event_id FROM inbox_event_identities WHERE inbox_event_id = ANY($1::bigint[])',
      [[sms, order, whatsapp]],
    );
    expect(rows).toEqual([]);
  });

  it('records emails (also Gmail-folded) and phones from any field, E.164, WhatsApp ids and Twilio whatsapp: prefixes included', () => {
    const identities = deliveryIdentities(
      {
        email: 'J.Doe+x@Gmail.com',
        nested: [{ phone: '(212) 555-0100' }],
        From: 'whatsapp:+447700900123',
        wa_id: '447700900124',
        note: 'call 12345',
      },
      'US',
    );
    expect(identities.map((identity) => `${identity.kind}:${identity.value}`).sort()).toEqual([
      'email:j.doe+x@gmail.com',
      'email:jdoe@gmail.com',
      'phone:+12125550100',
      'phone:+447700900123',
      'phone:+447700900124',
    ]);
  });
});
