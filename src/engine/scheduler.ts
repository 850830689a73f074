import cron, { type ScheduledTask } from 'node-cron';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../workflows/load.js';
import { jobIds, type JobData } from './queues.js';

/**
 * Fires schedule triggers. Every crmflow process may run this: each tick becomes one job whose id is derived from
 * the workflow and the tick time, so BullMQ keeps one job per tick however many processes fire it.
 */
export function startScheduler(config: LoadedConfig, queue: Queue<JobData>, logger: Logger): { stop: () => Promise<void> } {
  const tasks: ScheduledTask[] = [];
  for (const workflow of config.workflows) {
    const trigger = workflow.trigger;
    if (!workflow.enabled || trigger.kind !== 'schedule') continue;
    const task = cron.schedule(
      trigger.cron,
      async (context) => {
        const tick = new Date(Math.floor(context.date.getTime() / 1000) * 1000).toISOString();
        try {
          await queue.add('schedule', { kind: 'schedule', workflow: workflow.id, tick }, { jobId: jobIds.schedule(workflow.id, tick) });
        } catch (error) {
          logger.error({ workflow: workflow.id, tick, err: error }, 'could not enqueue a scheduled run');
        }
      },
      { timezone: trigger.timezone, name: workflow.id, noOverlap: false },
    );
    tasks.push(task);
  }
  return { stop: async () => void (await Promise.all(tasks.map((task) => task.destroy()))) };
}
