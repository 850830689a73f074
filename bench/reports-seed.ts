import type { Pool } from '../src/store/pool.js';

/**
 * KPI report history for `customers` customers over the 12 months before now, ten timeline entries each (so 100,000
 * customers make 1,000,000 entries): a first lead event (form, message or call) from one of four sources, then
 * messages and orders; 40% of them buy (paid Shopify orders, 1–4 of them, some in EUR), and a person answers 70% of
 * the leads. Set-based (the timeline trigger keeps the report roll-ups as it would for live events).
 */
export async function seedReports(pool: Pool, customers: number): Promise<void> {
  // the customers inserted next get ids after the existing ones: c below is offset + i
  const { rows } = await pool.query<{ offset: number }>('SELECT coalesce(max(id), 0)::int AS offset FROM customers');
  const offset = rows[0]!.offset;
  await pool.query(
    `INSERT INTO customers (name, lifecycle_stage, owner_agent_id, attributes, created_at, updated_at)
     SELECT 'Customer ' || i, CASE WHEN i % 5 < 2 THEN 'customer' ELSE 'lead' END, (ARRAY['alice', 'bob', 'carol'])[1 + i % 3],
            jsonb_build_object('lead_source', (ARRAY['google-ads', 'facebook', 'website', 'referral'])[1 + i % 4]), now(), now()
     FROM generate_series(1, $1::int) AS i`,
    [customers],
  );
  // lead_at: spread over the last 365 days; every entry after it, a few days apart
  const lead = `now() - interval '365 days' * (c % 997) / 997.0`;
  await pool.query(
    `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, summary, data, amount, currency)
     SELECT c, CASE WHEN k = 0 THEN (ARRAY['form', 'meta', 'twilio'])[1 + c % 3] WHEN c % 5 < 2 AND k % 3 = 1 THEN 'shopify' ELSE 'meta' END,
            'seed/' || c || '/' || k,
            CASE WHEN k = 0 THEN (ARRAY['lead.submitted', 'message.received', 'call.missed'])[1 + c % 3]
                 WHEN paid THEN 'order.created' ELSE 'message.received' END,
            ${lead} + interval '3 days' * k, ${lead} + interval '3 days' * k, 'seeded',
            CASE WHEN paid THEN jsonb_build_object('total_price', total, 'currency', currency, 'financial_status', 'paid')
                 ELSE jsonb_build_object('channel', 'whatsapp') END,
            CASE WHEN paid THEN total END, CASE WHEN paid THEN currency END
     FROM generate_series($2::int + 1, $2::int + $1::int) AS c, generate_series(0, 9) AS k,
          -- a paid order's amount and currency, as the Shopify order mapping sets them (the purchase definition)
          LATERAL (SELECT c % 5 < 2 AND k % 3 = 1 AND k <= 1 + 3 * (c % 4) AS paid, 20 + (c * k) % 180 AS total,
                          CASE WHEN c % 7 = 0 THEN 'EUR' ELSE 'USD' END AS currency) AS o`,
    [customers, offset],
  );
  await pool.query(
    `INSERT INTO outbound_messages (idempotency_key, customer_id, channel, transport, recipient, body, status, created_at, sent_at, agent_id)
     SELECT 'seed-person-' || c, c, 'email', 'smtp', 'customer' || c || '@example.com', 'Hi', 'sent',
            ${lead} + interval '1 minute' * (5 + c % 300), ${lead} + interval '1 minute' * (5 + c % 300), (ARRAY['alice', 'bob', 'carol'])[1 + c % 3]
     FROM generate_series($2::int + 1, $2::int + $1::int) AS c WHERE c % 10 < 7`,
    [customers, offset],
  );
  await pool.query('ANALYZE');
}
