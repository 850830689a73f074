import { describe, expect, it } from 'vitest';
import { addScore, setLifecycleStage } from '../src/store/lifecycle-score.js';
import { upsertCustomer } from '../src/store/customers.js';
import { upsertTimelineEntry } from '../src/store/timeline.js';
import { api } from './helpers/crmflow.js';
import { count } from './helpers/db.js';
import { FORM_CONNECTOR, submitLead, useCrmflow } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `${FORM_CONNECTOR}workflows:
  - id: intake
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: score
        rules:
          - { when: "$exists($customer.phone)", add: 30 }
          - { when: "$exists($customer.attributes.company)", add: 25 }
          - { when: "source = 'spam-list'", add: -40 }
        thresholds: [50, 100]
      - type: set_lifecycle
        if: "$steps.score.score >= 50"
        stage: opportunity
  - id: on-threshold
    trigger: { type: event, on: score.threshold }
    steps:
      - type: log
        message: "{{ $customer.name }} reached {{ threshold }}"
`;

describe('score and set_lifecycle steps', () => {
  const crm = useCrmflow(CONFIG);

  const submit = (lead: Record<string, unknown>) => submitLead(crm.app, lead);
  const intakeRun = async (submission: string) =>
    (
      await crm.db.pool.query<{ id: number; status: string; customer_id: number }>(
        "SELECT id, status, customer_id FROM workflow_runs WHERE workflow = 'intake' AND trigger->>'external_id' LIKE $1",
        [`%${submission}%`],
      )
    ).rows[0];

  it('adds the points of the matching rules, crosses a threshold once, and records lifecycle history with the run as source', async () => {
    expect(
      (await submit({ submission_id: 'hot-1', name: 'Hana Hot', phone: '+1 212 555 0177', company: 'Hot Co' })).status,
    ).toBe(202);
    await waitFor('the intake run', async () => (await intakeRun('hot-1'))?.status === 'succeeded');
    const run = (await intakeRun('hot-1'))!;
    const customer = await api(crm.app, `/api/customers/${run.customer_id}`);
    expect(customer.body).toMatchObject({ score: 55, lifecycle_stage: 'opportunity' });
    expect(customer.body.score_history).toEqual([
      expect.objectContaining({ delta: 55, score: 55, source: `run:${run.id}` }),
    ]);
    expect(customer.body.lifecycle_history).toEqual([
      expect.objectContaining({ from_stage: 'lead', to_stage: 'opportunity', source: `run:${run.id}` }),
    ]);

    await waitFor(
      'score.threshold → on-threshold',
      async () =>
        (await count(
          crm.db.pool,
          "SELECT 1 FROM workflow_runs WHERE workflow = 'on-threshold' AND status = 'succeeded'",
        )) === 1,
    );
    const { rows } = await crm.db.pool.query("SELECT data FROM engine_events WHERE type = 'score.threshold'");
    expect(rows.map((row) => row.data)).toEqual([
      { customer_id: run.customer_id, threshold: 50, score: 55, previous: 0 },
    ]);
    const logged = (
      await crm.db.pool.query(
        "SELECT s.output FROM run_steps s JOIN workflow_runs r ON r.id = s.run_id WHERE r.workflow = 'on-threshold'",
      )
    ).rows[0];
    expect(logged.output).toEqual({ message: 'Hana Hot reached 50' });

    // No workflow here starts on customer.created or lifecycle.changed: the worker writes no such events.
    expect(
      await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE type IN ('customer.created', 'lifecycle.changed')"),
    ).toBe(0);
  });

  it('a retried run adds no points twice, crosses no threshold twice, and records the stage once', async () => {
    const run = (await intakeRun('hot-1'))!;
    // As if the worker died after both changes committed but before either step was recorded.
    await crm.db.pool.query("DELETE FROM run_steps WHERE run_id = $1 AND step_id IN ('score', 'set_lifecycle')", [
      run.id,
    ]);
    await crm.db.pool.query("UPDATE workflow_runs SET status = 'failed', error = 'worker died' WHERE id = $1", [
      run.id,
    ]);
    expect((await api(crm.app, `/api/runs/${run.id}/retry`, { method: 'POST' })).status).toBe(202);
    await waitFor('the retried run', async () => (await intakeRun('hot-1'))?.status === 'succeeded');

    const score = (
      await crm.db.pool.query("SELECT output FROM run_steps WHERE run_id = $1 AND step_id = 'score'", [run.id])
    ).rows[0];
    expect(score.output).toMatchObject({ delta: 55, score: 55, previous: 0, applied: false, crossed: [] });
    const customer = (await api(crm.app, `/api/customers/${run.customer_id}`)).body;
    expect(customer.score).toBe(55);
    expect(customer.score_history).toHaveLength(1);
    expect(customer.lifecycle_history).toHaveLength(1);
    expect(await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE type = 'score.threshold'")).toBe(1);
  });

  it('negative rules subtract; a threshold is crossed only upward', async () => {
    expect(
      (await submit({ submission_id: 'cold-1', name: 'Colin Cold', phone: '+1 212 555 0178', source: 'spam-list' }))
        .status,
    ).toBe(202);
    await waitFor('the intake run', async () => (await intakeRun('cold-1'))?.status === 'succeeded');
    const run = (await intakeRun('cold-1'))!;
    const customer = (await api(crm.app, `/api/customers/${run.customer_id}`)).body;
    expect(customer).toMatchObject({ score: -10, lifecycle_stage: 'lead', lifecycle_history: [] });
    const set = (
      await crm.db.pool.query("SELECT output FROM run_steps WHERE run_id = $1 AND step_id = 'set_lifecycle'", [run.id])
    ).rows[0];
    expect(set.output).toEqual({ skipped: 'condition is false' });

    // Up past 100 and back down below 50, then up through 50 again: only the upward crossings fire.
    const change = (key: string, delta: number) =>
      addScore(crm.db.pool, {
        customerId: run.customer_id,
        runId: run.id,
        idempotencyKey: key,
        delta,
        thresholds: [50, 100],
      });
    expect((await change('t:1', 120)).crossed).toEqual([50, 100]);
    expect((await change('t:2', -100)).crossed).toEqual([]);
    expect((await change('t:3', 60)).crossed).toEqual([50]);
    expect((await change('t:3', 60)).applied).toBe(false);
    expect(
      (await crm.db.pool.query('SELECT score FROM customers WHERE id = $1', [run.customer_id])).rows[0].score,
    ).toBe(70);
  });

  it('set_lifecycle changes only on a real change, may go back (churned), and a merge keeps the scores of both', async () => {
    const a = await upsertCustomer(crm.db.pool, {
      identities: [{ kind: 'email', value: 'a@life.example' }],
      profile: {},
      occurredAt: new Date(),
      source: 'test',
      eventRef: 'test',
    });
    const b = await upsertCustomer(crm.db.pool, {
      identities: [{ kind: 'phone', value: '+12125550199' }],
      profile: {},
      occurredAt: new Date(),
      source: 'test',
      eventRef: 'test',
    });
    const run = (await intakeRun('hot-1'))!.id;
    expect(
      await setLifecycleStage(crm.db.pool, {
        customerId: a.customerId,
        stage: 'lead',
        idempotencyKey: 'l:1',
        runId: run,
      }),
    ).toMatchObject({ changed: false, events: [] });
    expect(
      await setLifecycleStage(crm.db.pool, {
        customerId: a.customerId,
        stage: 'churned',
        idempotencyKey: 'l:2',
        runId: run,
      }),
    ).toMatchObject({ changed: true, from: 'lead', to: 'churned' });
    expect(
      await setLifecycleStage(crm.db.pool, {
        customerId: a.customerId,
        stage: 'customer',
        idempotencyKey: 'l:3',
        runId: run,
      }),
    ).toMatchObject({ changed: true, from: 'churned', to: 'customer' });
    expect(
      await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE type = 'lifecycle.changed' AND customer_id = $1", [
        a.customerId,
      ]),
    ).toBe(2);

    await addScore(crm.db.pool, {
      customerId: a.customerId,
      runId: run,
      idempotencyKey: 'm:a',
      delta: 10,
      thresholds: [],
    });
    await addScore(crm.db.pool, {
      customerId: b.customerId,
      runId: run,
      idempotencyKey: 'm:b',
      delta: 7,
      thresholds: [],
    });
    const merged = await upsertCustomer(crm.db.pool, {
      identities: [
        { kind: 'email', value: 'a@life.example' },
        { kind: 'phone', value: '+12125550199' },
      ],
      profile: {},
      occurredAt: new Date(),
      source: 'test',
      eventRef: 'test',
    });
    expect(merged.mergedIds).toEqual([b.customerId]);
    const kept = (await api(crm.app, `/api/customers/${a.customerId}`)).body;
    expect(kept.score).toBe(17);
    expect(kept.score_history).toHaveLength(2);
    expect(
      await count(
        crm.db.pool,
        "SELECT 1 FROM engine_events WHERE type = 'customer.merged' AND data->'merged_ids' = $1::jsonb",
        [JSON.stringify([b.customerId])],
      ),
    ).toBe(1);
  });

  it('a new inbound message on the timeline emits message.received once', async () => {
    const customerId = (await intakeRun('hot-1'))!.customer_id;
    const entry = {
      customerId,
      source: 'twilio',
      externalId: 'sms/SM1',
      type: 'message.received',
      occurredAt: new Date(),
      summary: 'hello',
    };
    expect((await upsertTimelineEntry(crm.db.pool, entry)).event).toEqual(expect.any(Number));
    expect((await upsertTimelineEntry(crm.db.pool, entry)).event).toBeUndefined();
    expect(
      await count(
        crm.db.pool,
        "SELECT 1 FROM engine_events WHERE type = 'message.received' AND data->>'external_id' = 'sms/SM1'",
      ),
    ).toBe(1);
  });
});
