-- The normalized identities (emails, phones) each stored delivery names, recorded at ingest: erasure finds every
-- delivery about a person by any of their identities, not only those whose payload text contains an email.
CREATE TABLE inbox_event_identities (
  inbox_event_id bigint NOT NULL REFERENCES inbox_events(id) ON DELETE CASCADE,
  kind           text NOT NULL,
  value          text NOT NULL,
  PRIMARY KEY (inbox_event_id, kind, value)
);
CREATE INDEX inbox_event_identities_value_idx ON inbox_event_identities (kind, value);
