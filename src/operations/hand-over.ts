import { randomUUID } from 'node:crypto';
import { enqueueAt, jobIds } from '../engine/queues.js';
import { handOverAgent, listFormerOwners, switchedOffAgents, type FormerAgent } from '../store/hand-over.js';
import { memberId } from '../workflows/config-types.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';

export type { FormerAgent } from '../store/hand-over.js';

/** Hand an agent's book to one agent (`to_agent`) or to a pool (`to_pool`, dealt in turn among those who can take leads). */
export interface HandOverInput {
  from: string;
  to_agent?: string;
  to_pool?: string;
}

export interface HandOverSummary {
  from: string;
  /** Who took the customers. */
  to: string[];
  customers: number;
  tasks: number;
  slas: number;
  deals: number;
  cases: number;
}

/**
 * Moves an agent's customers, open tasks, pending SLAs, open deals and active cases to another agent or a pool in one transaction, audited as
 * `agent.hand_over`. The agent handed over may be one still declared (leaving, on long leave) or one already removed
 * from workflows.yaml whose customers still name them. The SLAs carried over are scheduled again for their new owner.
 */
export async function handOver(ctx: OperationContext, actor: Actor, input: HandOverInput): Promise<HandOverSummary> {
  requireRole(actor, 'admin');
  const from = input.from?.trim();
  if (!from) throw new InvalidInputError('name the agent to hand over from');
  if ((input.to_agent === undefined) === (input.to_pool === undefined))
    throw new InvalidInputError('hand over to exactly one of an agent (to_agent) or a pool (to_pool)');
  const declared = [...ctx.config.agents.keys()];
  if (
    !ctx.config.agents.has(from) &&
    !(await listFormerOwners(ctx.pool, declared)).some((owner) => owner.agent_id === from)
  ) {
    throw new NotFoundError(`no agent ${from}: neither declared under agents: nor owning customers or open tasks`);
  }
  const to = await receivers(ctx, from, input);
  const target = input.to_agent !== undefined ? `agent:${input.to_agent}` : input.to_pool!;
  const reason = `hand-over from ${from} by ${actor.name}`;
  const result = await handOverAgent(ctx.pool, { from, to, target, key: `hand-over:${from}:${randomUUID()}`, reason });
  await audit(ctx, actor, 'agent.hand_over', `agent:${from}`, {
    to: target,
    customers: result.customers,
    tasks: result.tasks,
    slas: result.slas,
    deals: result.deals,
    cases: result.cases,
  });
  // Stored first: should Redis miss a job, the reconciler adds it once the SLA is due.
  const now = ctx.now?.() ?? new Date();
  for (const sla of result.movedSlas)
    await enqueueAt(
      ctx.queue,
      { kind: 'sla', assignmentId: sla.assignmentId },
      jobIds.sla(sla.assignmentId),
      sla.dueAt,
      now,
    );
  return {
    from,
    to,
    customers: result.customers,
    tasks: result.tasks,
    slas: result.slas,
    deals: result.deals,
    cases: result.cases,
  };
}

/** The declared agents who take the book: never the agent handed over, nor anyone switched off (declared or at run time). */
async function receivers(ctx: OperationContext, from: string, input: HandOverInput): Promise<string[]> {
  const { agents, pools } = ctx.config;
  let wanted: string[];
  if (input.to_agent !== undefined) {
    if (!agents.has(input.to_agent)) throw new NotFoundError(`no agent ${input.to_agent} under agents:`);
    if (input.to_agent === from) throw new InvalidInputError('an agent cannot hand over to themselves');
    wanted = [input.to_agent];
  } else {
    const pool = pools.get(input.to_pool!);
    if (!pool) throw new NotFoundError(`no pool ${input.to_pool} under pools:`);
    wanted = pool.agents.map(memberId).filter((id) => id !== from && agents.get(id)?.available !== false);
  }
  const off = new Set(await switchedOffAgents(ctx.pool, wanted));
  const to = wanted.filter((id) => !off.has(id));
  if (to.length === 0)
    throw new ConflictError(
      `nobody in ${input.to_agent ?? `pool ${input.to_pool}`} can take customers now (switched off)`,
      'no_agent',
    );
  return to;
}

/** Agents removed from workflows.yaml who still own customers or open tasks: reported at start-up and on the dashboard. */
export function formerOwners(ctx: Pick<OperationContext, 'pool' | 'config'>): Promise<FormerAgent[]> {
  return listFormerOwners(ctx.pool, [...ctx.config.agents.keys()]);
}
