import nock from 'nock';
import { describe, expect, it } from 'vitest';
import { runRow } from '../src/dashboard/views/runs.js';
import { getRun } from '../src/store/runs.js';
import { loadConfigText } from '../src/workflows/load.js';
import { editorSchema } from '../src/workflows/schema.js';
import { steps as stepRegistry } from '../src/engine/steps/registry.js';
import { FORM_CONNECTOR, submitLead, useCrmflow } from './helpers/engine.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const TWILIO = 'https://twilio.test';
const steps = (onError: string) => `
      - { type: map }
      - { type: upsert_customer }
      - type: reply
        id: sms_to_caller
        channel: sms
        body: "Sorry we missed you."${onError}
      - { type: create_task, id: call_back, title: "Call back {{ $customer.phone }}", due_in: 2h }`;

const CONFIG = `${FORM_CONNECTOR}
  twilio:
    secrets: { account_sid: ACtest, auth_token: "\${TWILIO_AUTH_TOKEN}", from_number: "+15005550006" }
workflows:
  - id: sms-then-task
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'continue'" }
    steps:${steps('\n        on_error: continue')}
  - id: sms-stops-task
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "form = 'stop'" }
    steps:${steps('')}
`;

useNock({ checkPending: false });

describe('on_error', () => {
  const context = useCrmflow(CONFIG, {
    TWILIO_API_URL: TWILIO,
    CRMFLOW_JOB_ATTEMPTS: '3',
    CRMFLOW_JOB_BACKOFF_MS: '100',
  });

  const finishedRun = (workflow: string) =>
    waitFor(
      `the ${workflow} run to finish`,
      async () => {
        const { rows } = await context.db.pool.query(
          "SELECT id, status, error FROM workflow_runs WHERE workflow = $1 AND status IN ('succeeded', 'failed')",
          [workflow],
        );
        return rows[0];
      },
      30_000,
    );
  const stepStatuses = async (runId: number) =>
    (
      await context.db.pool.query('SELECT step_id, status FROM run_steps WHERE run_id = $1 ORDER BY step_index', [
        runId,
      ])
    ).rows.map((row) => `${row.step_id}:${row.status}`);

  it('continue: a failed SMS is recorded on the run, and the call-back task is still created', async () => {
    // Twilio down: a 503 would be retried with the job under `stop`; `continue` goes on at once.
    nock(TWILIO)
      .post('/2010-04-01/Accounts/ACtest/Messages.json')
      .reply(503, { code: 20500, message: 'Service unavailable' })
      .persist();
    await submitLead(context.app, {
      submission_id: 'oe-1',
      form: 'continue',
      name: 'Cora Continue',
      phone: '+1 415 555 0101',
    });
    const run = await finishedRun('sms-then-task');
    expect(run.status).toBe('succeeded');
    expect(run.error).toMatch(/^1 failed step, the run went on \(on_error: continue\): step sms_to_caller \(reply\): /);
    expect(await stepStatuses(run.id)).toEqual([
      'map:succeeded',
      'upsert_customer:succeeded',
      'sms_to_caller:failed',
      'call_back:succeeded',
    ]);
    const { rows: tasks } = await context.db.pool.query('SELECT title FROM tasks WHERE run_id = $1', [run.id]);
    expect(tasks).toEqual([{ title: 'Call back +14155550101' }]);
    // The runs list does not show it as a plain success.
    expect(String(runRow((await getRun(context.db.pool, run.id))!))).toContain('succeeded, steps failed');
    nock.cleanAll();
  });

  it('stop (the default for reply): the run fails at the SMS and the task is not created', async () => {
    nock(TWILIO)
      .post('/2010-04-01/Accounts/ACtest/Messages.json')
      .reply(400, { code: 21211, message: "The 'To' number is not a valid phone number." });
    await submitLead(context.app, {
      submission_id: 'oe-2',
      form: 'stop',
      name: 'Stella Stop',
      phone: '+1 415 555 0102',
    });
    const run = await finishedRun('sms-stops-task');
    expect(run.status).toBe('failed');
    expect(await stepStatuses(run.id)).toEqual(['map:succeeded', 'upsert_customer:succeeded', 'sms_to_caller:failed']);
    expect((await context.db.pool.query('SELECT 1 FROM tasks WHERE run_id = $1', [run.id])).rowCount).toBe(0);
  });

  it('every step type declares its default, shown in the editor schema; other values are config errors', () => {
    for (const definition of stepRegistry.values()) expect(['stop', 'continue']).toContain(definition.onError);
    expect(stepRegistry.get('log')!.onError).toBe('continue');
    expect(stepRegistry.get('reply')!.onError).toBe('stop');
    expect(JSON.stringify(editorSchema())).toContain('Default for reply: stop.');
    const text = `${FORM_CONNECTOR}workflows:\n  - id: w\n    trigger: { type: webhook, connector: form, event: lead.submitted }\n    steps:\n      - { type: map, on_error: maybe }\n`;
    expect(() => loadConfigText(text, 'workflows.yaml', { env: { FORM_WEBHOOK_SECRET: 'x' } })).toThrow(
      'workflows.yaml:10:32 must be equal to one of the allowed values: stop, continue',
    );
  });
});
