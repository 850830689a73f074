-- KPI reports over a year of 100,000 leads (issue #16): the customer's own keys a report groups by (the lead_source
-- attribute, the owner agent) and whether the customer is live are kept on report_customer_facts too, so a report
-- reads the period's leads and buyers from the roll-up alone instead of joining each of them with customers. The
-- refresh below sets them with the rest of the row; a trigger on customers follows later changes of them.

ALTER TABLE report_customer_facts
  -- the customer's `lead_source` attribute (empty: none); a report falls back to first_source
  ADD COLUMN IF NOT EXISTS lead_source    text,
  ADD COLUMN IF NOT EXISTS owner_agent_id text,
  -- neither merged into another customer nor erased
  ADD COLUMN IF NOT EXISTS live           boolean NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION crmflow_report_refresh(customer bigint) RETURNS void LANGUAGE sql AS $$
  WITH keys AS (SELECT nullif(c.attributes->>'lead_source', '') AS lead_source, c.owner_agent_id,
                      c.merged_into IS NULL AND c.erased_at IS NULL AS live FROM customers c WHERE c.id = customer),
  first AS (SELECT t.source, coalesce(t.data->>'channel', t.source) AS channel FROM timeline_events t
                 WHERE t.customer_id = customer ORDER BY t.occurred_at, t.id LIMIT 1),
  lead AS (SELECT min(t.occurred_at) AS at FROM timeline_events t WHERE t.customer_id = customer AND crmflow_is_lead_event(t.type)),
  bought AS (SELECT min(p.occurred_at) AS first, max(p.occurred_at) AS last, count(*)::int AS n FROM purchases p WHERE p.customer_id = customer),
  assignment AS (SELECT a.pool, s.due_at FROM lead_assignments a LEFT JOIN lead_slas s ON s.assignment_id = a.id
                 WHERE a.customer_id = customer ORDER BY a.assigned_at, a.id LIMIT 1),
  -- each side reads its partial index on (customer, time)
  contact AS (
    SELECT c.at, c.agent_id FROM lead, LATERAL (
      (SELECT m.sent_at AS at, m.agent_id FROM outbound_messages m
       WHERE m.customer_id = customer AND m.agent_id IS NOT NULL AND m.sent_at >= lead.at AND m.status = 'sent'
       ORDER BY m.sent_at LIMIT 1)
      UNION ALL
      (SELECT t.occurred_at, t.data->>'agent_id' FROM timeline_events t
       WHERE t.customer_id = customer AND (t.data->>'agent_id') IS NOT NULL AND t.occurred_at >= lead.at
         AND t.type IN ('message.sent', 'call.completed')
       ORDER BY t.occurred_at LIMIT 1)) c
    ORDER BY c.at LIMIT 1)
  INSERT INTO report_customer_facts AS f (customer_id, lead_at, first_source, first_channel, first_purchase_at,
    first_contact_at, first_contact_agent, first_pool, sla_due_at, purchase_count, last_purchase_at, lead_source,
    owner_agent_id, live)
  SELECT customer, (SELECT at FROM lead), first.source, first.channel, (SELECT bought.first FROM bought),
         (SELECT at FROM contact), (SELECT agent_id FROM contact), (SELECT pool FROM assignment),
         (SELECT due_at FROM assignment), (SELECT n FROM bought), (SELECT last FROM bought),
         keys.lead_source, keys.owner_agent_id, keys.live
  FROM first, keys
  ON CONFLICT (customer_id) DO UPDATE SET lead_at = excluded.lead_at, first_source = excluded.first_source,
    first_channel = excluded.first_channel, first_purchase_at = excluded.first_purchase_at,
    first_contact_at = excluded.first_contact_at, first_contact_agent = excluded.first_contact_agent,
    first_pool = excluded.first_pool, sla_due_at = excluded.sla_due_at, purchase_count = excluded.purchase_count,
    last_purchase_at = excluded.last_purchase_at, lead_source = excluded.lead_source,
    owner_agent_id = excluded.owner_agent_id, live = excluded.live;
  -- a customer without timeline entries (all moved by a merge, or erased) has no facts
  DELETE FROM report_customer_facts WHERE customer_id = customer AND NOT EXISTS (SELECT 1 FROM timeline_events t WHERE t.customer_id = customer);
$$;

CREATE OR REPLACE FUNCTION crmflow_report_follow_customer_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE report_customer_facts SET lead_source = nullif(NEW.attributes->>'lead_source', ''),
    owner_agent_id = NEW.owner_agent_id, live = NEW.merged_into IS NULL AND NEW.erased_at IS NULL
  WHERE customer_id = NEW.id;
  RETURN NULL;
END $$;

-- Only a change of what the roll-up keeps fires it: not the profile updates every event makes.
DROP TRIGGER IF EXISTS customers_reports ON customers;
CREATE TRIGGER customers_reports AFTER UPDATE OF attributes, owner_agent_id, merged_into, erased_at ON customers
  FOR EACH ROW WHEN ((nullif(OLD.attributes->>'lead_source', ''), OLD.owner_agent_id, OLD.merged_into IS NULL AND OLD.erased_at IS NULL)
    IS DISTINCT FROM (nullif(NEW.attributes->>'lead_source', ''), NEW.owner_agent_id, NEW.merged_into IS NULL AND NEW.erased_at IS NULL))
  EXECUTE FUNCTION crmflow_report_follow_customer_keys();

-- Backfill.
UPDATE report_customer_facts f SET lead_source = nullif(c.attributes->>'lead_source', ''), owner_agent_id = c.owner_agent_id,
  live = c.merged_into IS NULL AND c.erased_at IS NULL
FROM customers c WHERE c.id = f.customer_id;
