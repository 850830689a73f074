import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cohorts, kpis, reportsOverview } from '../src/operations/reports.js';
import { pruneRuns } from '../src/operations/runs.js';
import type { Crmflow } from '../src/runtime.js';
import { startTestCrmflow, testEnv, testPrefix, writeConfig } from './helpers/crmflow.js';
import { count, createTestDatabase, type TestDatabase } from './helpers/db.js';
import { deliverKpiMonth, KPI_MONTH_CONFIG } from './fixtures/kpi-month.js';

let db: TestDatabase;
let app: Crmflow;

beforeAll(async () => {
  db = await createTestDatabase();
  app = await startTestCrmflow(
    testEnv({ databaseUrl: db.url, configPath: writeConfig(KPI_MONTH_CONFIG), prefix: testPrefix() }),
  );
  await deliverKpiMonth(app, db.pool);
  // Automated replies sent by the lead runs, 4 and 9 minutes after the lead: the one figure read through runs and events.
  await db.pool.query(
    `INSERT INTO outbound_messages (idempotency_key, customer_id, run_id, channel, transport, recipient, body, status, created_at, sent_at)
     SELECT 'auto-' || r.id, r.customer_id, r.id, 'email', 'smtp', 'lead', 'Thanks', 'sent', i.occurred_at + v.after, i.occurred_at + v.after
     FROM workflow_runs r JOIN inbox_events i ON i.id = r.inbox_event_id
     JOIN (VALUES ('ana', interval '4 minutes'), ('cy', interval '9 minutes')) AS v(lead, after) ON i.external_id LIKE '%' || v.lead
     WHERE r.workflow = 'lead'`,
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await db?.drop();
});

/** Every report figure the API, the dashboard and the metrics show, for periods and groupings that cover the fixture. */
async function allFigures(): Promise<unknown[]> {
  const ctx = app.operations;
  const month = { from: '2026-03-01', to: '2026-03-31' };
  const figures: unknown[] = [];
  for (const by of [undefined, 'source', 'agent', 'pool', 'channel'])
    figures.push(await kpis(ctx, { ...month, by }), await kpis(ctx, { from: '2026-01-01', to: '2026-12-31', by }));
  figures.push(await cohorts(ctx, { from: '2026-01-01', to: '2026-04-30' }), await reportsOverview(ctx, month));
  return figures;
}

describe('reports after run retention', () => {
  it('give identical figures once every run has lost its step records and every event its payload', async () => {
    const before = await allFigures();
    expect(before[0]).toMatchObject({ leads: 4, auto_reply_seconds: { median: 390, p90: 510 } });

    // everything finished counts as old: a pass as if it ran two days from now with a one-day retention
    const now = new Date(Date.now() + 2 * 86_400_000);
    const admin = { name: 'ops', role: 'admin' as const, ip: null, via: 'cli' as const };
    const result = await pruneRuns({ ...app.operations, now: () => now }, admin, { olderThanDays: 1 });
    expect(result.runs).toBe(await count(db.pool, 'SELECT 1 FROM workflow_runs'));
    expect(await count(db.pool, 'SELECT 1 FROM run_steps')).toBe(0);
    expect(await count(db.pool, 'SELECT 1 FROM inbox_events WHERE payload IS NOT NULL')).toBe(0);

    expect(await allFigures()).toEqual(before);
  });
});
