import type { AnyTriggerDefinition } from './define-trigger.js';
import schedule from './schedule.js';
import webhook from './webhook.js';

/** Every trigger type, by its YAML `type`. */
export const triggers: ReadonlyMap<string, AnyTriggerDefinition> = new Map(
  [webhook, schedule].map((trigger: AnyTriggerDefinition) => [trigger.type, trigger]),
);
