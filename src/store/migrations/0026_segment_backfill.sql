-- The traits definition (built-in statement and declared traits) each segment was backfilled with (#15): while it is
-- the current one, customers' stored traits are current and a new segment's backfill evaluates that segment alone.
ALTER TABLE segment_definitions ADD COLUMN IF NOT EXISTS traits_version text;

-- A customer's open stays, read by every refresh (with each event, a page of the backfill, the sweep). The unique
-- index on (segment_id, customer_id) also matches "open" but not by customer: when the planner took it for this
-- lookup (its plan made while the table was small, then kept by the connection), each customer read the whole index,
-- and a backfill slowed as the stays grew (a later backfill ran at half the speed of the first).
CREATE INDEX IF NOT EXISTS segment_memberships_customer_open_idx ON segment_memberships (customer_id, segment_id)
  WHERE exited_at IS NULL;
