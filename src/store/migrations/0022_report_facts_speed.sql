-- KPI reports at 100,000 customers (issue #16): what a report looked up per lead (first contact by a person, first
-- pool, SLA) and aggregated over every purchase (churn) is kept on report_customer_facts, recomputed from scratch for a
-- customer in the transaction of every write that can change it: timeline entries (0021), and now the agents'
-- messages, assignments and SLAs. Merges and unmerges move those rows (an UPDATE of customer_id) and erasure deletes
-- the timeline, so the facts follow them as the 0021 roll-ups do.

ALTER TABLE report_customer_facts
  -- the first message or call by a person at or after lead_at: an agent's sent message or a timeline entry with an
  -- agent_id of the person-contact types (PERSON_CONTACT_TYPES in src/store/timeline.ts)
  ADD COLUMN IF NOT EXISTS first_contact_at    timestamptz,
  ADD COLUMN IF NOT EXISTS first_contact_agent text,
  -- the pool of the first assignment, and the due time of its SLA if it had one
  ADD COLUMN IF NOT EXISTS first_pool          text,
  ADD COLUMN IF NOT EXISTS sla_due_at          timestamptz,
  -- every purchase so far: the buying rhythm behind churn
  ADD COLUMN IF NOT EXISTS purchase_count      int NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS last_purchase_at    timestamptz;

CREATE OR REPLACE FUNCTION crmflow_report_refresh(customer bigint) RETURNS void LANGUAGE sql AS $$
  WITH first AS (SELECT t.source, coalesce(t.data->>'channel', t.source) AS channel FROM timeline_events t
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
    first_contact_at, first_contact_agent, first_pool, sla_due_at, purchase_count, last_purchase_at)
  SELECT customer, (SELECT at FROM lead), first.source, first.channel, (SELECT bought.first FROM bought),
         (SELECT at FROM contact), (SELECT agent_id FROM contact), (SELECT pool FROM assignment),
         (SELECT due_at FROM assignment), (SELECT n FROM bought), (SELECT last FROM bought)
  FROM first
  ON CONFLICT (customer_id) DO UPDATE SET lead_at = excluded.lead_at, first_source = excluded.first_source,
    first_channel = excluded.first_channel, first_purchase_at = excluded.first_purchase_at,
    first_contact_at = excluded.first_contact_at, first_contact_agent = excluded.first_contact_agent,
    first_pool = excluded.first_pool, sla_due_at = excluded.sla_due_at, purchase_count = excluded.purchase_count,
    last_purchase_at = excluded.last_purchase_at;
  -- a customer without timeline entries (all moved by a merge, or erased) has no facts
  DELETE FROM report_customer_facts WHERE customer_id = customer AND NOT EXISTS (SELECT 1 FROM timeline_events t WHERE t.customer_id = customer);
$$;

-- Agents' messages and assignments: the customer they are about, before and after (a merge moves them).
CREATE OR REPLACE FUNCTION crmflow_report_follow_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' AND NEW.customer_id IS NOT NULL THEN PERFORM crmflow_report_refresh(NEW.customer_id); END IF;
  IF TG_OP <> 'INSERT' AND OLD.customer_id IS NOT NULL AND (TG_OP = 'DELETE' OR OLD.customer_id IS DISTINCT FROM NEW.customer_id) THEN
    PERFORM crmflow_report_refresh(OLD.customer_id);
  END IF;
  RETURN NULL;
END $$;

-- Automated messages (agent_id null) never count as a person's contact: only a person's message fires the refresh.
DROP TRIGGER IF EXISTS outbound_messages_reports_insert ON outbound_messages;
CREATE TRIGGER outbound_messages_reports_insert AFTER INSERT ON outbound_messages
  FOR EACH ROW WHEN (NEW.agent_id IS NOT NULL) EXECUTE FUNCTION crmflow_report_follow_customer();
DROP TRIGGER IF EXISTS outbound_messages_reports_update ON outbound_messages;
CREATE TRIGGER outbound_messages_reports_update AFTER UPDATE OF customer_id, agent_id, status, sent_at ON outbound_messages
  FOR EACH ROW WHEN ((OLD.agent_id IS NOT NULL OR NEW.agent_id IS NOT NULL)
    AND (OLD.customer_id, OLD.agent_id, OLD.status, OLD.sent_at) IS DISTINCT FROM (NEW.customer_id, NEW.agent_id, NEW.status, NEW.sent_at))
  EXECUTE FUNCTION crmflow_report_follow_customer();
DROP TRIGGER IF EXISTS outbound_messages_reports_delete ON outbound_messages;
CREATE TRIGGER outbound_messages_reports_delete AFTER DELETE ON outbound_messages
  FOR EACH ROW WHEN (OLD.agent_id IS NOT NULL) EXECUTE FUNCTION crmflow_report_follow_customer();

DROP TRIGGER IF EXISTS lead_assignments_reports ON lead_assignments;
CREATE TRIGGER lead_assignments_reports AFTER INSERT OR DELETE OR UPDATE OF customer_id, pool, assigned_at ON lead_assignments
  FOR EACH ROW EXECUTE FUNCTION crmflow_report_follow_customer();

-- An SLA belongs to an assignment: the customer is the assignment's.
CREATE OR REPLACE FUNCTION crmflow_report_follow_sla() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'DELETE' THEN
    PERFORM crmflow_report_refresh(a.customer_id) FROM lead_assignments a WHERE a.id = NEW.assignment_id;
  END IF;
  IF TG_OP <> 'INSERT' AND (TG_OP = 'DELETE' OR OLD.assignment_id <> NEW.assignment_id) THEN
    PERFORM crmflow_report_refresh(a.customer_id) FROM lead_assignments a WHERE a.id = OLD.assignment_id;
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS lead_slas_reports ON lead_slas;
CREATE TRIGGER lead_slas_reports AFTER INSERT OR DELETE OR UPDATE OF assignment_id, due_at ON lead_slas
  FOR EACH ROW EXECUTE FUNCTION crmflow_report_follow_sla();

-- Churn reads the customers past their buying rhythm (two or more purchases) and those in the churned stage.
CREATE INDEX IF NOT EXISTS report_customer_facts_repeat_idx ON report_customer_facts (last_purchase_at) WHERE purchase_count >= 2;
CREATE INDEX IF NOT EXISTS customers_churned_idx ON customers (id) WHERE lifecycle_stage = 'churned';

-- Backfill: every customer with facts, recomputed with the new columns.
SELECT crmflow_report_refresh(customer_id) FROM report_customer_facts;
