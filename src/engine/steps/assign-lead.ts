import { configuredCandidates } from '../../customers/assignment-order.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import { compileSla, scheduleSla, SLA_SCHEMA, type CompiledSla, type SlaConfig } from '../sla-option.js';
import { defineStep, StepError, type StepContext } from './define-step.js';

const STRATEGIES = ['round_robin', 'weighted', 'least_loaded'] as const;
type Strategy = (typeof STRATEGIES)[number];

interface Rule {
  when: string;
  pool?: string;
  agent?: string;
}

interface AssignConfig {
  pool?: string;
  strategy?: Strategy;
  rules?: Rule[];
  fallback_pool?: string;
  sticky?: boolean;
  sla?: SlaConfig;
}

interface CompiledAssign {
  pool?: string;
  strategy: Strategy;
  rules: Array<{ when: CompiledExpression; pool?: string; agent?: string }>;
  fallbackPool?: string;
  sticky: boolean;
  sla?: CompiledSla;
}

/** A target the lead may go to: a pool with the step's strategy, or one agent named by a rule. */
type Target = { pool: string } | { agent: string };

export default defineStep<AssignConfig, CompiledAssign>({
  type: 'assign_lead',
  // stop: replies, tasks and SLAs after it name the owner.
  onError: 'stop',
  summary:
    'Gives the customer an owner, exactly fair across all workers: `round_robin`, `weighted` (pool members with a weight) or `least_loaded` (fewest open leads) over a pool; `rules` (first JSONata match → a pool or an agent) pick the target; unavailable agents (declared, outside working hours, switched off through the API) and agents at capacity are skipped; `fallback_pool` when nobody is left. Sticky by default: a customer who has an owner keeps them. Sets `$owner`.',
  schema: {
    type: 'object',
    properties: {
      pool: { type: 'string', description: 'Pool declared under `pools:` (required unless every path ends in a rule).' },
      strategy: { enum: [...STRATEGIES], default: 'round_robin' },
      rules: {
        type: 'array',
        description: 'Tried in order; the first whose `when` is true decides.',
        items: {
          type: 'object',
          properties: { when: { type: 'string' }, pool: { type: 'string' }, agent: { type: 'string' } },
          required: ['when'],
          additionalProperties: false,
        },
      },
      fallback_pool: { type: 'string', description: 'Used when nobody in the chosen pool can take the lead.' },
      sticky: { type: 'boolean', default: true, description: 'A customer who already has an owner keeps them.' },
      sla: SLA_SCHEMA,
    },
    additionalProperties: false,
  },
  examples: [
    { pool: 'sales' },
    { pool: 'sales', strategy: 'least_loaded', rules: [{ when: "$record.country = 'FR'", agent: 'ann' }], fallback_pool: 'sales' },
    { pool: 'sales', sla: { within: '2h', then: 'reassign' } },
  ],
  compile: (config, context) => {
    const knownPool = (pool: string | undefined, field: string) => {
      if (pool !== undefined && !context.pools.has(pool)) {
        context.fail(`unknown agent pool "${pool}"; declared pools: ${[...context.pools.keys()].join(', ') || '(none)'}`, field);
      }
    };
    knownPool(config.pool, 'pool');
    knownPool(config.fallback_pool, 'fallback_pool');
    if (config.pool === undefined && !config.rules?.length) return context.fail('assign_lead needs `pool` or `rules`');
    const rules = (config.rules ?? []).map((rule, i) => {
      if ((rule.pool === undefined) === (rule.agent === undefined)) return context.fail('a rule names exactly one of `pool` and `agent`', `rules.${i}`);
      knownPool(rule.pool, `rules.${i}.pool`);
      if (rule.agent !== undefined && !context.agents.has(rule.agent)) return context.fail(`unknown agent "${rule.agent}"`, `rules.${i}.agent`);
      return { when: context.expression(`rules.${i}.when`, rule.when), pool: rule.pool, agent: rule.agent };
    });
    const sla = config.sla && compileSla(config.sla, config.fallback_pool ?? config.pool, rules.some((rule) => rule.agent !== undefined), context);
    return { pool: config.pool, strategy: config.strategy ?? 'round_robin', rules, fallbackPool: config.fallback_pool, sticky: config.sticky ?? true, sla };
  },
  run: async (config, context) => {
    const customer = context.state.customer;
    if (!customer) throw new StepError('no customer: add upsert_customer before assign_lead', false);
    const targets: Target[] = [];
    for (const rule of config.rules) {
      if ((await rule.when.evaluate(context.payload, context.bindings)) === true) {
        targets.push(rule.agent ? { agent: rule.agent } : { pool: rule.pool! });
        break;
      }
    }
    if (targets.length === 0 && config.pool) targets.push({ pool: config.pool });
    if (config.fallbackPool) targets.push({ pool: config.fallbackPool });
    if (targets.length === 0) return { output: { outcome: 'no_rule_matched' } };

    for (const [index, target] of targets.entries()) {
      // One key per target tried: a retry finds the assignment wherever it was made.
      const key = index === 0 ? context.idempotencyKey : `${context.idempotencyKey}:${index}`;
      const result = await context.services.assignLead({
        customerId: customer.id,
        pool: 'agent' in target ? `agent:${target.agent}` : target.pool,
        strategy: 'agent' in target ? 'round_robin' : config.strategy,
        candidates: candidates(target, context),
        idempotencyKey: key,
        sticky: config.sticky,
        runId: context.runId,
      });
      if (result.outcome === 'no_agent' || result.agentId === undefined) continue;
      if (config.sla && result.outcome !== 'kept') await scheduleSla(config.sla, { key, pool: 'pool' in target ? target.pool : undefined, strategy: config.strategy }, context);
      const owner = context.services.agents.get(result.agentId);
      return {
        output: { agent_id: result.agentId, outcome: result.outcome, ...('agent' in target ? { rule_agent: target.agent } : { pool: target.pool }) },
        state: { owner, customer: { ...customer, owner_agent_id: result.agentId } },
      };
    }
    // Nobody can take the lead now (all away or full): retried with backoff, when someone may be back.
    throw new StepError(`no available agent in ${targets.map((target) => ('agent' in target ? `agent ${target.agent}` : `pool ${target.pool}`)).join(' or ')}`, true);
  },
});

/** The target's agents that the configuration says may take a lead now (the store adds run-time availability and load). */
function candidates(target: Target, context: StepContext) {
  const { agents, pools } = context.services;
  return configuredCandidates('agent' in target ? [target.agent] : (pools.get(target.pool)?.agents ?? []), agents, new Date());
}
