-- A person may cancel a run (queued, stuck, waiting or failed) with a reason.
ALTER TABLE workflow_runs DROP CONSTRAINT workflow_runs_status_check;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_status_check
  CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'filtered', 'failed', 'cancelled'));
-- Messages whose delivery is unknown are what support staff look for.
CREATE INDEX outbound_messages_uncertain_idx ON outbound_messages (id DESC) WHERE status = 'uncertain';
