import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replay } from '../src/cli/replay.js';
import { enqueueInboxEvents } from '../src/engine/queues.js';
import { insertInboxEvents } from '../src/store/inbox.js';
import type { Crmflow } from '../src/runtime.js';
import { CUSTOMER_TABLES, DERIVED_CUSTOMER_TABLES, exportPerson } from '../src/store/customer-data-map.js';
import { recordFeedback } from '../src/store/feedback.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { waitFor } from './helpers/wait.js';

/** A lead form whose mapping also sets the lifecycle stage, scored and given a task, so every customer-linked table gets rows. */
const CONFIG = `
version: 1
identity:
  default_region: US
  merge_on: [email, phone]   # a shared phone merges here (not the default), so a merge by real events can be undone
  suggest_duplicates: false
connectors:
  form:
    secrets:
      webhook_secret: \${FORM_WEBHOOK_SECRET}
    mappings:
      lead.submitted: |
        {
          "name": name, "email": email, "phone": phone, "lifecycle_stage": stage, "country": country,
          "attributes": { "company": company },
          "timeline": { "type": "lead.submitted", "external_id": "submission/" & $event.external_id, "occurred_at": $event.occurred_at, "summary": form }
        }
agents:
  - { id: alice, name: Alice Martin, email: alice@example.com }
  - { id: bob, name: Bob Okafor, email: bob@example.com }
pools:
  sales: { agents: [alice, bob] }
pipelines:
  sales: { currency: USD, stages: [{ id: new, probability: 0.1 }, { id: won, won: true }, { id: lost, lost: true }] }
# A segment everyone is in, so export and erasure meet membership history too.
segments:
  - id: everyone
    when: "true"
workflows:
  - id: web-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: timeline
      - type: assign_lead
        pool: sales
      - type: reply
        channel: email
        subject: We got your message
        body: "Hi {{ $customer.name }}, {{ $owner.name }} will answer."
      - type: score
        rules: [{ when: "true", add: 10 }]
      - type: create_task
        title: "Call {{ $customer.name }} back"
        due_in: 2h
      - type: open_deal
        pipeline: sales
        name: "Deal with {{ $customer.name }}"
      - type: open_case
        pool: sales
        subject: "Case of {{ $customer.name }}"
        join_open_case: true
  # Something listens for lifecycle changes, so engine events about her are written too.
  - id: stage-watch
    trigger: { type: event, on: lifecycle.changed }
    steps:
      - type: log
        message: "{{ to }}"
`;

describe('unmerge and the customer’s rights, through the real webhook → worker path', () => {
  let db: TestDatabase;
  let app: Crmflow;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let submission = 0;

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

  /** Posts a signed lead form and waits until its event is processed; returns the inbox id. */
  async function lead(fields: Record<string, unknown>): Promise<number> {
    const body = JSON.stringify({ submission_id: `sub-${++submission}`, form: 'Contact', ...fields });
    const answer = await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
    expect(answer.status).toBe(202);
    const inboxId = (answer.body as { inbox_ids: number[] }).inbox_ids[0]!;
    await waitFor(
      `inbox event ${inboxId}`,
      async () =>
        (await count(db.pool, "SELECT 1 FROM inbox_events WHERE id = $1 AND status <> 'pending'", [inboxId])) === 1,
    );
    return inboxId;
  }

  const ownerOf = async (kind: string, value: string) =>
    (
      await db.pool.query<{ customer_id: number }>(
        'SELECT customer_id FROM customer_identities WHERE kind = $1 AND value = $2',
        [kind, value],
      )
    ).rows[0]?.customer_id;

  /** Every row of the customer-linked tables that names this customer id directly (data map rows, no inbox search). */
  async function rowsOf(customerId: number): Promise<Record<string, Array<Record<string, unknown>>>> {
    const client = await db.pool.connect();
    try {
      const tables = (await exportPerson(client, { customers: [customerId], inbox: [] })) as Record<
        string,
        Array<Record<string, unknown>>
      >;
      // Merge records and suggestions are the history of the merge itself; they change by design.
      // Segment stays are evaluated state: the merge closes the merged customer's, and re-evaluation opens new ones.
      const {
        customer_merges: _merges,
        customer_merge_suggestions: _suggestions,
        audit_log: _audit,
        inbox_events: _inbox,
        segment_memberships: _stays,
        ...rest
      } = tables;
      return rest;
    } finally {
      client.release();
    }
  }

  /** Row identity per table, to compare the rows that existed before. */
  const key = (table: string, row: Record<string, unknown>) =>
    table === 'run_steps' ? `${row.run_id}/${row.step_index}` : String(row.id);
  /**
   * The only columns an unmerge may change: the customer rows' updated_at, and their computed traits (recomputed
   * from the rows each keeps now, with the next re-evaluation time), not restored.
   */
  const IGNORED: Record<string, string[]> = { customers: ['updated_at', 'traits', 'segments_recheck_at'] };
  const comparable = (table: string, row: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(row).filter(([column]) => !(IGNORED[table] ?? []).includes(column)));

  it('splits a merge made by real events back exactly, and later events keep resolving correctly', async () => {
    await lead({
      name: 'Ana Souza',
      email: 'ana.souza@example.org',
      country: 'BR',
      company: 'Souza Design',
      stage: 'opportunity',
      submitted_at: '2026-03-01T10:00:00Z',
    });
    await lead({
      name: 'Ana S.',
      email: 'ana.freelance@example.com',
      phone: '(415) 555-0142',
      company: 'Freelance',
      stage: 'customer',
      submitted_at: '2026-03-02T10:00:00Z',
    });
    const ana = (await ownerOf('email', 'ana.souza@example.org'))!;
    const phoneOwner = (await ownerOf('phone', '+14155550142'))!;
    expect(phoneOwner).not.toBe(ana);
    const before = { [ana]: await rowsOf(ana), [phoneOwner]: await rowsOf(phoneOwner) };
    for (const table of [
      'customers',
      'customer_identities',
      'timeline_events',
      'lead_assignments',
      'lifecycle_history',
      'outbound_messages',
      'workflow_runs',
      'run_steps',
    ]) {
      expect([before[ana]![table]!.length > 0, before[phoneOwner]![table]!.length > 0], table).toEqual([true, true]);
    }

    // One event names both: the phone's customer is merged into Ana (the older).
    await lead({
      name: 'Ana Souza',
      email: 'ANA.SOUZA@example.org ',
      phone: '+1 415 555 0142',
      submitted_at: '2026-03-03T10:00:00Z',
    });
    expect(await ownerOf('phone', '+14155550142')).toBe(ana);
    const detail = await api(app, `/api/customers/${phoneOwner}`);
    expect(detail.body).toMatchObject({ id: ana, resolved_from: phoneOwner });
    const merge = (detail.body.merges as Array<Record<string, unknown>>)[0]!;
    expect(merge).toMatchObject({
      kept_id: ana,
      merged_id: phoneOwner,
      linked_by: [{ kind: 'phone', value: '+14155550142' }],
      event: expect.stringMatching(/^run:\d+$/),
      why: 'shared phone',
      unmerged_at: null,
    });

    const bad = await api(app, `/api/customers/${ana}/unmerge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(bad.status).toBe(400);
    const undone = await api(app, `/api/customers/${ana}/unmerge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ merge_id: merge.id }),
    });
    expect(undone.status).toBe(200);
    expect(undone.body).toMatchObject({ merge_id: merge.id, kept_id: ana, merged_id: phoneOwner });
    const again = await api(app, `/api/customers/${ana}/unmerge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer_id: phoneOwner }),
    });
    expect([again.status, again.body.error.code]).toEqual([409, 'conflict']);

    // Every row that existed before the merge is back exactly as it was; the linking event's own rows stay with Ana.
    for (const customerId of [ana, phoneOwner]) {
      const after = await rowsOf(customerId);
      for (const [table, rows] of Object.entries(before[customerId]!)) {
        const existed = new Set(rows.map((row) => key(table, row)));
        const now = after[table]!.filter((row) => existed.has(key(table, row)));
        expect(
          now.map((row) => comparable(table, row)),
          `${table} of customer ${customerId}`,
        ).toEqual(rows.map((row) => comparable(table, row)));
      }
    }
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE customer_id = $1', [phoneOwner])).toBe(
      before[phoneOwner]!.workflow_runs!.length,
    );
    const audit = await db.pool.query("SELECT target, details FROM audit_log WHERE action = 'customer.unmerge'");
    expect(audit.rows).toEqual([
      { target: `customer:${ana}`, details: expect.objectContaining({ merge_id: merge.id, merged_id: phoneOwner }) },
    ]);

    // The identity that came with the merged customer resolves to it again…
    await lead({ phone: '415.555.0142', submitted_at: '2026-03-04T10:00:00Z' });
    expect(await count(db.pool, 'SELECT 1 FROM timeline_events WHERE customer_id = $1', [phoneOwner])).toBe(2);
    // …and the same link no longer merges them silently: it is held apart as a decided pair.
    const inboxId = await lead({
      email: 'ana.souza@example.org',
      phone: '+14155550142',
      submitted_at: '2026-03-05T10:00:00Z',
    });
    expect(
      await count(db.pool, 'SELECT 1 FROM customers WHERE id = ANY($1) AND merged_into IS NULL', [[ana, phoneOwner]]),
    ).toBe(2);
    const { rows: output } = await db.pool.query(
      "SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.inbox_event_id = $1 AND s.type = 'upsert_customer'",
      [inboxId],
    );
    expect(output[0].output).toMatchObject({ customer_id: ana, merged_ids: [], suggested_merges: [phoneOwner] });
    const pair = await db.pool.query(
      'SELECT status, reason FROM customer_merge_suggestions WHERE customer_a = $1 AND customer_b = $2',
      [ana, phoneOwner],
    );
    expect(pair.rows).toEqual([{ status: 'rejected', reason: { why: `unmerged (merge ${merge.id})` } }]);
  }, 60_000);

  it('exports every row about a person, and erasure leaves their email, phone and name in no table', async () => {
    const person = { name: 'Zoë Quintessa-Marlow', email: 'zoe.q.marlow@example.net', phone: '+44 20 7946 0958' };
    await lead({ ...person, company: 'Marlow Ltd', stage: 'opportunity', submitted_at: '2026-04-01T10:00:00Z' });
    await lead({
      name: person.name,
      phone: '+442079460958',
      company: 'Marlow Ltd',
      submitted_at: '2026-04-02T10:00:00Z',
    });
    const zoe = (await ownerOf('email', 'zoe.q.marlow@example.net'))!;
    // Her opt-out is kept by address, not by customer: export and erasure must find it all the same.
    expect(
      (
        await api(app, `/api/customers/${zoe}/consent`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ channel: 'email', granted: false }),
        })
      ).status,
    ).toBe(200);
    // A run that failed before it resolved anyone still stored the payload: it is about her too.
    await lead({
      name: person.name,
      email: person.email,
      phone: 'not a phone',
      stage: 'nonsense',
      submitted_at: '2026-04-03T10:00:00Z',
    });

    // She rated the answer to her case.
    const { rows: sent } = await db.pool.query<{ idempotency_key: string }>(
      "SELECT idempotency_key FROM outbound_messages WHERE customer_id = $1 AND status = 'sent' LIMIT 1",
      [zoe],
    );
    const { rows: cases } = await db.pool.query<{ id: number }>('SELECT id FROM cases WHERE customer_id = $1', [zoe]);
    expect(
      await recordFeedback(db.pool, {
        messageKey: sent[0]!.idempotency_key,
        caseId: cases[0]!.id,
        kind: 'csat',
        score: 4,
        at: new Date(),
      }),
    ).toBeDefined();

    const exported = await api(app, `/api/customers/${zoe}/export`);
    expect(exported.status).toBe(200);
    const tables = exported.body.tables as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(tables).sort()).toEqual(CUSTOMER_TABLES.map((table) => table.table).sort());
    // Every row of every table with a customer_id column that names her is in the export (with the run that failed
    // before it resolved her).
    const { rows: linked } = await db.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'customer_id' ORDER BY 1",
    );
    for (const { table_name: table } of linked) {
      if (table in DERIVED_CUSTOMER_TABLES) continue;
      const { rows } = await db.pool.query<{ id: number }>(
        `SELECT id FROM ${table} WHERE customer_id = $1 ORDER BY id`,
        [zoe],
      );
      expect(rows.length, table).toBeGreaterThan(0);
      expect(
        tables[table]!.map((row) => row.id),
        table,
      ).toEqual(expect.arrayContaining(rows.map((row) => row.id)));
    }
    const { rows: payloads } = await db.pool.query<{ id: number }>(
      'SELECT id FROM inbox_events WHERE payload::text LIKE $1 ORDER BY id',
      [`%${person.email}%`],
    );
    expect(payloads).toHaveLength(2);
    expect(tables.inbox_events!.map((row) => row.id).sort()).toEqual(
      expect.arrayContaining(payloads.map((row) => row.id)),
    );
    expect(tables.run_steps!.length).toBeGreaterThan(0);
    expect(tables.audit_log!.map((entry) => entry.action)).toEqual(['customer.consent']);
    expect(tables.consents).toEqual([
      expect.objectContaining({ channel: 'email', address: person.email, granted: false }),
    ]);

    const erased = await api(app, `/api/customers/${zoe}`, { method: 'DELETE' });
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ customer_ids: [zoe], identities_blocked: 2 });
    const needles = [person.email, person.name, 'Quintessa', '2079460958', '7946 0958', 'Marlow Ltd'];
    const { rows: columns } = await db.pool.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type IN ('text', 'jsonb', 'json', 'character varying') ORDER BY 1, 2`,
    );
    const found: string[] = [];
    for (const { table_name: table, column_name: column } of columns) {
      for (const needle of needles) {
        if (
          (await count(db.pool, `SELECT 1 FROM ${table} WHERE lower(${column}::text) LIKE lower($1)`, [
            `%${needle}%`,
          ])) > 0
        )
          found.push(`${table}.${column} ~ ${needle}`);
      }
    }
    expect(found).toEqual([]);
    const audit = await db.pool.query(
      "SELECT target, details::text AS details FROM audit_log WHERE action = 'customer.erase'",
    );
    expect(audit.rows).toEqual([{ target: `customer:${zoe}`, details: expect.not.stringContaining('zoe') }]);

    // Replays of the stored events (her payloads are erased) and a late delivery of an old submission of hers do
    // not bring her back…
    const replayed = await replay(app, { since: '3650d' });
    await waitFor(
      'replayed runs',
      async () =>
        (await count(
          db.pool,
          "SELECT 1 FROM workflow_runs WHERE trigger_key LIKE '%@replay-%' AND status IN ('succeeded', 'failed', 'filtered')",
        )) === replayed.events,
    );
    expect(await ownerOf('email', 'zoe.q.marlow@example.net')).toBeUndefined();
    const late = await lead({ ...person, submitted_at: '2026-04-02T12:00:00Z' });
    expect(await ownerOf('email', 'zoe.q.marlow@example.net')).toBeUndefined();
    expect(await ownerOf('phone', '+442079460958')).toBeUndefined();
    // A pull (or backfill) reading her record from the vendor, even one updated since, is old data too.
    const [pulled] = await insertInboxEvents(db.pool, [
      {
        connector: 'form',
        type: 'lead.submitted',
        externalId: 'pulled-1',
        occurredAt: new Date(Date.now() + 60_000),
        origin: 'pull:leads',
        payload: { submission_id: 'pulled-1', ...person },
      },
    ]);
    await enqueueInboxEvents(app.queue, [pulled!]);
    await waitFor(
      'the pulled event',
      async () =>
        (await count(db.pool, "SELECT 1 FROM inbox_events WHERE id = $1 AND status <> 'pending'", [pulled])) === 1,
    );
    const { rows: refused } = await db.pool.query(
      'SELECT error FROM workflow_runs WHERE inbox_event_id = ANY($1) ORDER BY id',
      [[late, pulled]],
    );
    expect(refused).toEqual([
      { error: expect.stringContaining('erased person') },
      { error: expect.stringContaining('erased person') },
    ]);
    expect(await ownerOf('email', 'zoe.q.marlow@example.net')).toBeUndefined();
    // …a new contact from her does.
    await lead({
      name: 'Zoë Marlow',
      email: 'Zoe.Q.Marlow@example.net',
      submitted_at: new Date(Date.now() + 60_000).toISOString(),
    });
    const back = await ownerOf('email', 'zoe.q.marlow@example.net');
    expect(back).toBeDefined();
    expect(back).not.toBe(zoe);
  }, 90_000);
});
