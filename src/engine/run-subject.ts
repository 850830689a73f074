import type { RunRow } from '../store/runs.js';
import type { RunState, StepServices } from './steps/define-step.js';

/**
 * The state a run starts with: runs of event and audience triggers are about one customer from the start
 * (`trigger.customer_id`), so `$customer` and `$owner` are set before the first step. Other runs start empty.
 */
export async function initialRunState(run: RunRow, services: StepServices): Promise<RunState> {
  const customerId = run.trigger.customer_id;
  if (typeof customerId !== 'number') return {};
  const customer = await services.loadCustomer(customerId);
  return {
    customer,
    owner: customer.owner_agent_id === null ? undefined : services.agents.get(customer.owner_agent_id),
  };
}
