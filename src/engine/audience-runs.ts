import { selectAudience } from '../store/audience.js';
import { ensureRun } from '../store/runs.js';
import type { CompiledWorkflow } from '../workflows/load.js';
import type { ChainDependencies } from './event-dispatch.js';
import type { RunOutcome } from './run-workflow.js';

/** `YYYY-MM-DD` of `date` in `timeZone`. */
export function dayIn(date: Date, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(date);
}

/**
 * One tick of an audience trigger: selects the customers page by page and runs the workflow once per customer and
 * day (trigger key `audience:<day>:<customer>`), so a second tick, process or retry the same day starts nothing new.
 */
export async function processAudienceTick(
  deps: Pick<ChainDependencies, 'pool' | 'execute' | 'settle'>,
  workflow: CompiledWorkflow,
  tick: string,
): Promise<void> {
  const trigger = workflow.trigger;
  if (trigger.kind !== 'audience') return;
  const now = new Date(tick);
  const day = dayIn(now, trigger.timezone);
  const outcomes: RunOutcome[] = [];
  for (let afterId = 0; ;) {
    const customerIds = await selectAudience(deps.pool, {
      workflow: workflow.id,
      selector: trigger.audience,
      day,
      now,
      afterId,
      limit: trigger.batchSize,
    });
    if (customerIds.length === 0) break;
    for (const customerId of customerIds) {
      const run = await ensureRun(deps.pool, {
        workflow: workflow.id,
        workflowVersion: workflow.version,
        triggerKey: `audience:${day}:${customerId}`,
        trigger: { audience: trigger.audience.kind, day, tick, customer_id: customerId },
      });
      outcomes.push(await deps.execute(run, workflow, undefined, run.trigger));
    }
    afterId = customerIds.at(-1)!;
  }
  deps.settle(outcomes);
}
