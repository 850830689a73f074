import { parseDuration, DURATION_SCHEMA } from '../../workflows/duration.js';
import { defineTrigger } from './define-trigger.js';

interface PollTriggerConfig {
  connector: string;
  resource: string;
  every?: string | number;
  backfill?: string | number;
  page_size?: number;
}

export default defineTrigger<PollTriggerConfig>({
  type: 'poll',
  summary:
    "Pulls a connector resource over the vendor's API on an interval and runs for each new or changed record. The cursor advances only after a page is stored, so a restart resumes without gaps or duplicates; the first pull goes back `backfill`.",
  schema: {
    type: 'object',
    properties: {
      connector: { type: 'string', description: 'A connector configured under `connectors:`.' },
      resource: { type: 'string', description: 'One of the connector’s pull resources, e.g. orders.' },
      every: { ...DURATION_SCHEMA, description: 'How often to pull (default 5m).' },
      backfill: { ...DURATION_SCHEMA, description: 'How far back the very first pull reaches (default 30d).' },
      page_size: { type: 'integer', minimum: 1, maximum: 250, default: 100 },
    },
    required: ['connector', 'resource'],
    additionalProperties: false,
  },
  examples: [{ connector: 'shopify', resource: 'orders', every: '5m' }],
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
    const resources = Object.keys(connector.pull ?? {});
    if (!resources.includes(config.resource)) {
      return context.fail(
        `connector ${connector.id} has no pull resource "${config.resource}"; known: ${resources.join(', ') || '(none)'}`,
        'resource',
      );
    }
    const everyMs = parseDuration(config.every ?? '5m')!;
    if (everyMs < 1000) return context.fail('every must be at least 1s', 'every');
    return {
      kind: 'poll',
      connector,
      connectorConfig,
      resource: config.resource,
      everyMs,
      backfillMs: parseDuration(config.backfill ?? '30d')!,
      pageSize: config.page_size ?? 100,
    };
  },
});
