import { listAgentStatus, setAgentAvailability as storeAvailability, type AgentStatus } from '../store/assignments.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { InvalidInputError, NotFoundError } from './errors.js';

export type { AgentStatus } from '../store/assignments.js';

/** Run-time availability (null: as declared) and open leads of every agent in the configuration. */
export async function agentStatuses(ctx: OperationContext): Promise<Map<string, AgentStatus>> {
  const rows = await listAgentStatus(ctx.pool, [...ctx.config.agents.keys()]);
  return new Map(rows.map((row) => [row.agent_id, row]));
}

/** The agents as declared, with their current availability and open leads. */
export async function listAgents(ctx: OperationContext) {
  const status = await agentStatuses(ctx);
  return [...ctx.config.agents.values()].map((agent) => ({
    ...agent,
    available: status.get(agent.id)?.available ?? agent.available ?? true,
    open_leads: status.get(agent.id)?.open_leads ?? 0,
  }));
}

/** Switches an agent on or off for new leads without a restart. Admins only. */
export async function setAgentAvailability(
  ctx: OperationContext,
  actor: Actor,
  input: { agentId: string; available: unknown },
): Promise<{ agentId: string; available: boolean }> {
  requireRole(actor, 'admin');
  const agent = ctx.config.agents.get(input.agentId);
  if (!agent) throw new NotFoundError(`no agent ${input.agentId}`);
  if (typeof input.available !== 'boolean') throw new InvalidInputError('available must be true or false');
  await storeAvailability(ctx.pool, agent.id, input.available, actor.name);
  await audit(ctx, actor, 'agent.availability', `agent:${agent.id}`, { available: input.available });
  return { agentId: agent.id, available: input.available };
}
