-- The traits definition (built-in statement and declared traits) each segment was backfilled with (#15): while it is
-- the current one, customers' stored traits are current and a new segment's backfill evaluates that segment alone.
ALTER TABLE segment_definitions ADD COLUMN IF NOT EXISTS traits_version text;
