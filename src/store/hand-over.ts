import { withRetriedTransaction, type Pool } from './pool.js';

export interface HandOverRequest {
  /** The agent whose customers, open tasks and pending SLAs move. */
  from: string;
  /** Who takes them, in order: one agent, or the members of a pool who can take leads (customers are dealt in turn). */
  to: readonly string[];
  /** What `to` is, for the assignment history: `agent:bob` or the pool's name. */
  target: string;
  /** Names the hand-over: the assignments it makes are keyed by it, so repeating it moves nothing twice. */
  key: string;
  /** Recorded as the reason of every assignment it makes. */
  reason: string;
}

export interface HandOverResult {
  customers: number;
  tasks: number;
  slas: number;
  /** Open deals and active cases the agent owned, now owned by their customer's new owner. */
  deals: number;
  cases: number;
  /** The SLAs now pending on the new owners' assignments, to be scheduled. */
  movedSlas: Array<{ assignmentId: number; dueAt: Date }>;
}

/**
 * Moves an agent's customers (every stage: the relationship stays with the business), their open tasks and their
 * pending SLAs to other agents in one transaction. Each customer gets an assignment (reason, replaced assignment) in
 * the history; a pending SLA is superseded and carried over, with its due time, to the new owner's assignment. Open
 * tasks, open deals and active cases follow their customer's new owner (tasks without a customer go to the first
 * agent of `to`).
 */
export async function handOverAgent(pool: Pool, request: HandOverRequest): Promise<HandOverResult> {
  if (request.to.length === 0) throw new Error('hand-over needs someone to hand over to');
  return withRetriedTransaction(pool, async (client) => {
    const { rows: customers } = await client.query<{ id: number }>(
      'SELECT id FROM customers WHERE owner_agent_id = $1 AND merged_into IS NULL ORDER BY id FOR UPDATE',
      [request.from],
    );
    const ids = customers.map((customer) => customer.id);
    const owners = ids.map((_, i) => request.to[i % request.to.length]!);
    const { rows: assignments } = await client.query<{ id: number; customer_id: number; replaced: number | null }>(
      `WITH moved AS (
         UPDATE customers c SET owner_agent_id = m.agent_id, updated_at = now()
         FROM unnest($1::bigint[], $2::text[]) AS m(customer_id, agent_id) WHERE c.id = m.customer_id RETURNING c.id, m.agent_id)
       INSERT INTO lead_assignments (customer_id, agent_id, pool, strategy, idempotency_key, reason, replaces)
       SELECT moved.id, moved.agent_id, $3, 'hand_over', $4 || ':' || moved.id, $5,
              (SELECT max(a.id) FROM lead_assignments a WHERE a.customer_id = moved.id)
       FROM moved ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING id, customer_id, replaces AS replaced`,
      [ids, owners, request.target, request.key, request.reason],
    );
    // Pending SLAs of the agent's assignments on these customers (or on customers merged into them).
    const { rows: slas } = await client.query<{ assignment_id: number; due_at: Date }>(
      `WITH old AS (
         UPDATE lead_slas s SET status = 'superseded', checked_at = now(), outcome = jsonb_build_object('handed_over_to', n.agent_id, 'reason', $3::text)
         FROM lead_assignments a JOIN customers c ON c.id = a.customer_id,
              LATERAL (SELECT id, agent_id FROM lead_assignments WHERE idempotency_key = $2 || ':' || coalesce(c.merged_into, c.id)) AS n
         WHERE s.assignment_id = a.id AND s.status = 'pending' AND a.agent_id = $1
         RETURNING n.id AS new_id, s.due_at, s.action, s.run_id)
       INSERT INTO lead_slas (assignment_id, due_at, action, run_id) SELECT new_id, due_at, action, run_id FROM old
       ON CONFLICT (assignment_id) DO NOTHING RETURNING assignment_id, due_at`,
      [request.from, request.key, request.reason],
    );
    const { rowCount: tasks } = await client.query(
      `UPDATE tasks t SET agent_id = coalesce((SELECT c.owner_agent_id FROM customers c WHERE c.id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = t.customer_id)), $2)
       WHERE t.agent_id = $1 AND t.status = 'open'`,
      [request.from, request.to[0]],
    );
    // Open deals and active cases follow the customer's (new) owner; a customer who stayed with someone else keeps theirs.
    const follow = (table: string, open: string) =>
      client.query(
        `UPDATE ${table} t SET owner_agent_id = coalesce((SELECT c.owner_agent_id FROM customers c WHERE c.id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = t.customer_id)), $2)
         WHERE t.owner_agent_id = $1 AND ${open}`,
        [request.from, request.to[0]],
      );
    const { rowCount: deals } = await follow('deals', "t.status = 'open'");
    const { rowCount: cases } = await follow('cases', "t.status IN ('open', 'waiting_on_customer')");
    return {
      customers: assignments.length,
      tasks: tasks ?? 0,
      slas: slas.length,
      deals: deals ?? 0,
      cases: cases ?? 0,
      movedSlas: slas.map((sla) => ({ assignmentId: sla.assignment_id, dueAt: sla.due_at })),
    };
  });
}

export interface FormerAgent {
  agent_id: string;
  customers: number;
  open_tasks: number;
}

/** Owners of customers (or of open tasks) who are not among `declared`: agents removed from workflows.yaml. */
export async function listFormerOwners(pool: Pool, declared: readonly string[]): Promise<FormerAgent[]> {
  const { rows } = await pool.query<FormerAgent>(
    `SELECT agent_id, sum(customers)::int AS customers, sum(open_tasks)::int AS open_tasks FROM (
       SELECT owner_agent_id AS agent_id, count(*) AS customers, 0 AS open_tasks FROM customers
       WHERE merged_into IS NULL AND owner_agent_id IS NOT NULL AND owner_agent_id <> ALL($1::text[]) GROUP BY 1
       UNION ALL
       SELECT agent_id, 0, count(*) FROM tasks WHERE status = 'open' AND agent_id IS NOT NULL AND agent_id <> ALL($1::text[]) GROUP BY 1) AS owned
     GROUP BY agent_id ORDER BY agent_id`,
    [declared],
  );
  return rows;
}

/** Those of `agents` switched off at run time (`PUT /api/agents/:id/availability`). */
export async function switchedOffAgents(pool: Pool, agents: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query<{ agent_id: string }>(
    'SELECT agent_id FROM agent_availability WHERE agent_id = ANY($1) AND NOT available',
    [agents],
  );
  return rows.map((row) => row.agent_id);
}
