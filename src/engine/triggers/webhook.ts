import { defineTrigger } from './define-trigger.js';

interface WebhookTriggerConfig {
  connector: string;
  event: string | string[];
  when?: string;
}

export default defineTrigger<WebhookTriggerConfig>({
  type: 'webhook',
  summary:
    'Runs for each event a connector receives at /webhooks/<connector> whose type is listed (`*` for all) and whose optional JSONata `when` is true.',
  schema: {
    type: 'object',
    properties: {
      connector: { type: 'string', description: 'A connector configured under `connectors:`.' },
      event: {
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
        description: 'Event type(s), e.g. order.created, or `*`.',
      },
      when: { type: 'string', description: 'JSONata condition over the payload.' },
    },
    required: ['connector', 'event'],
    additionalProperties: false,
  },
  examples: [{ connector: 'shopify', event: 'order.created' }],
  compile: (config, context) => {
    const connector = context.connectors.get(config.connector);
    if (!connector)
      return context.fail(
        `unknown connector "${config.connector}"; known: ${[...context.connectors.keys()].join(', ')}`,
        'connector',
      );
    const connectorConfig = context.connectorConfigs[config.connector];
    if (!connectorConfig)
      return context.fail(`connector "${config.connector}" is not configured under connectors:`, 'connector');
    const known = Object.keys(connector.events);
    const requested = Array.isArray(config.event) ? config.event : [config.event];
    const eventTypes = requested.includes('*') ? known : requested;
    for (const type of eventTypes) {
      if (!known.includes(type))
        return context.fail(`connector ${connector.id} has no event "${type}"; known: ${known.join(', ')}`, 'event');
    }
    return {
      kind: 'webhook',
      connector,
      connectorConfig,
      eventTypes,
      when: config.when === undefined ? undefined : context.expression('when', config.when),
    };
  },
});
