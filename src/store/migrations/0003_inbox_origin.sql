-- How an event arrived: 'webhook', or 'pull:<resource>' for events read from a vendor API by a poll trigger.
ALTER TABLE inbox_events ADD COLUMN origin text NOT NULL DEFAULT 'webhook';
