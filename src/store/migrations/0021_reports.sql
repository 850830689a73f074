-- KPI reports (src/reports/kpis.ts, src/store/reports.ts): roll-ups kept current in the transaction that writes the
-- timeline, so a report reads a few thousand indexed rows instead of scanning every timeline entry. Timeline rows
-- follow merges (their customer_id is updated), are deleted by erasure and replaced by newer vendor versions: the
-- trigger below sees each of those writes, so the roll-ups stay right whatever the order of arrival.

-- A purchase is money received: a timeline entry with a positive `amount` (migration 0016), which the mappings set on
-- paid Shopify orders (net of refunds and edits), WooCommerce orders being processed or completed (net of refunds) and
-- paid QuickBooks and Xero invoices, at the vendor's time. The same definition as the computed traits (orders_count,
-- lifetime_value). A refunded or cancelled order stops counting when its newer version replaces the timeline entry.
-- Amounts stay in their own currency.

-- A lead event is any first touch that is not itself money: a form, a message, a call, a checkout, a sign-up.
CREATE FUNCTION crmflow_is_lead_event(type text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT type NOT LIKE 'order.%' AND type NOT LIKE 'invoice.%' AND type NOT LIKE 'payment.%' AND type NOT LIKE 'refund.%'
$$;

CREATE TABLE purchases (
  timeline_id bigint PRIMARY KEY REFERENCES timeline_events(id) ON DELETE CASCADE,
  customer_id bigint NOT NULL REFERENCES customers(id),
  occurred_at timestamptz NOT NULL,
  amount      numeric,
  currency    text
);
CREATE INDEX purchases_time_idx ON purchases (occurred_at);
CREATE INDEX purchases_customer_idx ON purchases (customer_id, occurred_at);

-- Per customer: their first lead event and first purchase (vendor times), and where they first came from.
CREATE TABLE report_customer_facts (
  customer_id       bigint PRIMARY KEY REFERENCES customers(id),
  lead_at           timestamptz,
  first_source      text,
  first_channel     text,
  first_purchase_at timestamptz
);
CREATE INDEX report_customer_facts_lead_idx ON report_customer_facts (lead_at) WHERE lead_at IS NOT NULL;

CREATE FUNCTION crmflow_report_refresh(customer bigint) RETURNS void LANGUAGE sql AS $$
  WITH first AS (SELECT t.source, coalesce(t.data->>'channel', t.source) AS channel FROM timeline_events t
                 WHERE t.customer_id = customer ORDER BY t.occurred_at, t.id LIMIT 1)
  INSERT INTO report_customer_facts AS f (customer_id, lead_at, first_source, first_channel, first_purchase_at)
  SELECT customer,
         (SELECT min(t.occurred_at) FROM timeline_events t WHERE t.customer_id = customer AND crmflow_is_lead_event(t.type)),
         first.source, first.channel,
         (SELECT min(p.occurred_at) FROM purchases p WHERE p.customer_id = customer)
  FROM first
  ON CONFLICT (customer_id) DO UPDATE SET lead_at = excluded.lead_at, first_source = excluded.first_source,
    first_channel = excluded.first_channel, first_purchase_at = excluded.first_purchase_at;
  -- a customer without timeline entries (all moved by a merge, or erased) has no facts
  DELETE FROM report_customer_facts WHERE customer_id = customer AND NOT EXISTS (SELECT 1 FROM timeline_events t WHERE t.customer_id = customer);
$$;

CREATE FUNCTION crmflow_timeline_reports() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM purchases WHERE timeline_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.amount > 0 THEN
    INSERT INTO purchases (timeline_id, customer_id, occurred_at, amount, currency)
    VALUES (NEW.id, NEW.customer_id, NEW.occurred_at, NEW.amount, NEW.currency);
  END IF;
  IF TG_OP <> 'DELETE' THEN PERFORM crmflow_report_refresh(NEW.customer_id); END IF;
  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.customer_id <> NEW.customer_id) THEN PERFORM crmflow_report_refresh(OLD.customer_id); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER timeline_reports AFTER INSERT OR DELETE OR UPDATE OF customer_id, type, occurred_at, data, amount, currency ON timeline_events
  FOR EACH ROW EXECUTE FUNCTION crmflow_timeline_reports();

-- outbound_messages.agent_id (null: automated) and its index on (customer_id, sent_at) come from 0019_person_contacts.
-- Auto-reply latency starts from the automated messages of a period (then their run and its delivery, by primary key):
-- no new index on the hot inbox and run tables.
CREATE INDEX outbound_messages_automated_idx ON outbound_messages (created_at) WHERE agent_id IS NULL AND run_id IS NOT NULL;
