-- Computed traits (#15): kept on the customer, recomputed from their rows in the transaction of each change.
ALTER TABLE customers ADD COLUMN traits jsonb NOT NULL DEFAULT '{}';
-- When a time-based segment condition of this customer can next change its answer (the sweep reads only due ones).
ALTER TABLE customers ADD COLUMN segments_recheck_at timestamptz;
CREATE INDEX customers_segments_recheck_idx ON customers (segments_recheck_at) WHERE segments_recheck_at IS NOT NULL;

-- What a timeline entry is worth as a purchase (a paid order net of refunds, a paid invoice), in its currency; null
-- when it is not one (a message, an unpaid or cancelled order).
ALTER TABLE timeline_events ADD COLUMN amount numeric, ADD COLUMN currency text;

-- Segment membership history: one row per stay of a customer in a segment; open while exited_at is null.
CREATE TABLE segment_memberships (
  id          bigserial PRIMARY KEY,
  segment_id  text NOT NULL,
  customer_id bigint NOT NULL REFERENCES customers(id),
  entered_at  timestamptz NOT NULL,
  exited_at   timestamptz,
  -- what moved them: change, sweep, backfill, merge, removed (segment no longer declared)
  entered_by  text NOT NULL,
  exited_by   text
);
-- At most one open stay per customer and segment: entering twice is impossible, whoever evaluates. It also serves the
-- members list (keyset by customer id) and the segment sizes.
CREATE UNIQUE INDEX segment_memberships_open_idx ON segment_memberships (segment_id, customer_id) WHERE exited_at IS NULL;
CREATE INDEX segment_memberships_customer_idx ON segment_memberships (customer_id);
-- Entries and exits of the last 30 days on the Segments page.
CREATE INDEX segment_memberships_entered_idx ON segment_memberships (segment_id, entered_at);
CREATE INDEX segment_memberships_exited_idx ON segment_memberships (segment_id, exited_at) WHERE exited_at IS NOT NULL;

-- The segment definitions the members were computed with: a new or edited one is backfilled at start-up.
CREATE TABLE segment_definitions (
  id            text PRIMARY KEY,
  version       text NOT NULL,
  backfilled_at timestamptz
);
