import {
  completeTask as completeStoredTask,
  listTasks as listStoredTasks,
  type TaskFilter,
  type TaskRow,
} from '../store/tasks.js';
import { audit, requireRole, type Actor, type OperationContext } from './context.js';
import { ConflictError, NotFoundError } from './errors.js';

export { TASK_STATUSES, type TaskRow } from '../store/tasks.js';

export async function listTasks(ctx: OperationContext, filter: TaskFilter): Promise<TaskRow[]> {
  return listStoredTasks(ctx.pool, filter);
}

/** Marks an open task done (its overdue reminder no longer fires). */
export async function completeTask(ctx: OperationContext, actor: Actor, input: { taskId: number }): Promise<TaskRow> {
  requireRole(actor, 'support');
  const result = await completeStoredTask(ctx.pool, input.taskId, actor.name);
  if (!result) throw new NotFoundError(`no task ${input.taskId}`);
  if (!result.changed)
    throw new ConflictError(
      `task ${result.task.id} is ${result.task.status}; only open tasks can be completed`,
      'not_open',
    );
  await audit(ctx, actor, 'task.complete', `task:${result.task.id}`);
  return result.task;
}
