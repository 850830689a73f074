import { parseDuration, DURATION_SCHEMA } from '../../workflows/duration.js';
import { defineTrigger } from './define-trigger.js';
import { checkCron } from './schedule.js';

interface AudienceTriggerConfig {
  cron: string;
  timezone?: string;
  no_order_for?: string | number;
  date_attribute?: string;
  batch_size?: number;
}

const MAX_BATCH = 1000;

export default defineTrigger<AudienceTriggerConfig>({
  type: 'audience',
  summary:
    'On a cron schedule, selects customers from the record and runs once for each (`$customer`, `$owner` set), never twice for the same customer and day: `no_order_for: 90d` (win-back: the newest order.* timeline entry is older; once per lapse) or `date_attribute: birthday` (attributes.birthday, `YYYY-MM-DD` or `MM-DD`, is today in `timezone`). Customers are read in batches of `batch_size`.',
  schema: {
    type: 'object',
    properties: {
      cron: { type: 'string', description: 'When to look, e.g. `0 9 * * *` (every day at 9).' },
      timezone: { type: 'string', description: 'IANA time zone of the cron and of "today"; default UTC.' },
      no_order_for: {
        ...DURATION_SCHEMA,
        description: 'Select customers whose last order is older than this, e.g. 90d.',
      },
      date_attribute: {
        type: 'string',
        description: 'Select customers whose attribute of this name (a date) is today, e.g. birthday.',
      },
      batch_size: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_BATCH,
        default: 500,
        description: 'Customers read per query.',
      },
    },
    required: ['cron'],
    additionalProperties: false,
  },
  examples: [
    { cron: '0 9 * * *', timezone: 'Europe/Paris', no_order_for: '90d' },
    { cron: '0 8 * * *', date_attribute: 'birthday' },
  ],
  compile: (config, context) => {
    const { cron, timezone } = checkCron(config, context);
    if ((config.no_order_for === undefined) === (config.date_attribute === undefined)) {
      return context.fail('an audience trigger selects with exactly one of `no_order_for` and `date_attribute`');
    }
    const audience =
      config.no_order_for !== undefined
        ? { kind: 'no_order_for' as const, olderThanMs: parseDuration(config.no_order_for)! }
        : { kind: 'date_attribute' as const, attribute: config.date_attribute! };
    return { kind: 'audience', cron, timezone: timezone ?? 'UTC', audience, batchSize: config.batch_size ?? 500 };
  },
});
