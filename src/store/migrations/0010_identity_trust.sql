-- Reversible merges: each merge keeps both customer rows as they were before it and the ids of the rows it moved,
-- so an unmerge puts everything back exactly.
ALTER TABLE customer_merges
  ADD COLUMN before      jsonb,
  ADD COLUMN moved       jsonb,
  ADD COLUMN unmerged_at timestamptz,
  ADD COLUMN unmerged_by text;
CREATE INDEX customer_merges_merged_idx ON customer_merges (merged_id);

-- Suggestions from the duplicate finder carry a score; decisions say who made them.
ALTER TABLE customer_merge_suggestions
  ADD COLUMN score      double precision,
  ADD COLUMN decided_by text,
  ADD COLUMN decided_at timestamptz;
CREATE INDEX customer_merge_suggestions_open_idx ON customer_merge_suggestions (id DESC) WHERE status = 'open';

-- Erasure: the customer row stays (other rows point at it) with its personal fields cleared.
ALTER TABLE customers ADD COLUMN erased_at timestamptz;

-- Salted hashes of an erased person's identities: old data about them (replays, pulls, redeliveries) must not
-- re-create the profile; a new contact from them does. The salt is random per installation.
CREATE TABLE identity_salt (salt text NOT NULL);
INSERT INTO identity_salt (salt) VALUES (encode(sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'));
CREATE TABLE erased_identities (
  hash      text PRIMARY KEY,
  erased_at timestamptz NOT NULL DEFAULT now()
);
