import { describe, expect, it } from 'vitest';
import { count } from './helpers/db.js';
import { FORM_CONNECTOR, submitLead, useCrmflow } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

/**
 * A lead starts a chain: intake (webhook) creates and assigns the customer → qualify (customer.created) makes them an
 * opportunity → score-on-stage (lifecycle.changed) adds 60 points → close-on-score (score.threshold) would be the
 * third chained event: over the limit of 2. reassign (lead.assigned) assigns again, which would start itself again.
 */
const CONFIG = `${FORM_CONNECTOR}agents:
  - { id: ann, name: Ann }
  - { id: ben, name: Ben }
pools:
  sales: { agents: [ann, ben] }
workflows:
  - id: intake
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: assign_lead
        pool: sales
  - id: qualify
    trigger: { type: event, on: customer.created, when: "source = 'form' and $customer.id = customer_id" }
    steps:
      - type: set_lifecycle
        stage: opportunity
  - id: score-on-stage
    trigger: { type: event, on: lifecycle.changed, when: "to = 'opportunity'" }
    steps:
      - type: score
        rules: [{ when: "$customer.lifecycle_stage = 'opportunity'", add: 60 }]
        thresholds: [50, 100]
  - id: close-on-score
    trigger: { type: event, on: score.threshold }
    steps:
      - type: set_lifecycle
        stage: customer
  - id: reassign
    trigger: { type: event, on: lead.assigned }
    steps:
      - type: assign_lead
        pool: sales
        sticky: false
  - id: never
    trigger: { type: event, on: customer.created, when: "source = 'shopify'" }
    steps:
      - type: log
        message: never runs for form leads
`;

describe('event triggers: chained workflows', () => {
  const crm = useCrmflow(CONFIG, { CRMFLOW_EVENT_CHAIN_LIMIT: '2' });

  const submit = (lead: Record<string, unknown>) => submitLead(crm.app, lead);
  const runs = async (workflow: string) =>
    (
      await crm.db.pool.query<{ id: number; status: string; error: string | null; trigger_key: string }>(
        'SELECT id, status, error, trigger_key FROM workflow_runs WHERE workflow = $1 ORDER BY id',
        [workflow],
      )
    ).rows;
  const settled = (workflow: string, n: number) =>
    waitFor(
      `${n} finished ${workflow} runs`,
      async () =>
        (await count(
          crm.db.pool,
          "SELECT 1 FROM workflow_runs WHERE workflow = $1 AND status IN ('succeeded', 'failed')",
          [workflow],
        )) === n,
    );

  it('runs each chained workflow once per event and stops runaway chains and loops with a visible failed run', async () => {
    expect((await submit({ submission_id: 'chain-1', name: 'Chloe Chain', email: 'chloe@chain.example' })).status).toBe(
      202,
    );
    for (const workflow of ['intake', 'qualify', 'score-on-stage', 'close-on-score']) await settled(workflow, 1);
    await settled('reassign', 2);

    const customer = (await crm.db.pool.query('SELECT id, lifecycle_stage, score, owner_agent_id FROM customers')).rows;
    expect(customer).toHaveLength(1);
    const [qualify] = await runs('qualify');
    expect(customer[0]).toMatchObject({ lifecycle_stage: 'opportunity', score: 60 });
    expect(qualify).toMatchObject({ status: 'succeeded', trigger_key: expect.stringMatching(/^engine:\d+$/) });
    expect((await crm.db.pool.query('SELECT from_stage, to_stage, source FROM lifecycle_history')).rows).toEqual([
      { from_stage: 'lead', to_stage: 'opportunity', source: `run:${qualify!.id}` },
    ]);
    expect((await runs('score-on-stage'))[0]!.status).toBe('succeeded');

    // The third chained event (score.threshold at depth 2) is over the limit of 2: recorded, not run.
    const [closed] = await runs('close-on-score');
    expect(closed).toMatchObject({
      status: 'failed',
      error: 'event chain limit: 3 chained events (limit 2): intake → qualify → score-on-stage → close-on-score',
    });
    expect(await count(crm.db.pool, 'SELECT 1 FROM run_steps WHERE run_id = $1', [closed!.id])).toBe(0);

    // reassign ran for intake's assignment; its own assignment would start it again: stopped at once.
    const reassigned = await runs('reassign');
    expect(reassigned.map((run) => run.status)).toEqual(['succeeded', 'failed']);
    expect(reassigned[1]!.error).toBe(
      'event chain limit: workflow reassign is already in this chain (intake → reassign → reassign)',
    );
    expect(await count(crm.db.pool, 'SELECT 1 FROM lead_assignments')).toBe(2);

    // One event per change, each processed; one threshold (50) crossed.
    const events = (
      await crm.db.pool.query<{ type: string; depth: number; chain: string[]; status: string }>(
        'SELECT type, depth, chain, status FROM engine_events ORDER BY id',
      )
    ).rows;
    expect(events.map(({ type, depth, chain }) => ({ type, depth, chain }))).toEqual(
      expect.arrayContaining([
        { type: 'customer.created', depth: 0, chain: ['intake'] },
        { type: 'lead.assigned', depth: 0, chain: ['intake'] },
        { type: 'lifecycle.changed', depth: 1, chain: ['intake', 'qualify'] },
        { type: 'score.threshold', depth: 2, chain: ['intake', 'qualify', 'score-on-stage'] },
        { type: 'lead.assigned', depth: 1, chain: ['intake', 'reassign'] },
      ]),
    );
    expect(events).toHaveLength(5);
    await waitFor(
      'every event processed',
      async () => (await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE status <> 'processed'")) === 0,
    );
    expect(await count(crm.db.pool, "SELECT 1 FROM workflow_runs WHERE workflow = 'never'")).toBe(0);
  });

  it('a duplicate delivery of an event job, even after the event was settled, starts nothing twice', async () => {
    const created = (
      await crm.db.pool.query<{ id: number }>("SELECT id FROM engine_events WHERE type = 'customer.created'")
    ).rows[0]!.id;
    const threshold = (
      await crm.db.pool.query<{ id: number }>("SELECT id FROM engine_events WHERE type = 'score.threshold'")
    ).rows[0]!.id;
    // As if the worker died after running the workflows but before marking the events processed, and BullMQ ran
    // their jobs again (under other ids, so the job-id de-duplication does not hide anything).
    await crm.db.pool.query("UPDATE engine_events SET status = 'pending' WHERE id = ANY($1)", [[created, threshold]]);
    for (const [n, eventId] of [created, created, threshold].entries())
      await crm.app.queue.add('engine-event', { kind: 'engine-event', eventId }, { jobId: `duplicate-${n}` });
    await waitFor('the duplicate jobs', async () =>
      (await Promise.all([0, 1, 2].map((n) => crm.app.queue.getJobState(`duplicate-${n}`)))).every(
        (state) => state === 'completed',
      ),
    );

    expect(await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE status = 'processed'")).toBe(5);
    for (const workflow of ['qualify', 'close-on-score']) expect(await runs(workflow)).toHaveLength(1);
    expect((await runs('close-on-score'))[0]!.status).toBe('failed');
    expect(await count(crm.db.pool, 'SELECT 1 FROM lifecycle_history')).toBe(1);
    expect((await crm.db.pool.query('SELECT score FROM customers')).rows[0].score).toBe(60);
  });

  it('an event stored but never queued (Redis lost it) is queued by the reconciler and runs once', async () => {
    const customerId = (await crm.db.pool.query<{ id: number }>('SELECT id FROM customers')).rows[0]!.id;
    // Written as the outbox would be, with no job: what Redis forgets after a crash.
    const { rows } = await crm.db.pool.query<{ id: number }>(
      `INSERT INTO engine_events (type, customer_id, data, created_at) VALUES ('customer.created', $1, $2, now() - interval '1 minute') RETURNING id`,
      [customerId, JSON.stringify({ customer_id: customerId, source: 'form' })],
    );
    const eventId = rows[0]!.id;
    expect(await crm.app.queue.getJobState(`engine-event-${eventId}`)).toBe('unknown');
    await crm.app.reconcile();
    await waitFor(
      'the reconciled event',
      async () =>
        (await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE id = $1 AND status = 'processed'", [eventId])) ===
        1,
    );
    const qualify = await runs('qualify');
    expect(qualify).toHaveLength(2);
    expect(qualify[1]).toMatchObject({ status: 'succeeded', trigger_key: `engine:${eventId}` });
    // Already an opportunity: a real no-op, so no history row and no lifecycle.changed.
    expect(await count(crm.db.pool, 'SELECT 1 FROM lifecycle_history')).toBe(1);
    const step = (await crm.db.pool.query('SELECT output FROM run_steps WHERE run_id = $1', [qualify[1]!.id])).rows[0];
    expect(step.output).toMatchObject({ changed: false, from: 'opportunity', to: 'opportunity' });
    expect(await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE type = 'lifecycle.changed'")).toBe(1);
  });

  it('rejects an unknown engine event type at load with its position', async () => {
    const { loadConfigText } = await import('../src/workflows/load.js');
    const text =
      'workflows:\n  - id: x\n    trigger: { type: event, on: customer.exploded }\n    steps: [{ type: log, message: hi }]\n';
    expect(() => loadConfigText(text, 'workflows.yaml', { env: {} })).toThrow(
      /workflows\.yaml:3:33 .*customer\.created/,
    );
  });
});
