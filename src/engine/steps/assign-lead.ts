import { configuredCandidates, speaks } from '../../customers/assignment-order.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import type { AwayOwners } from '../../store/assignments.js';
import { compileSla, scheduleSla, SLA_SCHEMA, type CompiledSla, type SlaConfig } from '../sla-option.js';
import { defineStep, StepError, type StepContext } from './define-step.js';

const STRATEGIES = ['round_robin', 'weighted', 'least_loaded'] as const;
type Strategy = (typeof STRATEGIES)[number];

/** How the customer's `language` meets the agents' `languages`. */
const LANGUAGE_MODES = ['prefer', 'only', 'ignore'] as const;
type LanguageMode = (typeof LANGUAGE_MODES)[number];

/** What a sticky owner who is unavailable (switched off) or gone (no longer under `agents:`) gets. */
interface AwayOwnerRule {
  unavailable?: 'keep' | 'reassign';
  gone?: 'keep' | 'reassign';
}

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
  language?: LanguageMode;
  away_owner?: AwayOwnerRule;
  sla?: SlaConfig;
}

interface CompiledAssign {
  pool?: string;
  strategy: Strategy;
  rules: Array<{ when: CompiledExpression; pool?: string; agent?: string }>;
  fallbackPool?: string;
  sticky: boolean;
  language: LanguageMode;
  awayOwner: Required<AwayOwnerRule>;
  sla?: CompiledSla;
}

/** A target the lead may go to: a pool with the step's strategy (`fallback`: the step's `fallback_pool`), or one agent named by a rule. */
type Target = { pool: string; fallback?: boolean } | { agent: string };

export default defineStep<AssignConfig, CompiledAssign>({
  type: 'assign_lead',
  // stop: replies, tasks and SLAs after it name the owner.
  onError: 'stop',
  // Run again after a crash it changes nothing more: keyed by the run's idempotency key.
  rerunnable: true,
  summary:
    'Gives the customer an owner, exactly fair across all workers: `round_robin`, `weighted` (pool members with a weight) or `least_loaded` (fewest open leads) over a pool; `rules` (first JSONata match → a pool or an agent) pick the target; unavailable agents (declared, outside working hours, switched off through the API) and agents at capacity are skipped; a lead in a language goes first to the agents who speak it (`language`); `fallback_pool` when nobody is left. Sticky by default: a customer who has an owner keeps them, unless `away_owner` reassigns an owner who left or is unavailable. Sets `$owner`.',
  schema: {
    type: 'object',
    properties: {
      pool: {
        type: 'string',
        description: 'Pool declared under `pools:` (required unless every path ends in a rule).',
      },
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
      language: {
        enum: [...LANGUAGE_MODES],
        default: 'prefer',
        description:
          "The customer's `language` against the agents' `languages`: `prefer` offers the lead to the pool's agents who speak it first, then to the rest of the pool; `only` to the pool's speakers only, then `fallback_pool` (anyone in it); `ignore` does not look.",
      },
      away_owner: {
        type: 'object',
        description:
          'With `sticky`, what happens to an owner who is `unavailable` (switched off, declared or through the API) or `gone` (no longer under `agents:`): `keep` them, or `reassign` the customer within the pool like a new lead.',
        properties: {
          unavailable: { enum: ['keep', 'reassign'], default: 'keep' },
          gone: { enum: ['keep', 'reassign'], default: 'reassign' },
        },
        additionalProperties: false,
      },
      sla: SLA_SCHEMA,
    },
    additionalProperties: false,
  },
  examples: [
    { pool: 'sales' },
    {
      pool: 'sales',
      strategy: 'least_loaded',
      rules: [{ when: "$record.country = 'FR'", agent: 'ann' }],
      fallback_pool: 'sales',
    },
    { pool: 'sales', sla: { within: '2h', then: 'reassign' } },
    { pool: 'sales', language: 'only' },
    { pool: 'sales', away_owner: { unavailable: 'reassign', gone: 'reassign' } },
  ],
  compile: (config, context) => {
    const knownPool = (pool: string | undefined, field: string) => {
      if (pool !== undefined && !context.pools.has(pool)) {
        context.fail(
          `unknown agent pool "${pool}"; declared pools: ${[...context.pools.keys()].join(', ') || '(none)'}`,
          field,
        );
      }
    };
    knownPool(config.pool, 'pool');
    knownPool(config.fallback_pool, 'fallback_pool');
    if (config.pool === undefined && !config.rules?.length) return context.fail('assign_lead needs `pool` or `rules`');
    const rules = (config.rules ?? []).map((rule, i) => {
      if ((rule.pool === undefined) === (rule.agent === undefined))
        return context.fail('a rule names exactly one of `pool` and `agent`', `rules.${i}`);
      knownPool(rule.pool, `rules.${i}.pool`);
      if (rule.agent !== undefined && !context.agents.has(rule.agent))
        return context.fail(`unknown agent "${rule.agent}"`, `rules.${i}.agent`);
      return { when: context.expression(`rules.${i}.when`, rule.when), pool: rule.pool, agent: rule.agent };
    });
    const sla =
      config.sla &&
      compileSla(
        config.sla,
        config.fallback_pool ?? config.pool,
        rules.some((rule) => rule.agent !== undefined),
        context,
      );
    return {
      pool: config.pool,
      strategy: config.strategy ?? 'round_robin',
      rules,
      fallbackPool: config.fallback_pool,
      sticky: config.sticky ?? true,
      language: config.language ?? 'prefer',
      awayOwner: { unavailable: 'keep', gone: 'reassign', ...config.away_owner },
      sla,
    };
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
    if (config.fallbackPool) targets.push({ pool: config.fallbackPool, fallback: true });
    if (targets.length === 0) return { output: { outcome: 'no_rule_matched' } };

    for (const attempt of attempts(targets, config, context)) {
      const { target } = attempt;
      const result = await context.services.assignLead({
        customerId: customer.id,
        pool: attempt.pool,
        strategy: 'agent' in target ? 'round_robin' : config.strategy,
        candidates: attempt.candidates,
        idempotencyKey: attempt.key,
        sticky: config.sticky,
        awayOwners: awayOwners(config, context),
        runId: context.runId,
      });
      if (result.outcome === 'no_agent' || result.agentId === undefined) continue;
      if (config.sla && result.outcome !== 'kept')
        await scheduleSla(
          config.sla,
          { key: attempt.key, pool: 'pool' in target ? target.pool : undefined, strategy: config.strategy },
          context,
        );
      const owner = context.services.agents.get(result.agentId);
      const via = 'agent' in target ? { rule_agent: target.agent } : { pool: target.pool };
      return {
        output: {
          agent_id: result.agentId,
          outcome: result.outcome,
          ...via,
          ...(attempt.language ? { language: attempt.language } : {}),
        },
        state: { owner, customer: { ...customer, owner_agent_id: result.agentId } },
      };
    }
    // Nobody can take the lead now (all away or full): retried with backoff, when someone may be back.
    throw new StepError(
      `no available agent in ${targets.map((target) => ('agent' in target ? `agent ${target.agent}` : `pool ${target.pool}`)).join(' or ')}`,
      true,
    );
  },
});

/** The agents as configured now, for the store to tell an owner who left or is switched off. */
function awayOwners(config: CompiledAssign, context: StepContext): AwayOwners | undefined {
  const { unavailable, gone } = config.awayOwner;
  if (unavailable === 'keep' && gone === 'keep') return undefined;
  const agents = [...context.services.agents.values()];
  return {
    declared: agents.map((agent) => agent.id),
    declaredOff: agents.filter((agent) => agent.available === false).map((agent) => agent.id),
    gone: gone === 'reassign',
    unavailable: unavailable === 'reassign',
  };
}

/** One try at a target: with its own rotation (`pool`) and idempotency key, so a retry finds the assignment wherever it was made. */
interface Attempt {
  target: Target;
  pool: string;
  candidates: ReturnType<typeof configuredCandidates>;
  key: string;
  /** Set when only the agents who speak the customer's language are offered the lead. */
  language?: string;
}

/**
 * The tries in order: for each target, the agents who speak the customer's language (their own rotation, so speakers
 * share their leads fairly), then the whole target unless `language: only` holds it to speakers; the fallback pool
 * is the declared way out of `only` and takes anyone. A rule naming one agent is tried as written.
 */
function attempts(targets: Target[], config: CompiledAssign, context: StepContext): Attempt[] {
  const { agents, pools } = context.services;
  const language =
    config.language === 'ignore'
      ? undefined
      : context.state.customer?.language?.trim().toLowerCase().replace('_', '-').split('-')[0];
  return targets.flatMap((target, index) => {
    const key = index === 0 ? context.idempotencyKey : `${context.idempotencyKey}:${index}`;
    const pool = 'agent' in target ? `agent:${target.agent}` : target.pool;
    const candidates = configuredCandidates(
      'agent' in target ? [target.agent] : (pools.get(target.pool)?.agents ?? []),
      agents,
      new Date(),
    );
    const whole: Attempt = { target, pool, candidates, key };
    if (!language || 'agent' in target) return [whole];
    const speakers = candidates.filter((candidate) => speaks(agents.get(candidate.id)?.languages, language));
    if (speakers.length === candidates.length) return [whole];
    const first: Attempt = {
      target,
      pool: `${pool}:${language}`,
      candidates: speakers,
      key: `${key}:${language}`,
      language,
    };
    if (config.language === 'only' && !target.fallback) return speakers.length ? [first] : [];
    return speakers.length ? [first, whole] : [whole];
  });
}
