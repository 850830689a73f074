-- Service cases (open_case): a complaint or request held to first-response and resolution targets.
CREATE TABLE cases (
  id                     bigserial PRIMARY KEY,
  -- the step that opened it: a retried step finds its case
  idempotency_key        text NOT NULL UNIQUE,
  customer_id            bigint NOT NULL REFERENCES customers(id),
  run_id                 bigint REFERENCES workflow_runs(id),
  subject                text NOT NULL,
  channel                text,
  -- what opened it, e.g. `timeline:42` (the inbound message) or `inbox:7`
  source_event           text,
  priority               text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  status                 text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'waiting_on_customer', 'resolved', 'closed')),
  pool                   text NOT NULL,
  owner_agent_id         text,
  -- the `business_hours:` the targets are counted in; NULL: round the clock
  business_hours         text,
  first_response_target_ms bigint,
  resolution_target_ms   bigint,
  -- NULL while the clock is paused (waiting on the customer) or stopped; the open time left is kept meanwhile
  first_response_due_at  timestamptz,
  resolution_due_at      timestamptz,
  first_response_left_ms bigint,
  resolution_left_ms     bigint,
  first_responded_at     timestamptz,
  first_responded_by     text,
  first_response_breached_at timestamptz,
  resolution_breached_at timestamptz,
  opened_at              timestamptz NOT NULL,
  status_changed_at      timestamptz NOT NULL,
  resolved_at            timestamptz,
  closed_at              timestamptz,
  reopened_count         int NOT NULL DEFAULT 0
);
CREATE INDEX cases_customer_idx ON cases (customer_id);
CREATE INDEX cases_active_idx ON cases (status, owner_agent_id) WHERE status IN ('open', 'waiting_on_customer');
CREATE INDEX cases_due_idx ON cases (first_response_due_at, resolution_due_at) WHERE status = 'open';

-- The thread: messages in and out, notes, status changes and assignments, oldest first.
CREATE TABLE case_entries (
  id                  bigserial PRIMARY KEY,
  case_id             bigint NOT NULL REFERENCES cases(id),
  customer_id         bigint NOT NULL REFERENCES customers(id),
  kind                text NOT NULL CHECK (kind IN ('inbound', 'reply', 'auto_reply', 'note', 'status', 'assignment', 'feedback')),
  -- the person (dashboard user, api-token); NULL for the customer and for automation
  author              text,
  body                text,
  channel             text,
  timeline_event_id   bigint REFERENCES timeline_events(id) ON DELETE SET NULL,
  outbound_message_id bigint REFERENCES outbound_messages(id),
  data                jsonb NOT NULL DEFAULT '{}',
  -- one entry per inbound message, step or request
  idempotency_key     text UNIQUE,
  at                  timestamptz NOT NULL
);
CREATE INDEX case_entries_case_idx ON case_entries (case_id, id);
CREATE INDEX case_entries_customer_idx ON case_entries (customer_id);

-- Answers to a rating question (CSAT 1-5 today, NPS later) sent with an outbound message, optionally about a case.
-- One row per message and question: a second click changes the answer, it never counts twice.
CREATE TABLE feedback (
  id                  bigserial PRIMARY KEY,
  outbound_message_id bigint NOT NULL REFERENCES outbound_messages(id),
  case_id             bigint REFERENCES cases(id),
  customer_id         bigint REFERENCES customers(id),
  kind                text NOT NULL CHECK (kind IN ('csat', 'nps')),
  score               int NOT NULL,
  answered_at         timestamptz NOT NULL,
  changed_count       int NOT NULL DEFAULT 0,
  UNIQUE (outbound_message_id, kind)
);
CREATE INDEX feedback_case_idx ON feedback (case_id);
CREATE INDEX feedback_customer_idx ON feedback (customer_id);
-- An inbound message is on a case's thread once, whichever workflow added it.
CREATE UNIQUE INDEX case_entries_message_idx ON case_entries (case_id, timeline_event_id) WHERE kind = 'inbound';
