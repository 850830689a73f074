import cron from 'node-cron';
import { defineTrigger, type TriggerCompileContext } from './define-trigger.js';

export interface ScheduleTriggerConfig {
  cron: string;
  timezone?: string;
}

export default defineTrigger<ScheduleTriggerConfig>({
  type: 'schedule',
  summary: 'Runs on a cron schedule (seconds optional), once per tick however many crmflow processes run.',
  schema: {
    type: 'object',
    properties: {
      cron: { type: 'string', description: 'Cron expression, e.g. `0 9 * * 1-5`.' },
      timezone: { type: 'string', description: 'IANA time zone, e.g. Europe/Paris; default the server time zone.' },
    },
    required: ['cron'],
    additionalProperties: false,
  },
  examples: [{ cron: '0 9 * * 1-5', timezone: 'Europe/Paris' }],
  compile: (config, context) => ({ kind: 'schedule', ...checkCron(config, context) }),
});

/** Checks a trigger's `cron` and optional `timezone` (shared by the cron-driven triggers). */
export function checkCron(
  config: ScheduleTriggerConfig,
  context: TriggerCompileContext,
): { cron: string; timezone?: string } {
  if (!cron.validate(config.cron)) return context.fail(`invalid cron expression "${config.cron}"`, 'cron');
  if (config.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: config.timezone });
    } catch {
      return context.fail(`unknown time zone "${config.timezone}"`, 'timezone');
    }
  }
  return { cron: config.cron, timezone: config.timezone };
}
