import { defineStep, StepError } from './define-step.js';

interface AssignConfig {
  pool: string;
  strategy?: 'round_robin';
  reassign?: boolean;
}

export default defineStep<AssignConfig, Required<AssignConfig>>({
  type: 'assign_lead',
  summary:
    "Gives the customer an owner from an agent pool, round robin, exact across all workers. A customer who already has an owner keeps them unless `reassign: true`. Sets `$owner`.",
  schema: {
    type: 'object',
    properties: {
      pool: { type: 'string', description: 'A pool declared under `pools:`.' },
      strategy: { enum: ['round_robin'], default: 'round_robin' },
      reassign: { type: 'boolean', default: false, description: 'Assign a new owner even if the customer has one.' },
    },
    required: ['pool'],
    additionalProperties: false,
  },
  examples: [{ pool: 'sales' }],
  compile: (config, context) => {
    if (!context.pools.has(config.pool)) {
      return context.fail(`unknown agent pool "${config.pool}"; declared pools: ${[...context.pools.keys()].join(', ') || '(none)'}`, 'pool');
    }
    return { pool: config.pool, strategy: config.strategy ?? 'round_robin', reassign: config.reassign ?? false };
  },
  run: async (config, context) => {
    const customer = context.state.customer;
    if (!customer) throw new StepError('no customer: add upsert_customer before assign_lead', false);
    const { agents, pools } = context.services;
    const agentIds = (pools.get(config.pool)?.agents ?? []).filter((id) => agents.get(id)?.available !== false);
    if (agentIds.length === 0) throw new StepError(`pool ${config.pool} has no available agent`, true);
    const result = await context.services.assignRoundRobin({
      customerId: customer.id,
      pool: config.pool,
      agentIds,
      idempotencyKey: context.idempotencyKey,
      reassign: config.reassign,
    });
    const owner = agents.get(result.agentId);
    return {
      output: { agent_id: result.agentId, outcome: result.outcome },
      state: { owner, customer: { ...customer, owner_agent_id: result.agentId } },
    };
  },
});
