import cron, { type ScheduledTask } from 'node-cron';
import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../workflows/load.js';
import { jobIds, type JobData } from './queues.js';
import { syncDealStaleCheck } from './deal-staleness.js';
import { syncRunRetention } from './run-retention.js';

/**
 * Fires schedule triggers. Every crmflow process may run this: each tick becomes one job whose id is derived from
 * the workflow and the tick time, so BullMQ keeps one job per tick however many processes fire it. Poll triggers and the
 * duplicate finder are BullMQ job schedulers (one per workflow, kept in Redis, so they survive restarts and fire once per interval),
 * and so is run retention (`runRetentionDays`: undefined turns it off).
 */
export async function startScheduler(
  config: LoadedConfig,
  queue: Queue<JobData>,
  logger: Logger,
  runRetentionDays?: number,
): Promise<{ stop: () => Promise<void> }> {
  await syncPollSchedulers(config, queue);
  await syncRunRetention(queue, runRetentionDays);
  await syncDuplicateFinder(config, queue);
  await syncDealStaleCheck(config, queue);
  const tasks: ScheduledTask[] = [];
  for (const workflow of config.workflows) {
    const trigger = workflow.trigger;
    // Audience triggers tick like schedules; the worker selects their customers (src/engine/audience-runs.ts).
    if (!workflow.enabled || (trigger.kind !== 'schedule' && trigger.kind !== 'audience')) continue;
    const task = cron.schedule(
      trigger.cron,
      async (context) => {
        const tick = new Date(Math.floor(context.date.getTime() / 1000) * 1000).toISOString();
        try {
          await queue.add(
            'schedule',
            { kind: 'schedule', workflow: workflow.id, tick },
            { jobId: jobIds.schedule(workflow.id, tick) },
          );
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

/** The duplicate finder runs every `identity.suggest_duplicates.every`, once across all processes; off when turned off. */
async function syncDuplicateFinder(config: LoadedConfig, queue: Queue<JobData>): Promise<void> {
  if (!config.duplicateFinder) await queue.removeJobScheduler(jobIds.duplicateFinder);
  else
    await queue.upsertJobScheduler(
      jobIds.duplicateFinder,
      { every: config.duplicateFinder.everyMs },
      { name: 'suggest-duplicates', data: { kind: 'suggest-duplicates' } },
    );
}

/** Creates or updates a job scheduler per enabled poll workflow and removes those of workflows that are gone. */
async function syncPollSchedulers(config: LoadedConfig, queue: Queue<JobData>): Promise<void> {
  const wanted = new Set<string>();
  for (const workflow of config.workflows) {
    if (!workflow.enabled || workflow.trigger.kind !== 'poll') continue;
    const id = jobIds.pollScheduler(workflow.id);
    wanted.add(id);
    await queue.upsertJobScheduler(
      id,
      { every: workflow.trigger.everyMs },
      { name: 'pull', data: { kind: 'pull', workflow: workflow.id } },
    );
  }
  for (const scheduler of await queue.getJobSchedulers()) {
    if (scheduler.key.startsWith(jobIds.pollScheduler('')) && !wanted.has(scheduler.key))
      await queue.removeJobScheduler(scheduler.key);
  }
}
