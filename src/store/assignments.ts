import { withRetriedTransaction, type Pool } from './pool.js';

export interface RoundRobinRequest {
  customerId: number;
  pool: string;
  /** Eligible agents in the pool's declared order. */
  agentIds: string[];
  /** Names the step that assigns; the same key always yields the same assignment. */
  idempotencyKey: string;
  /** Assign even when the customer already has an owner. */
  reassign: boolean;
}

export interface AssignmentResult {
  agentId: string;
  /** `kept`: the customer already had an owner and `reassign` was off. */
  outcome: 'assigned' | 'already_assigned' | 'kept';
  customerId: number;
}

/**
 * Round robin that is exact across any number of workers: the pool's position is advanced with a row lock in
 * the same transaction that records the assignment and sets the owner.
 */
export async function assignRoundRobin(pool: Pool, request: RoundRobinRequest): Promise<AssignmentResult> {
  if (request.agentIds.length === 0) throw new Error(`pool "${request.pool}" has no available agent`);
  return withRetriedTransaction(pool, async (client) => {
    const previous = await client.query<{ agent_id: string; customer_id: number }>(
      'SELECT agent_id, customer_id FROM lead_assignments WHERE idempotency_key = $1',
      [request.idempotencyKey],
    );
    if (previous.rows[0]) return { agentId: previous.rows[0].agent_id, outcome: 'already_assigned', customerId: previous.rows[0].customer_id };
    const customer = await client.query<{ id: number; owner_agent_id: string | null }>(
      `SELECT id, owner_agent_id FROM customers WHERE id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1) FOR UPDATE`,
      [request.customerId],
    );
    const row = customer.rows[0];
    if (!row) throw new Error(`customer ${request.customerId} does not exist`);
    if (row.owner_agent_id !== null && !request.reassign) return { agentId: row.owner_agent_id, outcome: 'kept', customerId: row.id };
    const { rows } = await client.query<{ position: number }>(
      `INSERT INTO pool_cursors (pool, position) VALUES ($1, 1)
       ON CONFLICT (pool) DO UPDATE SET position = pool_cursors.position + 1 RETURNING position`,
      [request.pool],
    );
    const agentId = request.agentIds[(rows[0]!.position - 1) % request.agentIds.length]!;
    await client.query(
      `INSERT INTO lead_assignments (customer_id, agent_id, pool, strategy, idempotency_key) VALUES ($1, $2, $3, 'round_robin', $4)`,
      [row.id, agentId, request.pool, request.idempotencyKey],
    );
    await client.query('UPDATE customers SET owner_agent_id = $2, updated_at = now() WHERE id = $1', [row.id, agentId]);
    return { agentId, outcome: 'assigned', customerId: row.id };
  });
}
