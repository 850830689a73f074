-- The hot path writes every run twice (created running, then finished) and each write of a row adds an entry to every
-- index whose key or predicate includes a changed column (a status change is never a HOT update while an index
-- mentions status). Issue #21: fewer index entries per run, each remaining lookup still served (see runs.ts,
-- run-stats.ts, audience.ts, the dashboard's runs page).

-- Status filters look for the rare runs (failed, waiting, running, cancelled, filtered); succeeded runs, nearly all of
-- them, are found newest first through the primary key or the workflow index. One partial index replaces the two
-- that took an entry for every run at each of its writes.
CREATE INDEX IF NOT EXISTS workflow_runs_unsettled_idx ON workflow_runs (status, id DESC) WHERE status <> 'succeeded';
DROP INDEX IF EXISTS workflow_runs_status_idx;
DROP INDEX IF EXISTS workflow_runs_workflow_status_idx;

-- Recent runs (per minute, last 24 hours) are a range of created_at, which follows the table's physical order: a
-- block-range index serves it at a fraction of a B-tree's upkeep.
CREATE INDEX IF NOT EXISTS workflow_runs_created_brin ON workflow_runs USING brin (created_at);
DROP INDEX IF EXISTS workflow_runs_created_idx;

-- Rows updated in place (a run when it finishes, an event when it is processed, a customer on every event) keep room
-- on their page: the new version stays beside the old one (a HOT update when no indexed column changed).
ALTER TABLE workflow_runs SET (fillfactor = 80);
ALTER TABLE inbox_events SET (fillfactor = 85);
ALTER TABLE customers SET (fillfactor = 80);
