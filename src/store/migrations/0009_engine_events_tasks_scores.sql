-- Engine events (customer.created, lead.assigned, task.due...): an outbox written in the same transaction as the
-- change that causes it, then queued; workflows with `trigger: { type: event }` run once per event.
CREATE TABLE engine_events (
  id            bigserial PRIMARY KEY,
  type          text NOT NULL,
  customer_id   bigint REFERENCES customers(id),
  data          jsonb NOT NULL DEFAULT '{}',
  -- how many events led to this one, and the workflows that ran on the way (the loop guard reads both)
  depth         int NOT NULL DEFAULT 0,
  chain         text[] NOT NULL DEFAULT '{}',
  source_run_id bigint REFERENCES workflow_runs(id),
  -- set when the same change may be attempted twice (a task's due time, a score threshold): emitted once
  dedupe_key    text UNIQUE,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz
);
CREATE INDEX engine_events_pending_idx ON engine_events (id) WHERE status = 'pending';

-- Follow-up tasks (create_task): one per run and step.
CREATE TABLE tasks (
  id              bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  customer_id     bigint REFERENCES customers(id),
  run_id          bigint REFERENCES workflow_runs(id),
  agent_id        text,
  title           text NOT NULL,
  notes           text,
  status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
  due_at          timestamptz NOT NULL,
  -- task.overdue fires at this time if the task is still open
  overdue_at      timestamptz NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  completed_at    timestamptz,
  completed_by    text
);
CREATE INDEX tasks_open_idx ON tasks (id) WHERE status = 'open';
CREATE INDEX tasks_customer_idx ON tasks (customer_id);
CREATE INDEX tasks_agent_idx ON tasks (agent_id, status);

-- Lead score (score step): the sum of score_history, one row per run and step.
ALTER TABLE customers ADD COLUMN score integer NOT NULL DEFAULT 0;
CREATE TABLE score_history (
  id              bigserial PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id),
  delta           integer NOT NULL,
  score           integer NOT NULL,
  source          text,
  idempotency_key text NOT NULL UNIQUE,
  changed_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX score_history_customer_idx ON score_history (customer_id);

-- set_lifecycle records its change under the step's key: a retried step finds it instead of changing again.
ALTER TABLE lifecycle_history ADD COLUMN idempotency_key text UNIQUE;

-- Audience triggers look for earlier runs of the same workflow for a customer.
CREATE INDEX workflow_runs_audience_idx ON workflow_runs (workflow, ((trigger->>'customer_id'))) WHERE trigger_key LIKE 'audience:%';
