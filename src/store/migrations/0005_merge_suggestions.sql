-- Customers an event linked but identity rules kept apart (an identifier that may not merge, or a cap): for review.
CREATE TABLE customer_merge_suggestions (
  id          bigserial PRIMARY KEY,
  customer_a  bigint NOT NULL REFERENCES customers(id),
  customer_b  bigint NOT NULL REFERENCES customers(id),
  reason      jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (customer_a, customer_b)
);
