import { ENGINE_EVENT_TYPES } from '../../store/engine-events.js';
import { defineTrigger } from './define-trigger.js';

interface EventTriggerConfig {
  on: string | string[];
  when?: string;
}

export default defineTrigger<EventTriggerConfig>({
  type: 'event',
  summary:
    'Runs once per engine event of the listed types (customer.created, lead.assigned, task.due...), so workflows chain without HTTP loops. `$` is the event data, `$customer` the customer (loaded before the first step, with `$owner`). A chain deeper than `CRMFLOW_EVENT_CHAIN_LIMIT`, or one that comes back to a workflow already in it, does not run: it is recorded as a failed run ("event chain limit").',
  schema: {
    type: 'object',
    properties: {
      on: {
        anyOf: [
          { enum: [...ENGINE_EVENT_TYPES] },
          { type: 'array', items: { enum: [...ENGINE_EVENT_TYPES] }, minItems: 1 },
        ],
        description: `Engine event type(s): ${ENGINE_EVENT_TYPES.join(', ')}.`,
      },
      when: { type: 'string', description: 'JSONata condition over the event data (`$customer`, `$event` bound).' },
    },
    required: ['on'],
    additionalProperties: false,
  },
  examples: [
    { on: 'customer.created' },
    { on: ['lead.assigned', 'lifecycle.changed'], when: "to = 'customer' or agent_id = 'alice'" },
  ],
  compile: (config, context) => ({
    kind: 'event',
    on: Array.isArray(config.on) ? config.on : [config.on],
    when: config.when === undefined ? undefined : context.expression('when', config.when),
  }),
});
