import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError } from './define-step.js';

interface ScoreConfig {
  rules: Array<{ when: string; add: number }>;
  thresholds?: number[];
}

interface CompiledScore {
  rules: Array<{ when: CompiledExpression; add: number }>;
  thresholds: number[];
}

export default defineStep<ScoreConfig, CompiledScore>({
  type: 'score',
  // stop: a database error heals on retry; the points are added once.
  onError: 'stop',
  summary:
    "Adds to the customer's lead score the points of every rule whose JSONata `when` is true (negative points subtract), once per run even when retried, with a history. Each of `thresholds` the score reaches from below fires score.threshold (`threshold`, `score`, `previous`).",
  schema: {
    type: 'object',
    properties: {
      rules: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          properties: {
            when: { type: 'string', description: 'JSONata condition.' },
            add: { type: 'integer', description: 'Points; negative subtracts.' },
          },
          required: ['when', 'add'],
          additionalProperties: false,
        },
      },
      thresholds: {
        type: 'array',
        items: { type: 'integer' },
        description: 'Scores that fire score.threshold when reached from below.',
      },
    },
    required: ['rules'],
    additionalProperties: false,
  },
  examples: [
    {
      rules: [
        { when: "$customer.country = 'US'", add: 10 },
        { when: '$not($boolean($customer.email))', add: -5 },
      ],
      thresholds: [50, 100],
    },
  ],
  compile: (config, context) => ({
    rules: config.rules.map((rule, i) => ({ when: context.expression(`rules.${i}.when`, rule.when), add: rule.add })),
    thresholds: [...new Set(config.thresholds ?? [])].sort((a, b) => a - b),
  }),
  run: async (compiled, context) => {
    const customer = context.state.customer;
    if (!customer)
      throw new StepError(
        'no customer: add upsert_customer before score (or start the workflow from an event about a customer)',
        false,
      );
    const matched: number[] = [];
    for (const [i, rule] of compiled.rules.entries()) {
      if ((await rule.when.evaluate(context.payload, context.bindings)) === true) matched.push(i);
    }
    const delta = matched.reduce((sum, i) => sum + compiled.rules[i]!.add, 0);
    const result = await context.services.addScore({
      customerId: customer.id,
      delta,
      thresholds: compiled.thresholds,
      idempotencyKey: context.idempotencyKey,
      runId: context.runId,
    });
    return { output: { matched_rules: matched, delta, ...result } };
  },
});
