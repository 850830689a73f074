import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { customerIdsFor } from '../src/store/customer-queries.js';
import { upsertCustomer } from '../src/store/customers.js';
import { connectorHealth, runsPerMinute, workflowStats } from '../src/store/run-stats.js';
import { createTestDatabase, type TestDatabase } from './helpers/db.js';

/** The overview's and the runs filter's lookups, on rows whose times and statuses the test sets (migration 0012 indexes them). */
describe('dashboard statistics', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const addRun = async (workflow: string, status: string, ageMinutes: number): Promise<number> => {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, trigger, status, created_at)
       VALUES ($1, 'v1', 'test:' || gen_random_uuid(), '{"connector": "shopify"}', $2, now() - make_interval(mins => $3)) RETURNING id`,
      [workflow, status, ageMinutes],
    );
    return rows[0]!.id;
  };
  const addEvent = async (
    connector: string,
    event: { status: string; origin: string; ageMinutes: number },
  ): Promise<number> => {
    const { rows } = await db.pool.query<{ id: number }>(
      `INSERT INTO inbox_events (connector, type, external_id, occurred_at, payload, received_at, status, origin)
       VALUES ($1, 'order.created', gen_random_uuid()::text, now(), '{}', now() - make_interval(mins => $4), $2, $3) RETURNING id`,
      [connector, event.status, event.origin, event.ageMinutes],
    );
    return rows[0]!.id;
  };

  it('counts finished runs of the last 24 hours per workflow, in the order asked, with the latest run of all time', async () => {
    await addRun('orders', 'succeeded', 3 * 24 * 60);
    await addRun('orders', 'succeeded', 60);
    await addRun('orders', 'filtered', 50);
    await addRun('orders', 'failed', 40);
    const latest = await addRun('orders', 'running', 30);
    const onlyOld = await addRun('quiet', 'failed', 2 * 24 * 60);

    const stats = await workflowStats(db.pool, ['never-ran', 'orders', 'quiet']);
    expect(stats.map(({ lastRunAt, ...rest }) => ({ ...rest, hasTime: lastRunAt instanceof Date }))).toEqual([
      { workflow: 'never-ran', total: 0, succeeded: 0, failed: 0, lastRunId: null, lastStatus: null, hasTime: false },
      {
        workflow: 'orders',
        total: 3,
        succeeded: 2,
        failed: 1,
        lastRunId: latest,
        lastStatus: 'running',
        hasTime: true,
      },
      { workflow: 'quiet', total: 0, succeeded: 0, failed: 0, lastRunId: onlyOld, lastStatus: 'failed', hasTime: true },
    ]);
  });

  it('counts runs per minute of the last hour only', async () => {
    // The runs of the test above 30, 40 and 50 minutes old; the one of 60 minutes falls out of the 60th minute.
    const minutes = await runsPerMinute(db.pool);
    expect(minutes.map(({ total, failed }) => ({ total, failed }))).toEqual([
      { total: 1, failed: 0 },
      { total: 1, failed: 1 },
      { total: 1, failed: 0 },
    ]);
  });

  it('shows per connector the latest webhook, the webhooks of the last hour and the latest failed event', async () => {
    await addEvent('shopify', { status: 'processed', origin: 'webhook', ageMinutes: 120 });
    await addEvent('shopify', { status: 'failed', origin: 'webhook', ageMinutes: 30 });
    const lastFailed = await addEvent('shopify', { status: 'failed', origin: 'pull:orders', ageMinutes: 20 });
    await addEvent('shopify', { status: 'processed', origin: 'webhook', ageMinutes: 10 });
    // Pulled events are no webhooks, however recent.
    await addEvent('shopify', { status: 'processed', origin: 'pull:orders', ageMinutes: 0 });

    const [shopify, xero] = await connectorHealth(db.pool, ['shopify', 'xero']);
    const { rows } = await db.pool.query<{ at: Date }>(
      `SELECT received_at AS at FROM inbox_events WHERE origin = 'webhook' ORDER BY id DESC LIMIT 1`,
    );
    expect(shopify).toMatchObject({
      connector: 'shopify',
      lastWebhookAt: rows[0]!.at,
      webhooksLastHour: 2,
      lastFailedEvent: { id: lastFailed },
      cursors: [],
    });
    expect(xero).toEqual({
      connector: 'xero',
      lastWebhookAt: null,
      webhooksLastHour: 0,
      lastFailedEvent: null,
      cursors: [],
    });
  });

  it('finds a customer by id or by any identity value, with the customers merged into it', async () => {
    const customer = async (email: string) =>
      (
        await upsertCustomer(db.pool, {
          identities: [{ kind: 'email', value: email }],
          profile: {},
          occurredAt: new Date(),
          source: 'test',
          eventRef: email,
        })
      ).customerId;
    const kept = await customer('kept@example.com');
    const merged = await customer('merged@example.com');
    const other = await customer('other@example.com');
    await db.pool.query('UPDATE customers SET merged_into = $1 WHERE id = $2', [kept, merged]);

    expect(await customerIdsFor(db.pool, { values: ['merged@example.com'] })).toEqual([kept, merged]);
    expect(await customerIdsFor(db.pool, { id: kept, values: [] })).toEqual([kept, merged]);
    expect(await customerIdsFor(db.pool, { id: other, values: ['kept@example.com'] })).toEqual([kept, merged, other]);
    expect(await customerIdsFor(db.pool, { values: ['nobody@example.com'] })).toEqual([]);
  });
});
