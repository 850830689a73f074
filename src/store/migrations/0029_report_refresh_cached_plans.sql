-- The report roll-up's refresh (0025) in PL/pgSQL, unchanged in what it computes. PostgreSQL plans a LANGUAGE sql
-- function's statements again at every call (its plans live only as long as the calling statement), and this one runs
-- in the trigger of every timeline entry and assignment: planning its six joined subqueries was 2.5 ms of the 3 ms a
-- timeline insert cost, about a third of PostgreSQL's CPU per event in the bench. PL/pgSQL keeps the plans for the
-- session, so a pooled connection plans them once.

CREATE OR REPLACE FUNCTION crmflow_report_refresh(customer bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
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
END $$;
