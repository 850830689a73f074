import audience from './audience.js';
import type { AnyTriggerDefinition } from './define-trigger.js';
import event from './event.js';
import poll from './poll.js';
import schedule from './schedule.js';
import webhook from './webhook.js';

/** Every trigger type, by its YAML `type`. */
export const triggers: ReadonlyMap<string, AnyTriggerDefinition> = new Map(
  [webhook, schedule, poll, event, audience].map((trigger: AnyTriggerDefinition) => [trigger.type, trigger]),
);
