-- Unified customer record. A merged customer keeps its row with merged_into set, so old ids still resolve.
CREATE TABLE customers (
  id                 bigserial PRIMARY KEY,
  name               text,
  first_name         text,
  last_name          text,
  language           text,
  country            text,
  lifecycle_stage    text NOT NULL DEFAULT 'lead',
  owner_agent_id     text,
  attributes         jsonb NOT NULL DEFAULT '{}',
  -- vendor time of the newest data written into the profile; older updates never overwrite newer ones
  profile_updated_at timestamptz,
  merged_into        bigint REFERENCES customers(id),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_active_idx ON customers (id) WHERE merged_into IS NULL;
CREATE INDEX customers_name_idx ON customers (lower(name) text_pattern_ops);

-- One row per (kind, normalized value): an identity belongs to exactly one customer.
CREATE TABLE customer_identities (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  kind        text NOT NULL,
  value       text NOT NULL,
  source      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, value)
);
CREATE INDEX customer_identities_customer_idx ON customer_identities (customer_id);

CREATE TABLE customer_merges (
  id          bigserial PRIMARY KEY,
  kept_id     bigint NOT NULL REFERENCES customers(id),
  merged_id   bigint NOT NULL REFERENCES customers(id),
  -- which identities linked the two and which event brought them together
  reason      jsonb NOT NULL,
  merged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_merges_kept_idx ON customer_merges (kept_id);

CREATE TABLE lifecycle_history (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  from_stage  text,
  to_stage    text NOT NULL,
  source      text,
  changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lifecycle_history_customer_idx ON lifecycle_history (customer_id);

-- Orders, calls, messages, invoices... one row per vendor object, whatever the number of deliveries.
CREATE TABLE timeline_events (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  source      text NOT NULL,
  external_id text NOT NULL,
  type        text NOT NULL,
  occurred_at timestamptz NOT NULL,
  -- the vendor's version of the object (its updated time): a redelivery of an older version changes nothing
  version_at  timestamptz NOT NULL,
  summary     text,
  data        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (source, external_id)
);
CREATE INDEX timeline_events_customer_idx ON timeline_events (customer_id, occurred_at DESC);

-- Durable inbox: a webhook is acknowledged only once its events are here.
CREATE TABLE inbox_events (
  id           bigserial PRIMARY KEY,
  connector    text NOT NULL,
  type         text NOT NULL,
  external_id  text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  payload      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processed', 'failed')),
  processed_at timestamptz,
  UNIQUE (connector, external_id)
);
CREATE INDEX inbox_events_pending_idx ON inbox_events (id) WHERE status = 'pending';

CREATE TABLE workflow_runs (
  id               bigserial PRIMARY KEY,
  workflow         text NOT NULL,
  workflow_version text NOT NULL,
  -- what started the run: 'inbox:<id>' or 'schedule:<workflow>:<tick>'; one run per trigger and workflow
  trigger_key      text NOT NULL,
  inbox_event_id   bigint REFERENCES inbox_events(id),
  trigger          jsonb NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'filtered', 'failed')),
  error            text,
  -- whether the failure may heal by itself (network, 5xx): only such runs are re-run when their job is retried
  error_retryable  boolean NOT NULL DEFAULT false,
  attempts         int NOT NULL DEFAULT 0,
  customer_id      bigint REFERENCES customers(id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  UNIQUE (trigger_key, workflow)
);
CREATE INDEX workflow_runs_list_idx ON workflow_runs (id DESC);
CREATE INDEX workflow_runs_workflow_status_idx ON workflow_runs (workflow, status, id DESC);
CREATE INDEX workflow_runs_status_idx ON workflow_runs (status, id DESC);
CREATE INDEX workflow_runs_customer_idx ON workflow_runs (customer_id);

CREATE TABLE run_steps (
  run_id      bigint NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
  step_index  int NOT NULL,
  step_id     text NOT NULL,
  type        text NOT NULL,
  status      text NOT NULL CHECK (status IN ('succeeded', 'failed')),
  input       jsonb,
  output      jsonb,
  -- what the step added to the run state (record, customer, owner), replayed when a run resumes
  state       jsonb,
  error       text,
  attempt     int NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  PRIMARY KEY (run_id, step_index)
);

CREATE TABLE lead_assignments (
  id              bigserial PRIMARY KEY,
  customer_id     bigint NOT NULL REFERENCES customers(id),
  agent_id        text NOT NULL,
  pool            text NOT NULL,
  strategy        text NOT NULL,
  -- the step that made it: a retried step finds its assignment instead of assigning again
  idempotency_key text NOT NULL UNIQUE,
  assigned_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_assignments_customer_idx ON lead_assignments (customer_id);

-- Round-robin position per pool, advanced atomically by every worker.
CREATE TABLE pool_cursors (
  pool     text PRIMARY KEY,
  position bigint NOT NULL DEFAULT 0
);

-- Every outbound message, recorded before it is sent.
CREATE TABLE outbound_messages (
  id              bigserial PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  customer_id     bigint REFERENCES customers(id),
  run_id          bigint REFERENCES workflow_runs(id),
  channel         text NOT NULL,
  transport       text NOT NULL,
  recipient       text NOT NULL,
  subject         text,
  body            text NOT NULL,
  status          text NOT NULL CHECK (status IN ('sending', 'sent', 'failed', 'skipped', 'uncertain')),
  status_reason   text,
  provider_id     text,
  attempts        int NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  sent_at         timestamptz
);
CREATE INDEX outbound_messages_customer_idx ON outbound_messages (customer_id);
CREATE INDEX outbound_messages_list_idx ON outbound_messages (id DESC);

-- Pull cursors, advanced only after a page's records are stored.
CREATE TABLE connector_cursors (
  connector  text NOT NULL,
  resource   text NOT NULL,
  cursor     jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector, resource)
);
