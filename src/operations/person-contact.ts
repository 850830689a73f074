import type { StepServices } from '../engine/steps/define-step.js';
import type { AgentConfig } from '../workflows/config-types.js';
import { type Actor, type OperationContext, requireRole } from './context.js';
import { ForbiddenError, InvalidInputError } from './errors.js';

/** The engine's outbound path and timeline, lent to operations that record what a person did with a customer. */
export type PersonContactServices = Pick<
  StepServices,
  'sendEmail' | 'sendMessage' | 'upsertTimeline' | 'loadCustomer' | 'timelineSince'
>;

export interface ContactContext extends OperationContext {
  contacts: PersonContactServices;
}

/**
 * The agent a support user acts as: the agent whose id is their user name; the API token (an admin, not a person) names
 * one with `agentId`. Support role at least.
 */
export function actingAgent(ctx: OperationContext, actor: Actor, agentId: unknown): AgentConfig {
  requireRole(actor, 'support');
  const own = ctx.config.agents.get(actor.name);
  if (own) {
    if (agentId !== undefined && agentId !== null && agentId !== own.id)
      throw new ForbiddenError(`${actor.name} cannot act as agent ${String(agentId)}`);
    return own;
  }
  if (agentId === undefined || agentId === null || agentId === '') {
    throw new InvalidInputError(
      `${actor.name} is not an agent of workflows.yaml (agents:): name the agent with agent_id`,
      'no_agent',
    );
  }
  if (actor.role !== 'admin')
    throw new ForbiddenError(`${actor.name} is not an agent of workflows.yaml and cannot act as another`);
  const named = ctx.config.agents.get(String(agentId));
  if (!named) throw new InvalidInputError(`no agent "${String(agentId)}" in workflows.yaml (agents:)`, 'unknown_agent');
  return named;
}

export function requiredText(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidInputError(`${field} is required`);
  if (value.length > max) throw new InvalidInputError(`${field} has ${value.length} characters; at most ${max}`);
  return value.trim();
}
