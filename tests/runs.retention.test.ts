import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runsPrune } from '../src/cli/runs-prune.js';
import { runRetentionDays } from '../src/config/env.js';
import { syncRunRetention } from '../src/engine/run-retention.js';
import { pruneRuns } from '../src/operations/runs.js';
import type { Crmflow } from '../src/runtime.js';
import { pruneRunRecords, type PruneTotals } from '../src/store/retention.js';
import {
  api,
  post,
  SECRETS,
  startTestCrmflow,
  TEST_TOKEN,
  testEnv,
  testPrefix,
  writeConfig,
} from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { formHeaders } from './helpers/sign.js';
import { waitFor } from './helpers/wait.js';

const CONFIG = `
connectors:
  form: { secrets: { webhook_secret: "\${FORM_WEBHOOK_SECRET}" } }
workflows:
  - id: record-lead
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: map
      - type: upsert_customer
  - id: also-log
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - type: log
        message: "lead {{ email }}"
  - id: broken-mapping
    trigger: { type: webhook, connector: form, event: lead.submitted, when: "source = 'broken'" }
    steps:
      - type: map
        expr: '{ "email": email, "total": $number(amount) }'
`;

const admin = { name: 'ops', role: 'admin' as const, ip: null, via: 'cli' as const };

describe('run retention: old finished runs lose their step records and payloads, the runs stay', () => {
  let db: TestDatabase;
  let app: Crmflow;
  /** The stored event of each lead, by email. */
  const events: Record<string, number> = {};
  const runOf = async (email: string, workflow: string) =>
    (
      await db.pool.query<{ id: number }>(
        'SELECT id::int FROM workflow_runs WHERE inbox_event_id = $1 AND workflow = $2',
        [events[email], workflow],
      )
    ).rows[0]!.id;
  const stepsOf = (runId: number) => count(db.pool, 'SELECT 1 FROM run_steps WHERE run_id = $1', [runId]);
  const payloadOf = async (email: string) =>
    (
      await db.pool.query<{ payload: unknown; pruned: Date | null }>(
        'SELECT payload, payload_pruned_at AS pruned FROM inbox_events WHERE id = $1',
        [events[email]],
      )
    ).rows[0]!;
  const deliver = async (leads: Array<Record<string, string>>) => {
    for (const lead of leads) {
      const body = JSON.stringify(lead);
      expect((await post(app, '/webhooks/form', body, formHeaders(body, SECRETS.FORM_WEBHOOK_SECRET))).status).toBe(
        202,
      );
    }
    await waitFor('every run to settle', async () => {
      const { rows } = await db.pool.query<{ email: string; id: number }>(
        `SELECT payload->>'email' AS email, id::int FROM inbox_events WHERE status = 'processed'`,
      );
      for (const row of rows) events[row.email] = row.id;
      const unsettled = await count(db.pool, "SELECT 1 FROM workflow_runs WHERE status IN ('queued', 'running')");
      return leads.every((lead) => events[lead.email!] !== undefined) && unsettled === 0;
    });
  };
  /** Moves runs into the past: created (and, unless `keepFinished`, finished) `days` earlier. */
  const age = (runIds: number[], days: number, keepFinished = false) =>
    db.pool.query(
      `UPDATE workflow_runs SET created_at = created_at - make_interval(days => $2),
         finished_at = CASE WHEN $3 THEN finished_at ELSE finished_at - make_interval(days => $2) END
       WHERE id = ANY($1::bigint[])`,
      [runIds, days, keepFinished],
    );

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startTestCrmflow(
      testEnv({ databaseUrl: db.url, configPath: writeConfig(CONFIG), prefix: testPrefix() }),
    );
    // Delivered first, so that their runs come first in id order as they would have 100 days ago.
    await deliver([
      { email: 'waits@example.com', name: 'Waits', source: 'web' },
      { email: 'recent@example.com', name: 'Recent', source: 'web' },
      { email: 'gone@example.com', name: 'Gone', source: 'broken', amount: 'lots' },
    ]);
    await deliver([{ email: 'new@example.com', name: 'New', source: 'web' }]);
    const old = (
      await db.pool.query<{ id: number }>('SELECT id::int FROM workflow_runs WHERE inbox_event_id <> $1', [
        events['new@example.com'],
      ])
    ).rows.map((row) => row.id);
    await age(old, 100);
    // created 100 days ago: one still waiting, one finished yesterday
    await db.pool.query(
      `UPDATE workflow_runs SET status = 'waiting', finished_at = NULL, resume_at = now() + interval '1 day' WHERE id = $1`,
      [await runOf('waits@example.com', 'also-log')],
    );
    await db.pool.query(`UPDATE workflow_runs SET finished_at = now() - interval '1 day' WHERE id = $1`, [
      await runOf('recent@example.com', 'also-log'),
    ]);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('schedules the daily pass once, with the configured days, and the off switch removes it', async () => {
    expect(runRetentionDays({})).toBe(90);
    expect(runRetentionDays({ CRMFLOW_RUN_RETENTION_DAYS: '30' })).toBe(30);
    expect(runRetentionDays({ CRMFLOW_RUN_RETENTION_DAYS: '0' })).toBeUndefined();
    expect(runRetentionDays({ CRMFLOW_RUN_RETENTION_DAYS: 'off' })).toBeUndefined();
    expect(() => runRetentionDays({ CRMFLOW_RUN_RETENTION_DAYS: 'ninety' })).toThrow(/CRMFLOW_RUN_RETENTION_DAYS/);
    const scheduler = await app.queue.getJobScheduler('prune-runs');
    expect(scheduler).toMatchObject({
      pattern: '0 3 * * *',
      template: { data: { kind: 'prune-runs', olderThanDays: 90 } },
    });
    await syncRunRetention(app.queue, undefined);
    expect(await app.queue.getJobScheduler('prune-runs')).toBeFalsy();
    await syncRunRetention(app.queue, 90);
    expect((await app.queue.getJobSchedulers()).filter((one) => one.key === 'prune-runs')).toHaveLength(1);
  });

  it('a dry run counts what would go and changes nothing', async () => {
    const before = await count(db.pool, 'SELECT 1 FROM run_steps');
    const result = await pruneRuns(app.operations, admin, { olderThanDays: 90, dryRun: true });
    // record-lead of waits and recent, and the three runs of gone
    expect(result).toMatchObject({ runs: 5, events: 0 });
    expect(result.steps).toBeGreaterThanOrEqual(5);
    expect(await count(db.pool, 'SELECT 1 FROM run_steps')).toBe(before);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE steps_pruned_at IS NOT NULL')).toBe(0);
    // the same through `crmflow runs prune --dry-run`: the configured days by default, or --older-than
    expect(await runsPrune(app, { dryRun: true, env: {} })).toMatch(
      /^would remove the step records of 5 runs finished before /,
    );
    expect(await runsPrune(app, { olderThan: '200d', dryRun: true, env: {} })).toMatch(/of 0 runs/);
    await expect(runsPrune(app, { dryRun: true, env: { CRMFLOW_RUN_RETENTION_DAYS: 'off' } })).rejects.toThrow(
      /--older-than/,
    );
    await expect(runsPrune(app, { olderThan: 'a while', env: {} })).rejects.toThrow(/number of days/);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE steps_pruned_at IS NOT NULL')).toBe(0);
  });

  it('the daily job prunes runs finished before the boundary; recent, unfinished and all run rows stay', async () => {
    const runs = await count(db.pool, 'SELECT 1 FROM workflow_runs');
    const pruned = [
      await runOf('waits@example.com', 'record-lead'),
      await runOf('recent@example.com', 'record-lead'),
      await runOf('gone@example.com', 'record-lead'),
      await runOf('gone@example.com', 'also-log'),
      await runOf('gone@example.com', 'broken-mapping'),
    ];
    const kept = [
      await runOf('waits@example.com', 'also-log'),
      await runOf('recent@example.com', 'also-log'),
      await runOf('new@example.com', 'record-lead'),
      await runOf('new@example.com', 'also-log'),
    ];
    await app.queue.add('prune-runs', { kind: 'prune-runs', olderThanDays: 90 });
    await waitFor('the retention job', async () => (await payloadOf('gone@example.com')).pruned);

    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs')).toBe(runs);
    for (const id of pruned) {
      expect(await stepsOf(id), `run ${id}`).toBe(0);
      const { rows } = await db.pool.query('SELECT payload, steps_pruned_at FROM workflow_runs WHERE id = $1', [id]);
      expect(rows[0].steps_pruned_at).toBeInstanceOf(Date);
      expect(rows[0].payload).toBeNull();
    }
    for (const id of kept) {
      expect(await stepsOf(id), `run ${id}`).toBeGreaterThan(0);
      expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE id = $1 AND steps_pruned_at IS NULL', [id])).toBe(
        1,
      );
    }
    // an event's payload goes with the last run that needed it: waits' is still waiting, recent's finished yesterday
    expect(await payloadOf('gone@example.com')).toMatchObject({ payload: null, pruned: expect.any(Date) });
    for (const email of ['waits@example.com', 'recent@example.com', 'new@example.com'])
      expect(await payloadOf(email)).toMatchObject({ payload: { email }, pruned: null });
  });

  it('the API says a run was pruned and when; retrying or replaying it answers 409 pruned', async () => {
    const broken = await runOf('gone@example.com', 'broken-mapping');
    const detail = await api(app, `/api/runs/${broken}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      status: 'failed',
      steps: [],
      steps_pruned_at: expect.any(String),
      payload: null,
    });
    expect(detail.body.event).toMatchObject({ payload: null, payload_pruned_at: expect.any(String) });

    const retry = await api(app, `/api/runs/${broken}/retry`, { method: 'POST' });
    expect(retry.status).toBe(409);
    expect(retry.body.error).toMatchObject({
      code: 'pruned',
      message: expect.stringMatching(/removed by retention on \d{4}-\d{2}-\d{2}/),
    });
    const replay = await api(app, `/api/runs/${await runOf('gone@example.com', 'record-lead')}/replay`, {
      method: 'POST',
    });
    expect(replay.status).toBe(409);
    expect(replay.body.error.code).toBe('pruned');
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE id = $1 AND status = $2', [broken, 'failed'])).toBe(
      1,
    );
    expect(await count(db.pool, "SELECT 1 FROM workflow_runs WHERE trigger_key LIKE '%@%'")).toBe(0);
  });

  it('the run page shows when the steps were removed, without a Retry button; a retry from it gets the notice', async () => {
    const broken = await runOf('gone@example.com', 'broken-mapping');
    const login = await fetch(`${app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: TEST_TOKEN, next: '/' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (await fetch(`${app.url}/runs/${broken}`, { headers: { cookie } })).text();
    expect(page).toMatch(/Step records and payload removed by retention on <time datetime="\d{4}-/);
    expect(page).toContain("The event's payload was removed by retention");
    expect(page).not.toContain('Retry run');
    expect(page).not.toContain('Replay event');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const retry = await fetch(`${app.url}/runs/${broken}/retry`, {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ _csrf: csrf }),
      headers: { cookie, origin: app.url!, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(retry.headers.get('location')).toBe(`/runs/${broken}?notice=pruned`);
    const kept = await (
      await fetch(`${app.url}/runs/${await runOf('new@example.com', 'also-log')}`, { headers: { cookie } })
    ).text();
    expect(kept).not.toContain('removed by retention');
    expect(kept).toContain('data-step=');
  });

  it('a manual pass takes the event payload once its last run is pruned, and is audited', async () => {
    await age([await runOf('recent@example.com', 'also-log')], 100);
    const result = await pruneRuns(app.operations, admin, { olderThanDays: 90 });
    expect(result).toMatchObject({ runs: 1, events: 1 });
    expect(await payloadOf('recent@example.com')).toMatchObject({ payload: null, pruned: expect.any(Date) });
    expect(await payloadOf('waits@example.com')).toMatchObject({ pruned: null });
    const { rows } = await db.pool.query("SELECT actor, details FROM audit_log WHERE action = 'runs.prune'");
    expect(rows).toEqual([
      { actor: 'ops', details: expect.objectContaining({ older_than_days: 90, runs: 1, events: 1, via: 'cli' }) },
    ]);
    // nothing left to do: a second pass is a no-op
    expect(await pruneRuns(app.operations, admin, { olderThanDays: 90 })).toMatchObject({
      runs: 0,
      steps: 0,
      events: 0,
    });
    await expect(pruneRuns(app.operations, { ...admin, role: 'support' }, { olderThanDays: 90 })).rejects.toThrow(
      /admin/,
    );
    await expect(pruneRuns(app.operations, admin, { olderThanDays: 0 })).rejects.toThrow(/days/);
  });
});

describe('run retention in batches', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  }, 60_000);

  afterAll(async () => {
    await db?.drop();
  });

  it('walks the runs in small batches across the boundary and prunes exactly the runs finished before it', async () => {
    const now = new Date('2026-12-08T12:00:00Z');
    const boundary = new Date('2026-09-09T12:00:00Z');
    const day = 86_400_000;
    // in id order, as runs are created: old ones (two unfinished), one finished just at the boundary, then recent ones
    const runs: Array<{ status: string; createdDaysAgo: number; finishedDaysAgo: number | null }> = [
      ...Array.from({ length: 7 }, () => ({ status: 'succeeded', createdDaysAgo: 120, finishedDaysAgo: 120 })),
      { status: 'running', createdDaysAgo: 110, finishedDaysAgo: null },
      { status: 'cancelled', createdDaysAgo: 105, finishedDaysAgo: 104 },
      { status: 'waiting', createdDaysAgo: 100, finishedDaysAgo: null },
      { status: 'filtered', createdDaysAgo: 95, finishedDaysAgo: 95 },
      { status: 'failed', createdDaysAgo: 91, finishedDaysAgo: 90 },
      ...Array.from({ length: 4 }, () => ({ status: 'succeeded', createdDaysAgo: 10, finishedDaysAgo: 10 })),
    ];
    const ids: number[] = [];
    for (const run of runs) {
      const at = (days: number | null) => (days === null ? null : new Date(now.getTime() - days * day));
      const { rows } = await db.pool.query<{ id: number }>(
        `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, status, created_at, finished_at, payload)
         VALUES ('w', 'v1', $1, $2, $3, $4, '{"big": true}') RETURNING id::int`,
        [`schedule:${ids.length}`, run.status, at(run.createdDaysAgo), at(run.finishedDaysAgo)],
      );
      ids.push(rows[0]!.id);
      await db.pool.query(
        `INSERT INTO run_steps (run_id, step_index, step_id, type, status, attempt, started_at, duration_ms)
         SELECT $1, i, 's' || i, 'log', 'succeeded', 1, now(), 1 FROM generate_series(0, 1) AS i`,
        [rows[0]!.id],
      );
    }
    const batches: PruneTotals[] = [];
    const totals = await pruneRunRecords(db.pool, {
      finishedBefore: boundary,
      now,
      batchSize: 2,
      onBatch: (sofar) => batches.push(sofar),
    });
    const prunedIds = (
      await db.pool.query<{ id: number }>(
        'SELECT id::int FROM workflow_runs WHERE steps_pruned_at IS NOT NULL ORDER BY id',
      )
    ).rows.map((row) => row.id);
    // the seven old succeeded runs, the cancelled and the filtered one; not the unfinished ones, nor the run that
    // finished 90 days ago (after the boundary), nor the recent ones
    expect(prunedIds).toEqual([...ids.slice(0, 7), ids[8], ids[10]]);
    expect(totals).toEqual({ runs: 9, steps: 18, events: 0 });
    expect(batches.length).toBeGreaterThanOrEqual(5);
    expect(batches.at(-1)).toEqual(totals);
    expect(await count(db.pool, 'SELECT 1 FROM run_steps')).toBe((runs.length - 9) * 2);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs WHERE payload IS NOT NULL')).toBe(runs.length - 9);
    expect(await count(db.pool, 'SELECT 1 FROM workflow_runs')).toBe(runs.length);
  });
});
