import type { AnyStepDefinition } from '../engine/steps/define-step.js';
import { steps as stepRegistry } from '../engine/steps/registry.js';
import type { AnyTriggerDefinition } from '../engine/triggers/define-trigger.js';
import { triggers as triggerRegistry } from '../engine/triggers/registry.js';
import { connectors as connectorRegistry } from '../connectors/registry.js';
import { DURATION_SCHEMA } from './duration.js';
import { PIPELINES_SCHEMA } from './pipelines.js';
import { SEGMENTS_SCHEMA, TRAITS_SCHEMA } from './segments.js';

/** Fields every step has besides its own. */
export const COMMON_STEP_FIELDS = ['type', 'id', 'name', 'if', 'timeout', 'on_error'];

const COMMON_STEP_PROPERTIES = {
  id: {
    type: 'string',
    pattern: '^[a-z][a-z0-9_]*$',
    description:
      'Lower-case letters, digits and _, starting with a letter; names the output as `$steps.<id>`; default the type.',
  },
  name: { type: 'string', description: 'Shown on runs.' },
  if: { type: 'string', description: 'JSONata condition; the step is skipped when false.' },
  timeout: { ...DURATION_SCHEMA, description: 'Step time limit (default 30s).' },
};

const ID = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };

/** One mapping test case (`crmflow test`), in workflows.yaml under `mapping_tests` and in each connector's `mapping-cases.yaml`. */
export const MAPPING_CASE_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    connector: { type: 'string', description: 'Connector id.' },
    event: { type: 'string', description: 'Event type of the connector.' },
    input: {
      type: 'object',
      description:
        "The vendor payload inline, or `{ file: <JSON file relative to this YAML file> }`, or `{ sample: true }` for the event's declared sample.",
    },
    expect: {
      type: 'object',
      description:
        'Fields the mapped record must have: objects are compared field by field, arrays and values must be equal. Fields not given are not checked.',
    },
    expr: { type: 'string', description: 'JSONata to test instead of the configured (or default) mapping.' },
  },
  required: ['name', 'connector', 'event', 'input', 'expect'],
  additionalProperties: false,
} as const;

/** Structure of workflows.yaml; each trigger's and step's own fields are checked with their own schemas. */
export function topLevelSchema(): object {
  return {
    type: 'object',
    properties: {
      version: { const: 1 },
      identity: {
        type: 'object',
        description: 'How identities link people into one customer.',
        properties: {
          default_region: {
            type: 'string',
            pattern: '^[A-Z]{2}$',
            description: 'Region (ISO 3166 alpha-2, e.g. US) for phone numbers without a country code.',
          },
          merge_on: {
            type: 'array',
            items: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' },
            description:
              'Identity kinds that may merge two existing customers, highest priority first; other kinds only attach. Default: every kind but phone (a phone attaches, never merges).',
          },
          caps: {
            type: 'object',
            additionalProperties: { type: 'integer', minimum: 1 },
            description:
              'Most identities of a kind per customer (default email 5, phone 3); a merge over a cap becomes a suggestion.',
          },
          blocked: {
            type: 'object',
            additionalProperties: { type: 'array', items: { type: 'string' } },
            description:
              'Values that never link people, per kind (`*` matches anything), added to the default placeholders.',
          },
          default_blocklist: {
            type: 'boolean',
            default: true,
            description: 'Also block common placeholders (test@test.com, noreply@…, one-digit phones).',
          },
          fold_gmail: {
            type: 'boolean',
            default: false,
            description:
              'Treat Gmail addresses that differ only by dots or a +tag in the local part (and googlemail.com) as one email.',
          },
          suggest_duplicates: {
            description:
              'The scheduled duplicate finder (similar names plus a shared email local part or phone suffix); false turns it off.',
            oneOf: [
              { const: false },
              {
                type: 'object',
                properties: {
                  every: { ...DURATION_SCHEMA, description: 'How often it runs (default 1h).' },
                  min_score: {
                    type: 'number',
                    minimum: 0,
                    maximum: 1,
                    default: 0.9,
                    description: 'Lowest score (Jaro–Winkler similarity of the names) suggested.',
                  },
                },
                additionalProperties: false,
              },
            ],
          },
        },
        additionalProperties: false,
      },
      connectors: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          properties: {
            secrets: { type: 'object' },
            mappings: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'JSONata overrides of default mappings, by event type.',
            },
            default_region: {
              type: 'string',
              pattern: '^[A-Z]{2}$',
              description:
                "Region (ISO 3166 alpha-2, e.g. US) for this connector's phone numbers without a country code (over identity.default_region).",
            },
          },
          required: ['secrets'],
          additionalProperties: false,
        },
      },
      agents: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: ID,
            name: { type: 'string' },
            email: { type: 'string', format: 'email' },
            phone: { type: 'string' },
            time_zone: { type: 'string', description: 'IANA zone of working_hours, e.g. Europe/Paris.' },
            working_hours: {
              type: 'object',
              description:
                'Outside these hours the agent gets no new leads. `to` before `from` is a night shift ending the next day (it belongs to the day it starts).',
              properties: {
                days: {
                  type: 'array',
                  items: { enum: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] },
                  minItems: 1,
                },
                from: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' },
                to: { type: 'string', pattern: '^([01]\\d|2[0-4]):[0-5]\\d$' },
              },
              required: ['days', 'from', 'to'],
              additionalProperties: false,
            },
            capacity: { type: 'integer', minimum: 1, description: 'Most open leads the agent owns at once.' },
            languages: {
              type: 'array',
              items: { type: 'string' },
              description:
                'Language tags the agent speaks (`es`, `pt-BR`): assign_lead offers a lead in one of them to these agents first (its `language` option).',
            },
            skills: { type: 'array', items: { type: 'string' } },
            available: { type: 'boolean', default: true },
          },
          required: ['id', 'name'],
          additionalProperties: false,
        },
      },
      pools: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          properties: {
            agents: {
              type: 'array',
              minItems: 1,
              items: {
                anyOf: [
                  { type: 'string' },
                  {
                    type: 'object',
                    properties: { id: { type: 'string' }, weight: { type: 'integer', minimum: 1 } },
                    required: ['id', 'weight'],
                    additionalProperties: false,
                  },
                ],
              },
            },
            business_hours: {
              type: 'string',
              description:
                'A `business_hours:` name: the targets of cases in this pool are counted in those hours (default: round the clock).',
            },
            lead: {
              type: 'string',
              description: 'An agent id: the pool lead, told about breached case targets (`pool_lead` of case events).',
            },
          },
          required: ['agents'],
          additionalProperties: false,
        },
      },
      business_hours: {
        type: 'object',
        description: 'Named opening hours, used by `reply` with `hours: <name>`.',
        additionalProperties: {
          type: 'object',
          properties: {
            time_zone: { type: 'string', description: 'IANA zone the hours are in, e.g. Europe/Madrid.' },
            open: {
              type: 'object',
              description:
                'Days (`mon-fri`, `sat`, `sat,sun`, `daily`) to a range `"09:00-18:00"` or a list of ranges; a range past midnight continues the next day.',
              additionalProperties: {
                anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
              },
              minProperties: 1,
            },
            holidays: {
              type: 'array',
              items: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
              description: 'Local dates closed all day, YYYY-MM-DD.',
            },
          },
          required: ['time_zone', 'open'],
          additionalProperties: false,
        },
      },
      quiet_hours: {
        type: 'object',
        description: 'Named quiet hours, used by `reply` with `quiet_hours: <name>` (e.g. no SMS at night).',
        additionalProperties: {
          type: 'object',
          properties: {
            from: {
              type: 'string',
              pattern: '^([01]\\d|2[0-3]):[0-5]\\d$',
              description: 'Local time the quiet hours start, HH:MM.',
            },
            to: { type: 'string', pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'Local time they end, HH:MM.' },
            time_zone: {
              type: 'string',
              description:
                "An IANA zone, `customer` (the customer's `attributes.time_zone`) or `owner` (the owner agent's `time_zone`).",
            },
            default_time_zone: {
              type: 'string',
              description: 'Used when the customer or owner has no time zone; required with `customer` and `owner`.',
            },
          },
          required: ['from', 'to', 'time_zone'],
          additionalProperties: false,
        },
      },
      pipelines: PIPELINES_SCHEMA,
      reports: {
        type: 'object',
        description:
          'How KPI reports (`GET /api/reports/kpis`, the Reports page) read the calendar and what leads cost.',
        properties: {
          time_zone: {
            type: 'string',
            description: 'IANA zone of report periods and cohort months, e.g. Europe/Madrid. Default UTC.',
          },
          marketing_spend: {
            type: 'array',
            description: 'Spend per month and lead source: gives cost per lead and customer acquisition cost.',
            items: {
              type: 'object',
              properties: {
                month: {
                  type: 'string',
                  pattern: '^\\d{4}-(0[1-9]|1[0-2])$',
                  description: 'YYYY-MM, in the reports time zone.',
                },
                source: {
                  type: 'string',
                  minLength: 1,
                  description:
                    "A lead source (the customer's `lead_source` attribute, else the connector id of their first event).",
                },
                amount: { type: 'number', minimum: 0 },
                currency: { type: 'string', pattern: '^[A-Z]{3}$' },
              },
              required: ['month', 'source', 'amount', 'currency'],
              additionalProperties: false,
            },
          },
        },
        additionalProperties: false,
      },
      traits: TRAITS_SCHEMA,
      segments: SEGMENTS_SCHEMA,
      workflows: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: ID,
            name: { type: 'string' },
            description: { type: 'string' },
            enabled: { type: 'boolean', default: true },
            trigger: { type: 'object', properties: { type: { type: 'string' } }, required: ['type'] },
            steps: {
              type: 'array',
              minItems: 1,
              items: { type: 'object', properties: { type: { type: 'string' } }, required: ['type'] },
            },
          },
          required: ['id', 'trigger', 'steps'],
          additionalProperties: false,
        },
      },
      mapping_tests: {
        type: 'array',
        items: MAPPING_CASE_SCHEMA,
        description: 'Mapping tests run by `crmflow test`: input payload → expected record fields.',
      },
    },
    additionalProperties: false,
  };
}

export function stepFieldsSchema(definition: AnyStepDefinition): object {
  return {
    type: 'object',
    properties: {
      type: { const: definition.type },
      ...COMMON_STEP_PROPERTIES,
      on_error: {
        enum: ['stop', 'continue'],
        default: definition.onError,
        description: `What a failure of this step does. stop: the run fails (retried while the error may heal). continue: the failure is recorded on the step and the run goes on at once, not retried. Default for ${definition.type}: ${definition.onError}.`,
      },
      ...definition.schema.properties,
    },
    required: ['type', ...(definition.schema.required ?? [])],
    additionalProperties: false,
  };
}

export function triggerFieldsSchema(definition: AnyTriggerDefinition): object {
  return {
    type: 'object',
    properties: { type: { const: definition.type }, ...definition.schema.properties },
    required: ['type', ...(definition.schema.required ?? [])],
    additionalProperties: false,
  };
}

/** One variant per registered type, chosen by `type` (what editors need for completion). */
function discriminated(
  definitions: Array<{ type: string; summary: string }>,
  fields: (definition: never) => object,
): object {
  return {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: definitions.map((definition) => definition.type) } },
    allOf: definitions.map((definition) => ({
      if: { properties: { type: { const: definition.type } } },
      then: { description: definition.summary, ...fields(definition as never) },
    })),
  };
}

/**
 * The complete JSON Schema of workflows.yaml for editors (`crmflow schema`), assembled from the same registries
 * and schemas the loader validates with.
 */
export function editorSchema(): Record<string, unknown> {
  const base = topLevelSchema() as { properties: Record<string, any> };
  const properties = structuredClone(base.properties);
  properties.workflows.items.properties.trigger = discriminated([...triggerRegistry.values()], triggerFieldsSchema);
  properties.workflows.items.properties.steps.items = discriminated([...stepRegistry.values()], stepFieldsSchema);
  properties.connectors = {
    type: 'object',
    properties: Object.fromEntries(
      [...connectorRegistry.values()].map((connector) => [
        connector.id,
        {
          description: connector.summary,
          type: 'object',
          properties: {
            secrets: {
              type: 'object',
              properties: Object.fromEntries(
                Object.entries(connector.secrets).map(([name, spec]) => [
                  name,
                  { type: 'string', description: spec.description },
                ]),
              ),
              required: Object.entries(connector.secrets)
                .filter(([, spec]) => !spec.optional)
                .map(([name]) => name),
              additionalProperties: false,
            },
            mappings: {
              type: 'object',
              properties: Object.fromEntries(
                Object.entries(connector.events).map(([type, event]) => [
                  type,
                  { type: 'string', description: event.summary },
                ]),
              ),
              additionalProperties: false,
            },
          },
          required: ['secrets'],
          additionalProperties: false,
        },
      ]),
    ),
    additionalProperties: false,
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://crmflow.dev/schemas/workflows.schema.json',
    title: 'crmflow workflows.yaml',
    type: 'object',
    properties,
    additionalProperties: false,
  };
}
