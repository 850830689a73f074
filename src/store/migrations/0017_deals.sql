-- Sales pipeline deals (issue #17): pipelines are declared in workflows.yaml; a deal belongs to a customer and moves
-- through its pipeline's stages. At most one open deal per customer and pipeline is kept by the steps under the
-- customer's row lock, not by a unique index: a merge of two customers with an open deal each keeps both.
CREATE TABLE deals (
  id                 bigserial PRIMARY KEY,
  customer_id        bigint NOT NULL REFERENCES customers(id),
  pipeline           text NOT NULL,
  stage              text NOT NULL,
  status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
  name               text,
  -- unknown amounts are NULL, never 0
  amount             numeric(14, 2),
  currency           text,
  owner_agent_id     text,
  expected_close_on  date,
  -- what opened it: `<connector>:<event type>:<external id>`, or `run:<id>` / `user:<name>`
  source             text,
  source_run_id      bigint REFERENCES workflow_runs(id),
  -- vendor time of the event that opened it, and of the last stage change (days in stage, staleness)
  opened_at          timestamptz NOT NULL,
  stage_entered_at   timestamptz NOT NULL,
  closed_at          timestamptz,
  close_reason       text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deals_customer_idx ON deals (customer_id, pipeline);
CREATE INDEX deals_pipeline_idx ON deals (pipeline, status, stage);

-- Every stage a deal entered, with when (vendor time) and why. `idempotency_key` is the step's key for its vendor
-- object: a retried, replayed or redelivered step finds its change here instead of making it again.
CREATE TABLE deal_stage_history (
  id               bigserial PRIMARY KEY,
  deal_id          bigint NOT NULL REFERENCES deals(id),
  customer_id      bigint NOT NULL REFERENCES customers(id),
  from_stage       text,
  to_stage         text NOT NULL,
  amount           numeric(14, 2),
  at               timestamptz NOT NULL,
  source           text,
  actor            text,
  reason           text,
  idempotency_key  text UNIQUE,
  recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deal_stage_history_deal_idx ON deal_stage_history (deal_id, id);
CREATE INDEX deal_stage_history_customer_idx ON deal_stage_history (customer_id);
