import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Crmflow } from '../src/runtime.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { api, post, SECRETS, startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { formHeaders } from './helpers/sign.js';
import { startSmtpServer } from './helpers/smtp.js';
import { useNock } from './helpers/vendor-api.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
agents: [{ id: ann, name: Ann }, { id: ben, name: Ben }]
pools: { sales: { agents: [ann, ben] } }
workflows:
  - id: notify-crm
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "$not(source in ['ignored', 'broken', 'runaway'])" }
    steps:
      - type: map
      - type: upsert_customer
      - type: assign_lead
        pool: sales
      - type: reply
        channel: email
        subject: "Hello {{ $customer.name }}"
        body: "Owner: {{ $owner.name }}"
      - type: filter
        when: "$not($record.attributes.lead_source = 'no-http')"
      - id: push
        type: http
        url: "https://hooks.crm.example/leads/{{ $customer.id }}"
        body: '{ "email": $customer.email, "owner": $owner.id }'
  - id: broken-mapping
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "source = 'broken'" }
    steps:
      - type: map
        expr: '{ "email": email, "total": $number(amount) }'
      - type: upsert_customer
  - id: runaway
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "source = 'runaway'" }
    steps:
      - type: map
        expr: '( $loop := function($n) { $loop($n + 1) }; $loop(0) )'
`;

// Vendor APIs are nock'd; only local servers are reachable.
useNock({ checkPending: false });

describe('workflow runs: records, retries that resume, failures that show', () => {
  let db: TestDatabase;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let app: Crmflow;
  const send = (fields: Record<string, string>) => {
    const body = JSON.stringify(fields);
    return post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET));
  };
  const runsOf = async (workflow: string) =>
    (await api(app, `/api/runs?workflow=${workflow}`)).body.runs as Array<{
      id: number;
      status: string;
      error: string | null;
      attempts: number;
    }>;

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
    nock.enableNetConnect();
  });

  it('retries a failing step automatically and resumes there: earlier steps are not executed again', async () => {
    const calls: unknown[] = [];
    nock('https://hooks.crm.example')
      .post(/\/leads\/\d+/)
      .reply(503, 'busy');
    nock('https://hooks.crm.example')
      .post(/\/leads\/\d+/, (body) => (calls.push(body), true))
      .matchHeader('idempotency-key', /^run:\d+:push$/)
      .reply(200, { ok: true });
    expect((await send({ submission_id: 'auto-1', name: 'Ada Auto', email: 'ada@auto.example' })).status).toBe(202);
    const run = await waitFor('the run to succeed on its second attempt', async () =>
      (await runsOf('notify-crm')).find((r) => r.status === 'succeeded'),
    );
    expect(run.attempts).toBe(2);
    expect(calls).toEqual([{ email: 'ada@auto.example', owner: 'ann' }]);
    const detail = (await api(app, `/api/runs/${run.id}`)).body;
    expect(detail.steps.map((step: { step_id: string; attempt: number }) => `${step.step_id}@${step.attempt}`)).toEqual(
      ['map@1', 'upsert_customer@1', 'assign_lead@1', 'reply@1', 'filter@1', 'push@2'],
    );
    expect(smtp.messages.filter((message) => message.to.includes('ada@auto.example'))).toHaveLength(1);
    expect(await count(db.pool, 'SELECT 1 FROM lead_assignments')).toBe(1);
  });

  it('shows a run failed on a 4xx, and a manual retry resumes it at the failed step', async () => {
    nock('https://hooks.crm.example')
      .post(/\/leads\/\d+/)
      .reply(422, { error: 'unknown field' });
    expect((await send({ submission_id: 'manual-1', name: 'Bo Manual', email: 'bo@manual.example' })).status).toBe(202);
    const failed = await waitFor('the run to fail', async () =>
      (await runsOf('notify-crm')).find((r) => r.status === 'failed'),
    );
    // Errors name the origin only: a path may itself be a credential (a Slack webhook URL).
    expect(failed.error).toMatch(/step push \(http\): POST https:\/\/hooks\.crm\.example answered 422/);
    expect(failed.attempts).toBe(1);

    nock('https://hooks.crm.example')
      .post(/\/leads\/\d+/)
      .reply(201, { ok: true });
    const retry = await api(app, `/api/runs/${failed.id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    await waitFor(
      'the retried run to succeed',
      async () => (await api(app, `/api/runs/${failed.id}`)).body.status === 'succeeded',
    );
    const detail = (await api(app, `/api/runs/${failed.id}`)).body;
    expect(detail.attempts).toBe(2);
    expect(detail.steps.find((step: { step_id: string }) => step.step_id === 'reply').attempt).toBe(1);
    expect(detail.steps.find((step: { step_id: string }) => step.step_id === 'push')).toMatchObject({
      attempt: 2,
      status: 'succeeded',
      output: { status: 201 },
    });
    expect(smtp.messages.filter((message) => message.to.includes('bo@manual.example'))).toHaveLength(1);
    expect((await api(app, `/api/runs/${failed.id}/retry`, { method: 'POST' })).status).toBe(409);
  });

  it('ends a run as filtered when a filter does not match, and starts no run when the trigger condition is false', async () => {
    await send({ submission_id: 'filtered-1', email: 'cy@filter.example', source: 'no-http' });
    await send({ submission_id: 'ignored-1', email: 'di@ignored.example', source: 'ignored' });
    await waitFor('the filtered run', async () => (await runsOf('notify-crm')).some((r) => r.status === 'filtered'));
    const inbox = await db.pool.query(
      "SELECT i.status, count(r.id)::int AS runs FROM inbox_events i LEFT JOIN workflow_runs r ON r.inbox_event_id = i.id WHERE i.external_id = 'ignored-1' GROUP BY i.status",
    );
    await waitFor(
      'the ignored event processed',
      async () =>
        (await db.pool.query("SELECT status FROM inbox_events WHERE external_id = 'ignored-1'")).rows[0]?.status ===
        'processed',
    );
    expect(inbox.rows[0].runs).toBe(0);
  });

  it('fails a broken mapping visibly, with its error, without retrying', async () => {
    await send({ submission_id: 'broken-1', email: 'ed@broken.example', source: 'broken', amount: 'twelve' });
    const failed = await waitFor('the broken-mapping run to fail', async () =>
      (await runsOf('broken-mapping')).find((r) => r.status === 'failed'),
    );
    expect(failed.error).toMatch(/step map \(map\): mapping failed: JSONata D3030/);
    expect(failed.attempts).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await runsOf('broken-mapping'))[0]!.attempts).toBe(1);
  });

  it('stops an expression that never finishes', async () => {
    await send({ submission_id: 'runaway-1', email: 'fa@runaway.example', source: 'runaway' });
    const failed = await waitFor(
      'the runaway run to fail',
      async () => (await runsOf('runaway')).find((r) => r.status === 'failed'),
      30_000,
    );
    expect(failed.error).toMatch(/U1001|stack|timeout/i);
  });
});
