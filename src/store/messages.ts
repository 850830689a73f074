import { writeForLiveCustomer } from './customers.js';
import type { Pool } from './pool.js';

/** The transport of messages kept locally in demo mode (email without SMTP_URL, channels of demo connectors): not delivered. */
export const OUTBOX = 'outbox';

/** Every status an outbound message can have (the table's CHECK constraint lists the same). */
export const MESSAGE_STATUSES = ['sending', 'sent', 'failed', 'skipped', 'uncertain'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface OutboundMessage {
  idempotencyKey: string;
  customerId: number | null;
  runId: number | null;
  channel: string;
  transport: string;
  recipient: string;
  subject: string | null;
  body: string;
  /** The agent who sent it from crmflow; null or absent: automated (a workflow's reply). */
  agentId?: string | null;
  /** An email's Message-ID header, stored before sending so replies (In-Reply-To, References) find the message. */
  emailMessageId?: string | null;
}

export interface MessageRow extends OutboundMessage {
  id: number;
  status: MessageStatus;
  statusReason: string | null;
  providerId: string | null;
  attempts: number;
  createdAt: Date;
  sentAt: Date | null;
}

const MESSAGE_COLUMNS = `id, idempotency_key AS "idempotencyKey", customer_id AS "customerId", run_id AS "runId", channel,
  transport, recipient, subject, body, status, status_reason AS "statusReason", provider_id AS "providerId", attempts,
  created_at AS "createdAt", sent_at AS "sentAt", agent_id AS "agentId", email_message_id AS "emailMessageId"`;

export type Claim = { send: true; id: number } | { send: false; message: MessageRow };

/**
 * Record-before-send. The caller may send only when this returns `send: true`:
 * - first attempt: the message is recorded as `sending`;
 * - an earlier attempt failed cleanly (`failed`): it is claimed again;
 * - an earlier attempt died between claiming and recording the outcome (`sending`): whether the message left is
 *   unknown, so it is marked `uncertain` and never sent again automatically (nothing twice);
 * - already `sent`, `skipped` or `uncertain`: nothing to do.
 */
export async function claimMessage(pool: Pool, message: OutboundMessage): Promise<Claim> {
  const values = [
    message.idempotencyKey,
    message.runId,
    message.channel,
    message.transport,
    message.recipient,
    message.subject,
    message.body,
    message.agentId ?? null,
    message.emailMessageId ?? null,
  ];
  const insert = (customer: string, from = '') =>
    `INSERT INTO outbound_messages (idempotency_key, customer_id, run_id, channel, transport, recipient, subject, body, status, agent_id, email_message_id)
     SELECT $2::text, ${customer}, $3::bigint, $4::text, $5::text, $6::text, $7::text, $8::text, 'sending', $9::text, $10::text ${from}
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
  // Written for the customer as it is now: it may have been merged since the run resolved it.
  const [inserted] =
    message.customerId === null
      ? (await pool.query<{ id: number }>(insert('$1::bigint'), [null, ...values])).rows
      : await writeForLiveCustomer<{ id: number }>(
          pool,
          message.customerId,
          insert('live.id', 'FROM live WHERE live.merged_into IS NULL'),
          values,
        );
  if (inserted) return { send: true, id: inserted.id };
  const reclaimed = await pool.query<{ id: number }>(
    `UPDATE outbound_messages SET status = 'sending', attempts = attempts + 1, status_reason = NULL
     WHERE idempotency_key = $1 AND status = 'failed' RETURNING id`,
    [message.idempotencyKey],
  );
  if (reclaimed.rows[0]) return { send: true, id: reclaimed.rows[0].id };
  const { rows } = await pool.query<MessageRow>(
    `UPDATE outbound_messages SET status = CASE WHEN status = 'sending' THEN 'uncertain' ELSE status END,
       status_reason = CASE WHEN status = 'sending' THEN 'an earlier attempt stopped while sending; not resent automatically' ELSE status_reason END
     WHERE idempotency_key = $1 RETURNING ${MESSAGE_COLUMNS}`,
    [message.idempotencyKey],
  );
  return { send: false, message: rows[0]! };
}

/**
 * Records that a message is not sent, and why: a new message, or one whose earlier attempt failed cleanly. A message
 * already sent, skipped or uncertain keeps its status, and one left `sending` by a dead attempt becomes uncertain
 * (as in {@link claimMessage}): a retry never hides what an earlier attempt may have done.
 */
export async function skipMessage(pool: Pool, message: OutboundMessage, reason: string): Promise<MessageRow> {
  const { rows } = await pool.query<MessageRow>(
    `INSERT INTO outbound_messages (idempotency_key, customer_id, run_id, channel, transport, recipient, subject, body, status, status_reason, agent_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'skipped', $9, $10)
     ON CONFLICT (idempotency_key) DO UPDATE SET status = 'skipped', status_reason = excluded.status_reason
       WHERE outbound_messages.status = 'failed'
     RETURNING ${MESSAGE_COLUMNS}`,
    [
      message.idempotencyKey,
      message.customerId,
      message.runId,
      message.channel,
      message.transport,
      message.recipient,
      message.subject,
      message.body,
      reason,
      message.agentId ?? null,
    ],
  );
  if (rows[0]) return rows[0];
  const claim = await claimMessage(pool, message);
  if (claim.send) throw new Error(`message ${message.idempotencyKey} changed while it was being skipped`);
  return claim.message;
}

export async function markMessageSent(pool: Pool, id: number, providerId: string | null): Promise<void> {
  await pool.query(`UPDATE outbound_messages SET status = 'sent', provider_id = $2, sent_at = now() WHERE id = $1`, [
    id,
    providerId,
  ]);
}

export async function markMessageFailed(pool: Pool, id: number, reason: string): Promise<void> {
  await pool.query(`UPDATE outbound_messages SET status = 'failed', status_reason = $2 WHERE id = $1`, [id, reason]);
}

/** The vendor may have acted on the send (timeout, reset): never resent automatically. */
export async function markMessageUncertain(pool: Pool, id: number, reason: string): Promise<void> {
  await pool.query(`UPDATE outbound_messages SET status = 'uncertain', status_reason = $2 WHERE id = $1`, [id, reason]);
}

/** Claims an `uncertain` message for a resend a person asked for; undefined when it is not (or no longer) uncertain. */
export async function reclaimUncertainMessage(pool: Pool, id: number): Promise<MessageRow | undefined> {
  const { rows } = await pool.query<MessageRow>(
    `UPDATE outbound_messages SET status = 'sending', attempts = attempts + 1, status_reason = NULL
     WHERE id = $1 AND status = 'uncertain' RETURNING ${MESSAGE_COLUMNS}`,
    [id],
  );
  return rows[0];
}

export async function getMessage(pool: Pool, id: number): Promise<MessageRow | undefined> {
  const { rows } = await pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM outbound_messages WHERE id = $1`, [id]);
  return rows[0];
}

export async function listMessages(
  pool: Pool,
  filter: { customerId?: number; status?: MessageStatus; before?: number; limit: number },
): Promise<MessageRow[]> {
  const { rows } = await pool.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM outbound_messages
     WHERE ($1::bigint IS NULL OR customer_id = $1) AND ($2::bigint IS NULL OR id < $2) AND ($4::text IS NULL OR status = $4)
     ORDER BY id DESC LIMIT $3`,
    [filter.customerId ?? null, filter.before ?? null, filter.limit, filter.status ?? null],
  );
  return rows;
}

/** Our outbound emails whose Message-ID is among `messageIds` (a reply's In-Reply-To and References), newest first. */
export async function findEmailsByMessageId(
  pool: Pool,
  messageIds: string[],
): Promise<Array<Pick<MessageRow, 'id' | 'customerId' | 'runId' | 'agentId' | 'emailMessageId'>>> {
  if (messageIds.length === 0) return [];
  const { rows } = await pool.query<Pick<MessageRow, 'id' | 'customerId' | 'runId' | 'agentId' | 'emailMessageId'>>(
    `SELECT id, customer_id AS "customerId", run_id AS "runId", agent_id AS "agentId", email_message_id AS "emailMessageId"
     FROM outbound_messages WHERE email_message_id = ANY($1::text[]) ORDER BY id DESC`,
    [messageIds],
  );
  return rows;
}
