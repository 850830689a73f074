-- OAuth tokens of connectors (rotated refresh tokens must survive restarts), encrypted with CRMFLOW_SECRET_KEY.
CREATE TABLE connector_tokens (
  connector  text PRIMARY KEY,
  ciphertext text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The payload a run works on when it differs from the stored webhook (thin webhooks enriched over the vendor API).
ALTER TABLE workflow_runs ADD COLUMN payload jsonb;
