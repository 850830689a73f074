import { ensureRun } from '../../store/runs.js';
import { processAudienceTick } from '../audience-runs.js';
import type { JobHandler } from './context.js';

/** `schedule`: one tick of a schedule or audience trigger; one run per tick (its trigger key). */
export const handleSchedule: JobHandler<'schedule'> = async (data, context) => {
  const workflow = context.workflows.get(data.workflow);
  if (!workflow?.enabled) return;
  if (workflow.trigger.kind === 'audience') return processAudienceTick(context.chain, workflow, data.tick);
  const trigger = { tick: data.tick };
  const run = await ensureRun(context.pool, {
    workflow: workflow.id,
    workflowVersion: workflow.version,
    triggerKey: `schedule:${data.tick}`,
    trigger,
  });
  context.settle([await context.execute(run, workflow, undefined, trigger)]);
};
