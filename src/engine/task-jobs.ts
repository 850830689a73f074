import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from '../store/pool.js';
import { emitTaskEvent, listUnannouncedTaskPhases, type TaskPhase } from '../store/tasks.js';
import { enqueueEngineEvents } from './event-dispatch.js';
import { jobIds, jobPresence, type JobData } from './queues.js';

/**
 * Schedules a task's two announcements as delayed jobs with ids derived from the task, so scheduling again (a retried
 * step, the reconciler) never doubles them.
 */
export async function scheduleTaskJobs(
  queue: Queue<JobData>,
  task: { id: number; dueAt: Date; overdueAt: Date },
  now = Date.now(),
): Promise<void> {
  const at: Record<TaskPhase, Date> = { due: task.dueAt, overdue: task.overdueAt };
  await queue.addBulk(
    (['due', 'overdue'] as const).map((phase) => ({
      name: 'task',
      data: { kind: 'task', taskId: task.id, phase },
      opts: { jobId: jobIds.task(task.id, phase), delay: Math.max(0, at[phase].getTime() - now) },
    })),
  );
}

/** A task's time has come: emit task.due / task.overdue (once, and only while the task is open) and queue it. */
export async function processTaskPhase(
  pool: Pool,
  queue: Queue<JobData>,
  taskId: number,
  phase: TaskPhase,
): Promise<void> {
  await enqueueEngineEvents(queue, [await emitTaskEvent(pool, taskId, phase)]);
}

/**
 * Re-creates the jobs of task phases whose time passed `graceMs` ago without an announcement and whose job Redis no
 * longer has. Returns how many were re-created.
 */
export async function reconcileTaskJobs(
  pool: Pool,
  queue: Queue<JobData>,
  redis: Redis,
  graceMs: number,
): Promise<number> {
  let total = 0;
  let afterId = 0;
  const cutoff = new Date(Date.now() - graceMs);
  for (;;) {
    const { phases, lastId } = await listUnannouncedTaskPhases(pool, cutoff, 500, afterId);
    if (lastId === undefined) return total;
    const states = await jobPresence(
      redis,
      queue,
      phases.map((task) => jobIds.task(task.id, task.phase)),
    );
    const lost = phases.filter((_, i) => states[i] === 'missing');
    await queue.addBulk(
      lost.map((task) => ({
        name: 'task',
        data: { kind: 'task', taskId: task.id, phase: task.phase },
        opts: { jobId: jobIds.task(task.id, task.phase) },
      })),
    );
    total += lost.length;
    afterId = lastId;
  }
}
