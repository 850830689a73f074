-- Retention of run records (src/store/retention.ts): step records and stored payloads of runs finished long ago are
-- removed; the run rows stay, marked with when their records went, so pages, the API and retries can say so.
ALTER TABLE workflow_runs ADD COLUMN steps_pruned_at timestamptz;
-- A pruned event keeps its row (connector, type, vendor id, times: what reports and the run page read), not its payload.
ALTER TABLE inbox_events ADD COLUMN payload_pruned_at timestamptz, ALTER COLUMN payload DROP NOT NULL;

-- An event's payload goes only once none of its runs keeps its records: the runs of an event are found by it (the
-- foreign key had no index, so each such lookup read the whole table).
CREATE INDEX IF NOT EXISTS workflow_runs_inbox_event_idx ON workflow_runs (inbox_event_id) WHERE inbox_event_id IS NOT NULL;
