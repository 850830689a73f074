-- Dashboard lookups that read whole tables (bench/dashboard-results.md, 100,000 runs). An index costs every insert
-- and status change of its table (runs and events on the hot path), so each one here serves a page whose query
-- plan showed a full read without it, and is partial where that page allows.

-- A backward scan of the primary key serves every `ORDER BY id DESC` this one did: a second copy only cost writes.
DROP INDEX workflow_runs_list_idx;
-- Runs per minute (last hour) and the 24-hour success rate per workflow: read recent runs, not all of them.
CREATE INDEX workflow_runs_created_idx ON workflow_runs (created_at);
-- The last run of each workflow; without it, a workflow that never ran reads every run (see run-stats.ts).
CREATE INDEX workflow_runs_workflow_idx ON workflow_runs (workflow, id DESC);
-- Runs page filtered by connector, newest first; a connector without runs read every run. Scheduled and audience
-- runs have no connector and stay out.
CREATE INDEX workflow_runs_connector_idx ON workflow_runs ((trigger->>'connector'), id DESC)
  WHERE (trigger->>'connector') IS NOT NULL;
-- Connector health: the latest webhook and the deliveries of the last hour, per connector. Pulled events stay out.
CREATE INDEX inbox_events_webhook_idx ON inbox_events (connector, received_at) WHERE origin = 'webhook';
-- Connector health: the latest failed event per connector. Only failed events are in it.
CREATE INDEX inbox_events_failed_idx ON inbox_events (connector, id DESC) WHERE status = 'failed';
-- Runs page "customer" filter: an identity value of any kind (the unique key starts with the kind).
CREATE INDEX customer_identities_value_idx ON customer_identities (value);
-- The same filter: the customers merged into one. Only merged customers are in it.
CREATE INDEX customers_merged_into_idx ON customers (merged_into) WHERE merged_into IS NOT NULL;
