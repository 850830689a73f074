import { ajv } from '../../workflows/ajv.js';

const stringOrList = {
  anyOf: [{ type: 'null' }, { type: 'string' }, { type: 'array', items: { type: ['string', 'null'] } }],
};
const optionalText = { type: ['string', 'null'] };

/**
 * The unified record a mapping produces. Only these fields are interpreted; others are kept on the run and
 * available to templates as `$record.<field>`.
 */
export const RECORD_SCHEMA = {
  type: 'object',
  properties: {
    name: optionalText,
    first_name: optionalText,
    last_name: optionalText,
    language: optionalText,
    country: optionalText,
    email: stringOrList,
    phone: stringOrList,
    identities: {
      type: ['array', 'null'],
      items: {
        type: 'object',
        properties: { kind: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' }, value: { type: ['string', 'number'] } },
        required: ['kind', 'value'],
      },
    },
    attributes: { type: ['object', 'null'] },
    lifecycle_stage: {
      enum: ['lead', 'opportunity', 'customer', 'churned', null],
      description: 'Moves the customer forward (lead → opportunity → customer), never back.',
    },
    timeline: {
      type: ['object', 'null'],
      properties: {
        type: { type: 'string' },
        external_id: { type: 'string', minLength: 1 },
        occurred_at: { type: 'string' },
        updated_at: optionalText,
        summary: optionalText,
        amount: {
          type: ['number', 'null'],
          description:
            'What the entry is worth as a purchase (a paid order net of refunds, a paid invoice); null when it is not one.',
        },
        currency: optionalText,
      },
      required: ['type', 'external_id', 'occurred_at'],
    },
  },
} as const;

export const validateRecord = ajv.compile(RECORD_SCHEMA);

export function recordErrors(): string {
  return (validateRecord.errors ?? []).map((error) => `record${error.instancePath} ${error.message}`).join('; ');
}
