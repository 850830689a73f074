-- When each time-based segment condition of this customer next changes its answer, with a hash of what the condition
-- read (#15): a change that leaves those inputs alone reuses the time instead of probing the condition again.
ALTER TABLE customers ADD COLUMN IF NOT EXISTS segment_flips jsonb;
