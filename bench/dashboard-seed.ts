import type { Pool } from '../src/store/pool.js';

/**
 * The webhook connectors of the example workflows.yaml that runs are seeded for, with the workflow each triggers;
 * its other connectors (woocommerce, quickbooks, xero) and workflows have no runs.
 */
export const SEED_CONNECTORS = [
  { connector: 'shopify', workflow: 'shopify-order', type: 'order.created' },
  { connector: 'form', workflow: 'web-lead', type: 'lead.submitted' },
  { connector: 'meta', workflow: 'social-message', type: 'message.received' },
  { connector: 'twilio', workflow: 'missed-call', type: 'call.missed' },
] as const;

/** Customer `i`'s identities: every customer has an email and a phone, every other one a Shopify customer id. */
export const seedIdentity = {
  email: (i: number) => `customer${i}@example.com`,
  phone: (i: number) => `+1415${2_000_000 + i}`,
  shopify: (i: number) => `7${String(i).padStart(17, '0')}`,
};

export interface SeedCounts {
  runs: number;
  customers: number;
}

/**
 * Fills a fresh, migrated database with `runs` webhook runs (one inbox event each) of `customers` customers, spread
 * over the last 30 days, in a handful of set-based statements. Ids follow generate_series (the database is fresh),
 * so customer `i` has id `i` and run `i` belongs to inbox event `i`. Status mix: 85% succeeded, 7% filtered, 5%
 * failed, 2% running, 1% queued; one run in ten has step records. No event is left pending: the API process's
 * reconciler would re-enqueue it.
 */
export async function seedDashboard(pool: Pool, { runs, customers }: SeedCounts): Promise<void> {
  const connectors = JSON.stringify(SEED_CONNECTORS);
  await pool.query(
    `INSERT INTO customers (name, first_name, last_name, lifecycle_stage, owner_agent_id, created_at, updated_at)
     SELECT 'Customer ' || i, 'First' || i, 'Last' || i, (ARRAY['lead', 'opportunity', 'customer'])[1 + i % 3],
            (ARRAY['alice', 'bob', 'carol'])[1 + i % 3], now() - interval '60 days', now() - interval '60 days'
     FROM generate_series(1, $1::int) AS i`,
    [customers],
  );
  await pool.query(
    `INSERT INTO customer_identities (customer_id, kind, value, source)
     SELECT i, 'email', 'customer' || i || '@example.com', 'form' FROM generate_series(1, $1::int) AS i
     UNION ALL SELECT i, 'phone', '+1415' || (2000000 + i), 'twilio' FROM generate_series(1, $1::int) AS i
     UNION ALL SELECT i, 'shopify_customer', '7' || lpad(i::text, 17, '0'), 'shopify' FROM generate_series(1, $1::int) AS i WHERE i % 2 = 0`,
    [customers],
  );
  // One row per run with everything derived from i: connector, status bucket, customer, creation time.
  const seriesSql = `SELECT i, $3::jsonb -> (i % jsonb_array_length($3::jsonb)) AS c, abs(hashtext('status' || i)::bigint) % 100 AS bucket,
            1 + abs(hashtext('customer' || i)::bigint) % $2::int AS customer_id, now() - interval '30 days' * ($1::int - i) / $1::int AS at
     FROM generate_series(1, $1::int) AS i`;
  await pool.query(
    `INSERT INTO inbox_events (connector, type, external_id, occurred_at, payload, received_at, status, processed_at, origin)
     SELECT c->>'connector', c->>'type', 'evt-' || i, at, jsonb_build_object('id', 'evt-' || i, 'email', 'customer' || customer_id || '@example.com', 'total', i % 500),
            at, CASE WHEN bucket >= 92 AND bucket < 97 THEN 'failed' ELSE 'processed' END, at, 'webhook'
     FROM (${seriesSql}) AS s`,
    [runs, customers, connectors],
  );
  await pool.query(
    `INSERT INTO workflow_runs (workflow, workflow_version, trigger_key, inbox_event_id, trigger, status, error, error_retryable,
                                attempts, customer_id, created_at, started_at, finished_at)
     SELECT c->>'workflow', 'v1', 'inbox:' || i, i,
            jsonb_build_object('connector', c->>'connector', 'type', c->>'type', 'external_id', 'evt-' || i, 'occurred_at', at),
            status, CASE WHEN status = 'failed' THEN 'vendor API answered 503 Service Unavailable' END, status = 'failed',
            CASE WHEN status = 'queued' THEN 0 ELSE 1 END, CASE WHEN status <> 'queued' THEN customer_id END,
            at, CASE WHEN status <> 'queued' THEN at END, CASE WHEN status IN ('succeeded', 'filtered', 'failed') THEN at + interval '2 seconds' END
     FROM (SELECT *, CASE WHEN bucket < 85 THEN 'succeeded' WHEN bucket < 92 THEN 'filtered' WHEN bucket < 97 THEN 'failed'
                          WHEN bucket < 99 THEN 'running' ELSE 'queued' END AS status FROM (${seriesSql}) AS s) AS r`,
    [runs, customers, connectors],
  );
  await pool.query(
    `INSERT INTO run_steps (run_id, step_index, step_id, type, status, input, output, state, error, attempt, started_at, duration_ms)
     SELECT r.id, s.n - 1, s.type, s.type, CASE WHEN r.status = 'failed' AND s.n = 5 THEN 'failed' ELSE 'succeeded' END,
            jsonb_build_object('email', 'customer' || r.customer_id || '@example.com'), jsonb_build_object('ok', true, 'customer_id', r.customer_id),
            NULL, CASE WHEN r.status = 'failed' AND s.n = 5 THEN r.error END, 1, r.created_at + make_interval(secs => s.n * 0.1), 12.5
     FROM workflow_runs r, unnest(ARRAY['map', 'upsert_customer', 'timeline', 'assign_lead', 'reply']) WITH ORDINALITY AS s(type, n)
     WHERE r.id % 10 = 0 AND r.status IN ('succeeded', 'failed')`,
  );
  await pool.query('ANALYZE');
}
