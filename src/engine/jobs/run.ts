import { UnrecoverableError } from 'bullmq';
import { getInboxEvent, setInboxStatus } from '../../store/inbox.js';
import { getRun } from '../../store/runs.js';
import type { TriggerEvent } from '../steps/define-step.js';
import type { JobContext, JobHandler } from './context.js';

/** A manual retry (`run`) or the resumption of a waiting run (`resume`). */
async function processRun(context: JobContext, runId: number, mode: 'manual' | 'resume'): Promise<void> {
  const run = await getRun(context.pool, runId);
  if (!run) throw new UnrecoverableError(`run ${runId} does not exist`);
  const workflow = context.workflows.get(run.workflow);
  if (!workflow) throw new UnrecoverableError(`workflow ${run.workflow} is no longer in the configuration`);
  const inbox = run.inboxEventId === null ? undefined : await getInboxEvent(context.pool, run.inboxEventId);
  // Retention removed what the run would resume from (the operations refuse this; a job queued before still must not run).
  if (run.stepsPrunedAt || inbox?.payloadPrunedAt)
    throw new UnrecoverableError(`run ${runId}'s records were removed by retention; it cannot run again`);
  // Runs of stored and engine events keep their trigger event (`$event`) when retried.
  const event = inbox || run.triggerKey.startsWith('engine:') ? (run.trigger as unknown as TriggerEvent) : undefined;
  context.settle([await context.execute(run, workflow, event, run.payload ?? inbox?.payload ?? run.trigger, { mode })]);
  // A manual retry that succeeds also settles an event whose job had failed for good.
  if (inbox && inbox.status !== 'processed') await setInboxStatus(context.pool, inbox.id, 'processed');
}

export const handleRetry: JobHandler<'run'> = (data, context) => processRun(context, data.runId, 'manual');
export const handleResume: JobHandler<'resume'> = (data, context) => processRun(context, data.runId, 'resume');
