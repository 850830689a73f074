-- Every customer an agent owns, whatever the stage: a hand-over moves them all, and start-up looks for owners who are
-- no longer declared agents.
CREATE INDEX customers_owner_idx ON customers (owner_agent_id) WHERE merged_into IS NULL AND owner_agent_id IS NOT NULL;
