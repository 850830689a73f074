import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool } from './pool.js';

export interface FeedbackRow {
  id: number;
  outbound_message_id: number;
  case_id: number | null;
  customer_id: number | null;
  kind: 'csat' | 'nps';
  score: number;
  answered_at: Date;
  changed_count: number;
}

const FEEDBACK_COLUMNS = 'id, outbound_message_id, case_id, customer_id, kind, score, answered_at, changed_count';

/**
 * Records the answer to the rating question sent with the message `messageKey` (its idempotency key): one row per
 * message and kind, so a second click changes the answer and never counts twice. A new or changed answer goes on the
 * customer's timeline (and the case's thread) and emits feedback.received; the same answer again changes nothing.
 * Undefined when no such message was sent.
 */
export async function recordFeedback(
  pool: Pool,
  answer: {
    messageKey: string;
    caseId: number | null;
    kind: 'csat' | 'nps';
    score: number;
    at: Date;
    listened?: ReadonlySet<string>;
  },
): Promise<{ feedback: FeedbackRow; changed: boolean; event?: number } | undefined> {
  return withRetriedTransaction(pool, async (client) => {
    const { rows: messages } = await client.query<{ id: number; customer_id: number | null }>(
      `SELECT m.id, coalesce(c.merged_into, c.id) AS customer_id FROM outbound_messages m LEFT JOIN customers c ON c.id = m.customer_id
       WHERE m.idempotency_key = $1 AND m.status IN ('sent', 'uncertain')`,
      [answer.messageKey],
    );
    const message = messages[0];
    if (!message) return undefined;
    const { rows } = await client.query<FeedbackRow & { inserted: boolean }>(
      `INSERT INTO feedback (outbound_message_id, case_id, customer_id, kind, score, answered_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (outbound_message_id, kind) DO UPDATE SET score = EXCLUDED.score, answered_at = EXCLUDED.answered_at, changed_count = feedback.changed_count + 1
         WHERE feedback.score <> EXCLUDED.score
       RETURNING ${FEEDBACK_COLUMNS}, (xmax = 0) AS inserted`,
      [message.id, answer.caseId, message.customer_id, answer.kind, answer.score, answer.at],
    );
    if (!rows[0]) {
      const same = await client.query<FeedbackRow>(
        `SELECT ${FEEDBACK_COLUMNS} FROM feedback WHERE outbound_message_id = $1 AND kind = $2`,
        [message.id, answer.kind],
      );
      return { feedback: same.rows[0]!, changed: false };
    }
    const { inserted: _inserted, ...feedback } = rows[0];
    const summary = `${feedback.kind.toUpperCase()} ${feedback.score}/5${feedback.case_id === null ? '' : ` on case #${feedback.case_id}`}`;
    const data = {
      feedback_id: feedback.id,
      kind: feedback.kind,
      score: feedback.score,
      case_id: feedback.case_id,
      outbound_message_id: message.id,
    };
    if (feedback.customer_id !== null) {
      // One entry per answer, updated when the answer changes.
      await client.query(
        `INSERT INTO timeline_events (customer_id, source, external_id, type, occurred_at, version_at, summary, data)
         VALUES ($1, 'crmflow', $2, 'feedback.received', $3, $3, $4, $5)
         ON CONFLICT (source, external_id) DO UPDATE SET occurred_at = EXCLUDED.occurred_at, version_at = EXCLUDED.version_at, summary = EXCLUDED.summary, data = EXCLUDED.data, updated_at = now()`,
        [feedback.customer_id, `feedback/${feedback.id}`, answer.at, summary, JSON.stringify(data)],
      );
    }
    if (feedback.case_id !== null) {
      await client.query(
        `INSERT INTO case_entries (case_id, customer_id, kind, body, data, idempotency_key, at)
         SELECT id, customer_id, 'feedback', $2, $3, $4, $5 FROM cases WHERE id = $1`,
        [
          feedback.case_id,
          summary,
          JSON.stringify(data),
          `feedback:${feedback.id}:${feedback.changed_count}`,
          answer.at,
        ],
      );
    }
    const event = await emitEngineEvent(client, {
      type: 'feedback.received',
      customerId: feedback.customer_id,
      data: { ...data, customer_id: feedback.customer_id, changed: feedback.changed_count > 0 },
      dedupeKey: `feedback:${feedback.id}:${feedback.changed_count}`,
      listened: answer.listened,
    });
    return { feedback, changed: true, event };
  });
}

/** The answers about a case, newest first. */
export async function caseFeedback(pool: Pool, caseId: number): Promise<FeedbackRow[]> {
  const { rows } = await pool.query<FeedbackRow>(
    `SELECT ${FEEDBACK_COLUMNS} FROM feedback WHERE case_id = $1 ORDER BY answered_at DESC`,
    [caseId],
  );
  return rows;
}
