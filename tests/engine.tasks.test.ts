import { describe, expect, it } from 'vitest';
import { scheduleTaskJobs } from '../src/engine/task-jobs.js';
import { createTask } from '../src/store/tasks.js';
import { api } from './helpers/crmflow.js';
import { count } from './helpers/db.js';
import { FORM_CONNECTOR, submitLead, useCrmflow } from './helpers/engine.js';
import { waitFor } from './helpers/wait.js';

/** A lead gets an owner and a call-back task due in 1 s, overdue 1 s later; two workflows listen for those events. */
const CONFIG = `${FORM_CONNECTOR}agents:
  - { id: ann, name: Ann }
  - { id: ben, name: Ben }
pools:
  sales: { agents: [ann] }
workflows:
  - id: intake
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
      - type: assign_lead
        pool: sales
      - type: create_task
        id: call_back
        title: "Call back {{ $customer.name }} at {{ $customer.phone }}"
        due_in: 1s
        overdue_after: 1s
  - id: remind
    trigger: { type: event, on: task.due }
    steps:
      - type: log
        message: "due: {{ title }} for {{ $owner.name }}"
  - id: escalate
    trigger: { type: event, on: task.overdue }
    steps:
      - type: create_task
        title: "Overdue: {{ title }}"
        due_in: 1h
        agent: ben
`;

describe('create_task and task events', () => {
  const crm = useCrmflow(CONFIG);

  const runsOf = async (workflow: string) =>
    (
      await crm.db.pool.query<{ id: number; status: string; payload: Record<string, unknown> }>(
        'SELECT id, status, payload FROM workflow_runs WHERE workflow = $1 ORDER BY id',
        [workflow],
      )
    ).rows;

  it('creates a task for the owner whose due and overdue events start workflows through the real worker', async () => {
    expect(
      (await submitLead(crm.app, { submission_id: 'task-1', name: 'Tom Task', phone: '+1 212 555 0142' })).status,
    ).toBe(202);
    await waitFor('the intake run', async () => (await runsOf('intake'))[0]?.status === 'succeeded');
    const tasks = await api(crm.app, '/api/tasks?agent_id=ann');
    expect(tasks.body.tasks).toHaveLength(1);
    const task = tasks.body.tasks[0];
    expect(task).toMatchObject({
      agent_id: 'ann',
      title: 'Call back Tom Task at +12125550142',
      status: 'open',
      run_id: (await runsOf('intake'))[0]!.id,
    });
    expect(new Date(task.overdue_at).getTime() - new Date(task.due_at).getTime()).toBe(1000);

    await waitFor('task.due → remind', async () => (await runsOf('remind'))[0]?.status === 'succeeded');
    await waitFor('task.overdue → escalate', async () => (await runsOf('escalate'))[0]?.status === 'succeeded');
    const [remind] = await runsOf('remind');
    expect(remind!.payload).toMatchObject({
      task_id: task.id,
      agent_id: 'ann',
      title: 'Call back Tom Task at +12125550142',
    });
    const step = (await crm.db.pool.query('SELECT output FROM run_steps WHERE run_id = $1', [remind!.id])).rows[0];
    expect(step.output).toMatchObject({ message: 'due: Call back Tom Task at +12125550142 for Ann' });
    // The escalation task is the customer's too, for the agent the step names.
    const customer = await api(crm.app, `/api/customers/${task.customer_id}`);
    expect(customer.body.tasks.map((row: { title: string; agent_id: string }) => [row.agent_id, row.title])).toEqual([
      ['ben', 'Overdue: Call back Tom Task at +12125550142'],
      ['ann', 'Call back Tom Task at +12125550142'],
    ]);
    expect(await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE type IN ('task.due', 'task.overdue')")).toBe(2);
  });

  it('a retried create_task step finds its task instead of making another', async () => {
    const [run] = await runsOf('intake');
    // As if the run had died after the task was stored but before the step was recorded.
    await crm.db.pool.query("DELETE FROM run_steps WHERE run_id = $1 AND step_id = 'call_back'", [run!.id]);
    await crm.db.pool.query("UPDATE workflow_runs SET status = 'failed', error = 'worker died' WHERE id = $1", [
      run!.id,
    ]);
    expect((await api(crm.app, `/api/runs/${run!.id}/retry`, { method: 'POST' })).status).toBe(202);
    await waitFor('the retried run', async () => (await runsOf('intake'))[0]?.status === 'succeeded');
    const step = (
      await crm.db.pool.query("SELECT output FROM run_steps WHERE run_id = $1 AND step_id = 'call_back'", [run!.id])
    ).rows[0];
    expect(step.output).toMatchObject({ created: false, agent_id: 'ann' });
    expect(await count(crm.db.pool, 'SELECT 1 FROM tasks WHERE run_id = $1', [run!.id])).toBe(1);
  });

  it('a task completed before its due time fires nothing; completing is audited and only works once', async () => {
    const customerId = (await crm.db.pool.query<{ id: number }>('SELECT id FROM customers')).rows[0]!.id;
    const { task } = await createTask(crm.db.pool, {
      idempotencyKey: 'test:early',
      customerId,
      runId: null,
      agentId: 'ann',
      title: 'Send the quote',
      notes: null,
      dueAt: new Date(Date.now() + 1500),
      overdueAt: new Date(Date.now() + 2000),
    });
    await scheduleTaskJobs(crm.app.queue, { id: task.id, dueAt: task.due_at, overdueAt: task.overdue_at });
    const done = await api(crm.app, `/api/tasks/${task.id}/complete`, { method: 'POST' });
    expect(done.body).toMatchObject({ id: task.id, status: 'done', completed_by: 'api-token' });
    expect((await api(crm.app, `/api/tasks/${task.id}/complete`, { method: 'POST' })).status).toBe(409);
    expect((await api(crm.app, '/api/tasks/424242/complete', { method: 'POST' })).status).toBe(404);
    expect((await api(crm.app, '/api/audit?limit=1')).body.entries[0]).toMatchObject({
      action: 'task.complete',
      target: `task:${task.id}`,
    });
    await waitFor('both task jobs', async () =>
      (
        await Promise.all(['due', 'overdue'].map((phase) => crm.app.queue.getJobState(`task-${task.id}-${phase}`)))
      ).every((state) => state === 'completed'),
    );
    expect(await count(crm.db.pool, "SELECT 1 FROM engine_events WHERE data->>'task_id' = $1", [String(task.id)])).toBe(
      0,
    );
    expect((await api(crm.app, '/api/tasks?status=done')).body.tasks.map((row: { id: number }) => row.id)).toEqual([
      task.id,
    ]);
  });

  it('the reconciler re-creates the due-time jobs Redis lost; each event still fires once', async () => {
    const customerId = (await crm.db.pool.query<{ id: number }>('SELECT id FROM customers')).rows[0]!.id;
    // A task whose delayed jobs are gone (Redis lost its data): due a minute ago, never announced.
    const { task } = await createTask(crm.db.pool, {
      idempotencyKey: 'test:lost',
      customerId,
      runId: null,
      agentId: 'ann',
      title: 'Lost in Redis',
      notes: null,
      dueAt: new Date(Date.now() - 60_000),
      overdueAt: new Date(Date.now() - 30_000),
    });
    await crm.app.reconcile();
    await waitFor('remind for the lost task', async () =>
      (await runsOf('remind')).some((run) => run.payload.task_id === task.id && run.status === 'succeeded'),
    );
    await waitFor('escalate for the lost task', async () =>
      (await runsOf('escalate')).some((run) => run.payload.task_id === task.id && run.status === 'succeeded'),
    );
    // A second reconcile and the jobs again (a process that still had them) change nothing.
    await crm.app.reconcile();
    await scheduleTaskJobs(crm.app.queue, { id: task.id, dueAt: task.due_at, overdueAt: task.overdue_at });
    await crm.app.queue.add('task', { kind: 'task', taskId: task.id, phase: 'due' }, { jobId: 'duplicate-due' });
    await waitFor('the duplicate job', async () => (await crm.app.queue.getJobState('duplicate-due')) === 'completed');
    // Not caused by a run: the chain starts here.
    const events = (
      await crm.db.pool.query(
        "SELECT type, depth, chain FROM engine_events WHERE data->>'task_id' = $1 ORDER BY type",
        [String(task.id)],
      )
    ).rows;
    expect(events).toEqual([
      { type: 'task.due', depth: 0, chain: [] },
      { type: 'task.overdue', depth: 0, chain: [] },
    ]);
    expect((await runsOf('remind')).filter((run) => run.payload.task_id === task.id)).toHaveLength(1);
  });
});
