import type { AssignmentStrategy } from './assignments.js';
import type { Pool } from './pool.js';
import { PERSON_CONTACT_TYPES } from './timeline.js';

/** What happens when the owner has not contacted the lead in time: another agent of `pool`, or `agent`, takes it. */
export interface SlaAction {
  then: 'reassign' | 'escalate';
  pool?: string;
  agent?: string;
  strategy: AssignmentStrategy;
  /** The SLA as written (`2h`), for the reason recorded with the reassignment. */
  within: string;
}

export type SlaStatus = 'pending' | 'met' | 'reassigned' | 'escalated' | 'no_agent' | 'superseded';

export interface SlaRow {
  assignmentId: number;
  dueAt: Date;
  action: SlaAction;
  runId: number | null;
  status: SlaStatus;
  /** The assignment checked. */
  customerId: number;
  agentId: string;
  assignedAt: Date;
  /** The agent an earlier check of this SLA already handed the lead to (it stopped before recording that). */
  reassignedTo: string | null;
}

/** The idempotency key of the reassignment an SLA check makes: one per SLA. */
export const slaReassignmentKey = (assignmentId: number) => `sla:${assignmentId}`;

/** Stores the SLA of the assignment made under `assignmentKey`; its id, or undefined when there is no such assignment. */
export async function createSla(
  pool: Pool,
  sla: { assignmentKey: string; dueAt: Date; action: SlaAction; runId: number | null },
): Promise<number | undefined> {
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO lead_slas (assignment_id, due_at, action, run_id)
     SELECT id, $2, $3, $4 FROM lead_assignments WHERE idempotency_key = $1
     ON CONFLICT (assignment_id) DO UPDATE SET assignment_id = EXCLUDED.assignment_id RETURNING assignment_id AS id`,
    [sla.assignmentKey, sla.dueAt, JSON.stringify(sla.action), sla.runId],
  );
  return rows[0]?.id;
}

export async function getSla(pool: Pool, assignmentId: number): Promise<SlaRow | undefined> {
  const { rows } = await pool.query<SlaRow>(
    `SELECT s.assignment_id AS "assignmentId", s.due_at AS "dueAt", s.action, s.run_id AS "runId", s.status,
            a.customer_id AS "customerId", a.agent_id AS "agentId", a.assigned_at AS "assignedAt",
            (SELECT agent_id FROM lead_assignments WHERE idempotency_key = 'sla:' || s.assignment_id) AS "reassignedTo"
     FROM lead_slas s JOIN lead_assignments a ON a.id = s.assignment_id WHERE s.assignment_id = $1`,
    [assignmentId],
  );
  return rows[0];
}

/** Records the check's result once: false when another check already did. */
export async function settleSla(
  pool: Pool,
  assignmentId: number,
  status: Exclude<SlaStatus, 'pending'>,
  outcome: Record<string, unknown>,
): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE lead_slas SET status = $2, outcome = $3, checked_at = now() WHERE assignment_id = $1 AND status = 'pending'`,
    [assignmentId, status, JSON.stringify(outcome)],
  );
  return rowCount === 1;
}

/** Pending SLAs due at `now`, after `afterId`, for the reconciler. */
export async function listDueSlas(
  pool: Pool,
  now: Date,
  limit: number,
  afterId = 0,
): Promise<Array<{ assignmentId: number; dueAt: Date }>> {
  const { rows } = await pool.query<{ assignmentId: number; dueAt: Date }>(
    `SELECT assignment_id AS "assignmentId", due_at AS "dueAt" FROM lead_slas
     WHERE status = 'pending' AND due_at <= $1 AND assignment_id > $2 ORDER BY assignment_id LIMIT $3`,
    [now, afterId, limit],
  );
  return rows;
}

/**
 * Whether a person contacted the lead after `since`: a message an agent sent from crmflow, or a timeline entry an agent
 * made (an email from their Sent folder, a call to or from their phone, a call logged by hand). Automated replies never
 * count, whichever run sent them. Counts the customers merged into this one too. Vendor times (an email's Date, a
 * Twilio timestamp) have whole seconds: an entry in the second of the assignment counts.
 */
export async function leadContactedSince(pool: Pool, customerId: number, since: Date): Promise<boolean> {
  const { rows } = await pool.query<{ contacted: boolean }>(
    `WITH live AS (SELECT coalesce(merged_into, id) AS id FROM customers WHERE id = $1),
          people AS (SELECT id FROM customers WHERE id = (SELECT id FROM live) OR merged_into = (SELECT id FROM live))
     SELECT EXISTS (SELECT 1 FROM outbound_messages WHERE customer_id IN (SELECT id FROM people) AND agent_id IS NOT NULL
                      AND status = 'sent' AND sent_at > $2)
         OR EXISTS (SELECT 1 FROM timeline_events WHERE customer_id IN (SELECT id FROM people) AND (data->>'agent_id') IS NOT NULL
                      AND type = ANY($3::text[]) AND occurred_at >= date_trunc('second', $2::timestamptz)) AS contacted`,
    [customerId, since, [...PERSON_CONTACT_TYPES]],
  );
  return rows[0]!.contacted;
}
