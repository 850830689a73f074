-- Suspended runs: a step asked to continue later (wait, reply outside business hours). The run is `waiting` until
-- resume_at; the step that suspended it (suspended_step, since suspended_at) then runs again, knowing it was resumed.
ALTER TABLE workflow_runs DROP CONSTRAINT workflow_runs_status_check;
ALTER TABLE workflow_runs ADD CONSTRAINT workflow_runs_status_check CHECK (status IN ('queued', 'running', 'waiting', 'succeeded', 'filtered', 'failed'));
ALTER TABLE workflow_runs ADD COLUMN resume_at timestamptz, ADD COLUMN suspended_step int, ADD COLUMN suspended_at timestamptz;
CREATE INDEX workflow_runs_waiting_idx ON workflow_runs (resume_at) WHERE status = 'waiting';

ALTER TABLE run_steps DROP CONSTRAINT run_steps_status_check;
ALTER TABLE run_steps ADD CONSTRAINT run_steps_status_check CHECK (status IN ('succeeded', 'failed', 'waiting'));

-- Why an assignment was made when it was not the first choice (e.g. an SLA reassignment), and what it replaced.
ALTER TABLE lead_assignments ADD COLUMN reason text, ADD COLUMN replaces bigint REFERENCES lead_assignments(id);

-- One SLA per assignment: checked once at due_at (a delayed job keyed by the assignment; the reconciler re-adds it).
CREATE TABLE lead_slas (
  assignment_id bigint PRIMARY KEY REFERENCES lead_assignments(id),
  due_at        timestamptz NOT NULL,
  -- what to do when the owner has not contacted the lead (SlaAction in src/store/slas.ts)
  action        jsonb NOT NULL,
  -- the run that made the assignment: its own messages (the auto-reply) are not the owner's contact
  run_id        bigint REFERENCES workflow_runs(id),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'met', 'reassigned', 'escalated', 'no_agent', 'superseded')),
  outcome       jsonb,
  checked_at    timestamptz
);
CREATE INDEX lead_slas_pending_idx ON lead_slas (due_at) WHERE status = 'pending';
