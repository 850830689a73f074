-- Contacts by a person. An outbound message sent by an agent from crmflow names them (null: automated, a workflow's
-- reply); an email carries the Message-ID stored here, so a customer's reply (In-Reply-To / References) finds it.
ALTER TABLE outbound_messages ADD COLUMN agent_id text, ADD COLUMN email_message_id text;
CREATE UNIQUE INDEX outbound_messages_email_message_id_idx ON outbound_messages (email_message_id) WHERE email_message_id IS NOT NULL;
CREATE INDEX outbound_messages_agent_idx ON outbound_messages (customer_id, sent_at) WHERE agent_id IS NOT NULL;

-- Timeline entries a person made (an email from their mailbox's Sent folder, a call to or from their phone, a call
-- logged by hand) carry data.agent_id: the SLA check counts only these.
CREATE INDEX timeline_events_person_contact_idx ON timeline_events (customer_id, occurred_at) WHERE (data->>'agent_id') IS NOT NULL;
