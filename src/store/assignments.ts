import { rotationStep, weightedCycle, type WeightedAgent } from '../customers/assignment-order.js';
import { emitEngineEvent } from './engine-events.js';
import { withRetriedTransaction, type Pool, type PoolClient } from './pool.js';

export type AssignmentStrategy = 'round_robin' | 'weighted' | 'least_loaded';

export interface Candidate extends WeightedAgent {
  /** Most open leads (lifecycle lead or opportunity) the agent may own; no limit when absent. */
  capacity?: number;
}

export interface AssignRequest {
  customerId: number;
  /** Names the shared position (a pool, or `agent:<id>` for a direct rule). */
  pool: string;
  strategy: AssignmentStrategy;
  /** The pool's agents in declared order, already filtered by what the config knows (declared availability, hours). */
  candidates: Candidate[];
  /** Names the step that assigns; the same key always yields the same assignment. */
  idempotencyKey: string;
  /** A customer who already has an owner keeps them. */
  sticky: boolean;
  /** Sticky owners replaced all the same (see {@link AwayOwners}); absent: every owner is kept. */
  awayOwners?: AwayOwners;
  /** Why, when this is not a first assignment (e.g. an SLA reassignment), and the assignment it replaces. */
  reason?: string;
  replaces?: number;
  /** Candidates that may not take it (the owner an SLA reassignment takes it from); the rotation still counts them. */
  exclude?: string[];
  /** The run assigning: the lead.assigned event continues its chain. */
  runId?: number;
  /** Engine event types some workflow starts on: events of other types are not written. Default: all. */
  listenedEvents?: ReadonlySet<string>;
}

/**
 * `assign_lead`'s `away_owner: reassign`: an owner who is not among the `declared` agents has left (`gone`); one in
 * `declaredOff` or switched off at run time is `unavailable`. Those replaced get a new owner as if they had none.
 */
export interface AwayOwners {
  declared: readonly string[];
  declaredOff: readonly string[];
  gone: boolean;
  unavailable: boolean;
}

export interface AssignmentResult {
  /** Undefined with outcome `no_agent`: everyone was unavailable or at capacity. */
  agentId?: string;
  /** `kept`: the customer already had an owner and assignment is sticky. */
  outcome: 'assigned' | 'already_assigned' | 'kept' | 'no_agent';
  customerId: number;
  /** The lead.assigned engine event written with a new assignment, to be queued. */
  event?: number;
}

/**
 * Assigns the customer an owner from the candidates, exactly fair across any number of workers: the pool's position
 * is read and advanced under its row lock together with the availability (and load) checks, the assignment record
 * and the new owner. Agents switched off at run time (`agent_availability`) or at capacity are skipped.
 */
export async function assignLead(pool: Pool, request: AssignRequest): Promise<AssignmentResult> {
  // Most leads are from customers who already have an owner: one read, no transaction, answers them.
  const seen = await customerToAssign(pool, request, false);
  const known = seen && assignmentMade(seen, request);
  if (known) return known;
  const rotation =
    request.strategy !== 'least_loaded' && request.candidates.every((candidate) => candidate.capacity === undefined);
  if (!rotation || request.listenedEvents?.has('lead.assigned')) return assignInTransaction(pool, request);
  const away = seen && awayOwner(seen, request);
  return assignInOneStatement(
    pool,
    away ? { ...request, reason: request.reason ?? away.reason } : request,
    away?.owner ?? null,
  );
}

/**
 * The position walk of `rotationStep` (customers/assignment-order.ts) for round robin and weighted pools, in SQL: the
 * position after the first agent of the cycle (`$3`) from position `p` who is not in `barred`. NULL when everyone is.
 * Exported for the property test that holds it to `rotationStep`.
 */
export const nextPosition = (p: string) =>
  `(SELECT ${p} + s + 1 FROM generate_series(0, cardinality($3::text[]) - 1) AS s
    WHERE ($3::text[])[(${p} + s) % cardinality($3::text[]) + 1] <> ALL ((SELECT agents FROM barred)::text[]) ORDER BY s LIMIT 1)`;

/**
 * A rotation (round robin, weighted) without capacities as one autocommitted statement: the pool's row lock is held
 * only inside the server, never across a round trip to a busy worker, so assignments do not queue behind one
 * another. The customer row is locked and checked (live, owner) in the same statement; a sticky owner is replaced
 * only if it is still `replacing`, the away owner seen before.
 */
async function assignInOneStatement(
  pool: Pool,
  request: AssignRequest,
  replacing: string | null,
): Promise<AssignmentResult> {
  const cycle =
    request.strategy === 'weighted'
      ? weightedCycle(request.candidates)
      : request.candidates.map((candidate) => candidate.id);
  for (let attempt = 0; attempt < 5; attempt++) {
    let rows: Array<{ id: number; owner_agent_id: string | null; agent_id: string | null }>;
    try {
      ({ rows } = await pool.query(
        `WITH target AS (
           SELECT c.id, c.owner_agent_id FROM customers c
           WHERE c.id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1) AND c.merged_into IS NULL FOR UPDATE),
         barred AS (
           SELECT coalesce(array_agg(agent_id), '{}') AS agents FROM (
             SELECT agent_id FROM agent_availability WHERE agent_id = ANY($3::text[]) AND NOT available
             UNION SELECT unnest($4::text[])) AS off),
         cursor AS (
           INSERT INTO pool_cursors AS p (pool, position)
           SELECT $2::text, ${nextPosition('0')} FROM target WHERE (target.owner_agent_id IS NULL OR NOT $5::boolean OR target.owner_agent_id = $10) AND ${nextPosition('0')} IS NOT NULL
           ON CONFLICT (pool) DO UPDATE SET position = ${nextPosition('p.position')}
           RETURNING position - 1 AS chosen),
         choice AS (SELECT target.id AS customer_id, ($3::text[])[cursor.chosen % cardinality($3::text[]) + 1] AS agent_id FROM cursor, target),
         assignment AS (
           INSERT INTO lead_assignments (customer_id, agent_id, pool, strategy, idempotency_key, reason, replaces)
           SELECT customer_id, agent_id, $2::text, $6::text, $7::text, $8::text, $9::bigint FROM choice),
         owner AS (UPDATE customers c SET owner_agent_id = choice.agent_id, updated_at = now() FROM choice WHERE c.id = choice.customer_id)
         SELECT target.id, target.owner_agent_id, (SELECT agent_id FROM choice) AS agent_id FROM target`,
        [
          request.customerId,
          request.pool,
          cycle,
          request.exclude ?? [],
          request.sticky,
          request.strategy,
          request.idempotencyKey,
          request.reason ?? null,
          request.replaces ?? null,
          replacing,
        ],
      ));
    } catch (error) {
      // The same key assigned meanwhile (a duplicate job): that assignment stands, nothing of this one was written.
      if ((error as { code?: string }).code !== '23505') throw error;
      const now = await customerToAssign(pool, request, false);
      if (now?.assigned_agent) return assignmentMade(now, request)!;
      throw error;
    }
    const row = rows[0];
    if (!row) {
      // Merged while we looked (or gone): try again on the customer it is now.
      if (!(await customerToAssign(pool, request, false)))
        throw new Error(`customer ${request.customerId} does not exist`);
      continue;
    }
    if (row.agent_id !== null) return { agentId: row.agent_id, outcome: 'assigned', customerId: row.id };
    if (row.owner_agent_id !== null && request.sticky && row.owner_agent_id !== replacing)
      return { agentId: row.owner_agent_id, outcome: 'kept', customerId: row.id };
    return { outcome: 'no_agent', customerId: row.id };
  }
  throw Object.assign(new Error(`customer ${request.customerId} kept being merged; retrying`), { code: '40001' });
}

/**
 * Least loaded, capacities, or a lead.assigned event to write with the assignment: a transaction holding the pool's
 * row lock while the loads are counted. Its commit does not wait for the disk flush, which would hold the pool's lock
 * too: what follows an assignment (the step's record, the reply) commits with a flush first, and a database crash
 * before that loses only an assignment nobody acted on, made again when the step is retried.
 */
async function assignInTransaction(pool: Pool, request: AssignRequest): Promise<AssignmentResult> {
  return withRetriedTransaction(
    pool,
    async (client) => {
      const row = await customerToAssign(client, request, true);
      if (!row) throw new Error(`customer ${request.customerId} does not exist`);
      const made = assignmentMade(row, request);
      if (made) return made;

      // The pool's row lock serializes its assignments: positions and loads cannot change under us. It is held until
      // COMMIT, so the locked part is two statements (and the load count when capacity or load matters).
      const { rows } = await client.query<{ position: number; off: string[] }>(
        `WITH cursor AS (
         INSERT INTO pool_cursors (pool, position) VALUES ($1, 0)
         ON CONFLICT (pool) DO UPDATE SET position = pool_cursors.position RETURNING position)
       SELECT position, ARRAY(SELECT agent_id FROM agent_availability WHERE agent_id = ANY($2) AND NOT available) AS off FROM cursor`,
        [request.pool, request.candidates.map((candidate) => candidate.id)],
      );
      const { position, off } = rows[0]!;
      const eligible = await eligibleAgents(
        client,
        request.candidates,
        new Set(off),
        request.strategy === 'least_loaded',
      );
      for (const agentId of request.exclude ?? []) eligible.delete(agentId);
      if (eligible.size === 0) return { outcome: 'no_agent', customerId: row.id };

      const choice = choose(request, position, eligible);
      await client.query(
        `WITH cursor AS (UPDATE pool_cursors SET position = $2 WHERE pool = $1),
            assignment AS (INSERT INTO lead_assignments (customer_id, agent_id, pool, strategy, idempotency_key, reason, replaces) VALUES ($3, $4, $1, $5, $6, $7, $8))
       UPDATE customers SET owner_agent_id = $4, updated_at = now() WHERE id = $3`,
        [
          request.pool,
          choice.nextPosition,
          row.id,
          choice.agentId,
          request.strategy,
          request.idempotencyKey,
          request.reason ?? awayOwner(row, request)?.reason ?? null,
          request.replaces ?? null,
        ],
      );
      const event = await emitEngineEvent(client, {
        type: 'lead.assigned',
        customerId: row.id,
        sourceRunId: request.runId,
        listened: request.listenedEvents,
        data: {
          customer_id: row.id,
          agent_id: choice.agentId,
          previous_agent_id: row.owner_agent_id,
          pool: request.pool,
        },
      });
      return { agentId: choice.agentId, outcome: 'assigned', customerId: row.id, event };
    },
    { synchronousCommit: false },
  );
}

interface CustomerToAssign {
  id: number;
  owner_agent_id: string | null;
  /** The assignment this request's key already made, if any. */
  assigned_agent: string | null;
  assigned_customer: number | null;
  /** The owner is switched off at run time. */
  owner_off: boolean;
}

/** The live customer (row-locked with `lock`) and the assignment the key already made, in one round trip. */
async function customerToAssign(
  db: Pool | PoolClient,
  request: AssignRequest,
  lock: boolean,
): Promise<CustomerToAssign | undefined> {
  const { rows } = await db.query<CustomerToAssign>(
    `SELECT c.id, c.owner_agent_id, a.agent_id AS assigned_agent, a.customer_id AS assigned_customer,
            EXISTS (SELECT 1 FROM agent_availability v WHERE v.agent_id = c.owner_agent_id AND NOT v.available) AS owner_off
     FROM customers c LEFT JOIN lead_assignments a ON a.idempotency_key = $2
     WHERE c.id = (SELECT coalesce(merged_into, id) FROM customers WHERE id = $1)${lock ? ' FOR UPDATE OF c' : ''}`,
    [request.customerId, request.idempotencyKey],
  );
  return rows[0];
}

/** The result when there is nothing to assign: the key already assigned, or the customer keeps a sticky owner. */
function assignmentMade(row: CustomerToAssign, request: AssignRequest): AssignmentResult | undefined {
  if (row.assigned_agent !== null)
    return { agentId: row.assigned_agent, outcome: 'already_assigned', customerId: row.assigned_customer! };
  if (row.owner_agent_id !== null && request.sticky && !awayOwner(row, request))
    return { agentId: row.owner_agent_id, outcome: 'kept', customerId: row.id };
  return undefined;
}

/** The customer's owner when the request replaces them (gone or unavailable, see {@link AwayOwners}), with why. */
function awayOwner(row: CustomerToAssign, request: AssignRequest): { owner: string; reason: string } | undefined {
  const { owner_agent_id: owner } = row;
  const away = request.awayOwners;
  if (owner === null || !away) return undefined;
  if (away.gone && !away.declared.includes(owner)) return { owner, reason: `owner ${owner} is no longer an agent` };
  if (away.unavailable && (away.declaredOff.includes(owner) || row.owner_off))
    return { owner, reason: `owner ${owner} is unavailable` };
  return undefined;
}

/** Candidates not switched off (`off`) and under capacity, with their open-lead counts. */
async function eligibleAgents(
  client: PoolClient,
  candidates: Candidate[],
  off: Set<string>,
  needLoad: boolean,
): Promise<Map<string, number>> {
  const loads = new Map<string, number>();
  if (needLoad || candidates.some((candidate) => candidate.capacity !== undefined)) {
    const { rows } = await client.query<{ owner_agent_id: string; open: number }>(
      `SELECT owner_agent_id, count(*)::int AS open FROM customers
       WHERE owner_agent_id = ANY($1) AND merged_into IS NULL AND lifecycle_stage IN ('lead', 'opportunity') GROUP BY 1`,
      [candidates.map((candidate) => candidate.id)],
    );
    for (const load of rows) loads.set(load.owner_agent_id, load.open);
  }
  const eligible = new Map<string, number>();
  for (const candidate of candidates) {
    const open = loads.get(candidate.id) ?? 0;
    if (!off.has(candidate.id) && (candidate.capacity === undefined || open < candidate.capacity))
      eligible.set(candidate.id, open);
  }
  return eligible;
}

function choose(
  request: AssignRequest,
  position: number,
  eligible: Map<string, number>,
): { agentId: string; nextPosition: number } {
  if (request.strategy === 'least_loaded') {
    // Fewest open leads; ties go to the agent declared first.
    const [agentId] = [...eligible].reduce((best, entry) => (entry[1] < best[1] ? entry : best));
    return { agentId, nextPosition: position + 1 };
  }
  // Round robin walks the declared order, weighted its smooth cycle; unavailable agents are stepped over.
  const cycle =
    request.strategy === 'weighted'
      ? weightedCycle(request.candidates)
      : request.candidates.map((candidate) => candidate.id);
  const next = rotationStep(cycle, position, (agentId) => eligible.has(agentId));
  if (!next) throw new Error('unreachable: an eligible agent is always in the cycle');
  return next;
}

/** Switches an agent on or off for new leads without a restart. */
export async function setAgentAvailability(
  pool: Pool,
  agentId: string,
  available: boolean,
  changedBy: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO agent_availability (agent_id, available, changed_by) VALUES ($1, $2, $3)
     ON CONFLICT (agent_id) DO UPDATE SET available = EXCLUDED.available, changed_by = EXCLUDED.changed_by, updated_at = now()`,
    [agentId, available, changedBy],
  );
}

export interface AgentStatus {
  agent_id: string;
  available: boolean | null;
  open_leads: number;
}

/** Run-time availability (null: as declared) and open leads per agent. */
export async function listAgentStatus(pool: Pool, agentIds: string[]): Promise<AgentStatus[]> {
  const { rows } = await pool.query<AgentStatus>(
    `SELECT a.id AS agent_id, av.available,
            (SELECT count(*)::int FROM customers c WHERE c.owner_agent_id = a.id AND c.merged_into IS NULL AND c.lifecycle_stage IN ('lead', 'opportunity')) AS open_leads
     FROM unnest($1::text[]) WITH ORDINALITY AS a(id, n) LEFT JOIN agent_availability av ON av.agent_id = a.id ORDER BY a.n`,
    [agentIds],
  );
  return rows;
}
