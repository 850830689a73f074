-- Consent per channel and address (email, E.164 phone, page-scoped id), not per customer: an opt-out stays with the
-- address through merges and unmerges. No row: never stated (replies allowed).
CREATE TABLE consents (
  channel    text NOT NULL,
  address    text NOT NULL,
  granted    boolean NOT NULL,
  source     text NOT NULL,
  changed_at timestamptz NOT NULL,
  PRIMARY KEY (channel, address)
);

-- Every consent change, in order. `event_ref` names the inbound message or request that made it: a redelivered
-- STOP adds no second row.
CREATE TABLE consent_history (
  id         bigserial PRIMARY KEY,
  channel    text NOT NULL,
  address    text NOT NULL,
  granted    boolean NOT NULL,
  source     text NOT NULL,
  actor      text,
  event_ref  text UNIQUE,
  changed_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_history_address_idx ON consent_history (channel, address, id);

-- The customer's last inbound message per channel and address: Meta's 24-hour customer-service window starts there.
CREATE TABLE inbound_contacts (
  channel         text NOT NULL,
  address         text NOT NULL,
  last_inbound_at timestamptz NOT NULL,
  PRIMARY KEY (channel, address)
);

-- Replies let through by a once-per-window or per-customer limit, one row per (scope, reply). A retried reply finds
-- its own row and goes on; others count the rows in their window under an advisory lock on the scope.
CREATE TABLE reply_allowances (
  scope           text NOT NULL,
  idempotency_key text NOT NULL,
  granted_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX reply_allowances_window_idx ON reply_allowances (scope, granted_at);
