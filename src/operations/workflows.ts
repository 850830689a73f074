import { workflowStats as storedWorkflowStats, type WorkflowStats } from '../store/run-stats.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, NotFoundError } from './errors.js';

export type { WorkflowStats } from '../store/run-stats.js';

/** The loaded workflows as the API lists them. */
export function listWorkflows(ctx: OperationContext) {
  return ctx.config.workflows.map((workflow) => ({
    id: workflow.id,
    name: workflow.name,
    enabled: workflow.enabled,
    version: workflow.version,
    trigger: workflow.config.trigger,
    steps: workflow.steps.map((step) => ({ id: step.id, type: step.definition.type })),
  }));
}

/** Runs and failures per workflow over the last day. */
export async function workflowStats(ctx: OperationContext): Promise<WorkflowStats[]> {
  return storedWorkflowStats(
    ctx.pool,
    ctx.config.workflows.map((workflow) => workflow.id),
  );
}

/**
 * Starts a poll-triggered workflow's pull now. A pull already running for the same resource makes this one a no-op
 * (one puller per resource).
 */
export async function pollWorkflow(
  ctx: OperationContext,
  actor: Actor,
  input: { workflowId: string },
): Promise<{ workflow: string; jobId: string | undefined }> {
  requireRole(actor, 'support');
  const workflow = ctx.config.workflows.find((candidate) => candidate.id === input.workflowId);
  if (!workflow) throw new NotFoundError(`no workflow ${input.workflowId}`);
  if (workflow.trigger.kind !== 'poll')
    throw new ConflictError(`workflow ${workflow.id} is not started by a poll trigger`, 'not_a_poll');
  if (!workflow.enabled)
    throw new ConflictError(`workflow ${workflow.id} is disabled in the workflows file`, 'disabled');
  const job = await ctx.queue.add('pull', { kind: 'pull', workflow: workflow.id });
  await audit(ctx, actor, 'workflow.poll', `workflow:${workflow.id}`, { job_id: job.id ?? null });
  return { workflow: workflow.id, jobId: job.id };
}
