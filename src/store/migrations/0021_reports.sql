-- KPI reports (src/reports/kpis.ts): what counts as a purchase, defined once, and who made a contact by hand.

-- A purchase is money received, at the vendor's time: a paid (or partly paid / partly refunded) Shopify order, a
-- WooCommerce order being processed or completed, a paid QuickBooks or Xero invoice. A refunded or cancelled order
-- stops counting when its newer version replaces the timeline entry. Amounts stay in their own currency.
CREATE VIEW purchases AS
SELECT t.customer_id, t.id AS timeline_id, t.source, t.occurred_at,
       CASE WHEN jsonb_typeof(coalesce(t.data->'total_price', t.data->'total')) = 'number'
            THEN coalesce(t.data->'total_price', t.data->'total')::text::numeric END AS amount,
       t.data->>'currency' AS currency
FROM timeline_events t
WHERE (t.source = 'shopify' AND t.type LIKE 'order.%' AND t.data->>'financial_status' IN ('paid', 'partially_paid', 'partially_refunded'))
   OR (t.source = 'woocommerce' AND t.type LIKE 'order.%' AND t.data->>'status' IN ('processing', 'completed'))
   OR t.type = 'invoice.paid';

-- The agent who sent a message by hand (null: automated). Speed to lead counts only these.
ALTER TABLE outbound_messages ADD COLUMN IF NOT EXISTS agent_id text;
CREATE INDEX IF NOT EXISTS outbound_messages_person_idx ON outbound_messages (customer_id, created_at) WHERE agent_id IS NOT NULL;
-- Auto-reply latency joins messages to the run that sent them.
CREATE INDEX IF NOT EXISTS outbound_messages_run_idx ON outbound_messages (run_id);
