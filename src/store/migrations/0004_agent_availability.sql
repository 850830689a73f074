-- Agent availability changed at run time (PUT /api/agents/:id/availability); absent rows mean "as declared".
CREATE TABLE agent_availability (
  agent_id   text PRIMARY KEY,
  available  boolean NOT NULL,
  changed_by text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Open leads per owner, for capacity checks and least-loaded assignment.
CREATE INDEX customers_owner_open_idx ON customers (owner_agent_id) WHERE merged_into IS NULL AND lifecycle_stage IN ('lead', 'opportunity');
