import { LIFECYCLE_STAGES } from '../../store/customers.js';
import { defineStep, StepError } from './define-step.js';

interface SetLifecycleConfig {
  stage: string;
}

export default defineStep<SetLifecycleConfig, string>({
  type: 'set_lifecycle',
  // stop: a database error heals on retry; the stage is set once.
  onError: 'stop',
  summary:
    "Sets the customer's lifecycle stage (lead → opportunity → customer → churned; any direction, as written) and records it in the lifecycle history with the run as source. A real change fires lifecycle.changed; setting the current stage changes nothing. Once per run, even when retried.",
  schema: {
    type: 'object',
    properties: { stage: { enum: LIFECYCLE_STAGES, description: 'The new stage.' } },
    required: ['stage'],
    additionalProperties: false,
  },
  examples: [{ stage: 'opportunity' }, { stage: 'churned' }],
  compile: (config) => config.stage,
  run: async (stage, context) => {
    const customer = context.state.customer;
    if (!customer)
      throw new StepError(
        'no customer: add upsert_customer before set_lifecycle (or start the workflow from an event about a customer)',
        false,
      );
    const result = await context.services.setLifecycle({
      customerId: customer.id,
      stage,
      idempotencyKey: context.idempotencyKey,
      runId: context.runId,
    });
    return { output: result, state: { customer: { ...customer, lifecycle_stage: result.to } } };
  },
});
