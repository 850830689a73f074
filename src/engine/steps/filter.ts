import type { CompiledExpression } from '../../workflows/expression.js';
import { defineStep, StepError } from './define-step.js';

export default defineStep<{ when: string }, CompiledExpression>({
  type: 'filter',
  // stop: a condition that cannot be evaluated must not let the run through.
  onError: 'stop',
  effectFree: true,
  summary: 'Ends the run (status `filtered`) unless the JSONata condition `when` is true.',
  schema: {
    type: 'object',
    properties: {
      when: { type: 'string', description: 'JSONata condition over the payload and `$record`, `$customer`...' },
    },
    required: ['when'],
    additionalProperties: false,
  },
  examples: [{ when: '$number(total_price) >= 100' }],
  compile: (config, context) => context.expression('when', config.when),
  run: async (when, context) => {
    let matched: unknown;
    try {
      matched = await when.evaluate(context.payload, context.bindings);
    } catch (error) {
      throw new StepError(`filter condition failed: ${(error as Error).message}`, false);
    }
    return matched === true ? { output: { matched: true } } : { output: { matched: false }, stop: 'filtered' };
  },
});
