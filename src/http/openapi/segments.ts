import type { JsonSchema, PathItemObject, Reference, ResponseObject } from '../openapi.js';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const nullableDateTime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
const record = (description: string, properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties).filter((name) => !optional.includes(name)),
  additionalProperties: false,
});
const error = (description: string, codes: string[]): ResponseObject => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } } } },
});
const common: { security: Array<Record<string, string[]>>; tags: string[] } = { security: [{ apiToken: [] }], tags: ['segments'] };
const standard: Record<string, Reference> = { '401': { $ref: '#/components/responses/Unauthorized' }, '500': { $ref: '#/components/responses/Internal' } };

/** Fields the customer record gains: its traits, its segments and their history. */
export const customerSegmentProperties: Record<string, JsonSchema> = {
  traits: {
    type: 'object',
    description:
      'Computed traits, current with every change: `orders_count`, `lifetime_value` (in `currency`; `lifetime_values` by currency), `average_order_value`, `first_order_at`, `last_order_at`, `average_days_between_orders` (null below two orders), `last_inbound_at`, `last_contacted_at`, `open_tasks`, `channels`, and those declared under `traits:`.',
  },
  segments: { type: 'array', items: { type: 'string' }, description: 'Ids of the segments the customer is in now.' },
  segment_history: { type: 'array', items: ref('SegmentStay'), description: 'Stays in segments, newest first (at most 200).' },
};

export const segmentsSchemas: Record<string, JsonSchema> = {
  SegmentStay: record('A stay of the customer in a segment.', {
    segment_id: { type: 'string' },
    entered_at: { type: 'string', format: 'date-time' },
    exited_at: nullableDateTime,
    entered_by: { enum: ['change', 'sweep', 'backfill', 'merge', 'removed'] },
    exited_by: { enum: ['change', 'sweep', 'backfill', 'merge', 'removed', null] },
  }),
  Segment: record('A segment declared in workflows.yaml, with its size and its movements of the last 30 days.', {
    id: { type: 'string' },
    name: { type: 'string' },
    description: { type: ['string', 'null'] },
    when: { type: 'string', description: 'The JSONata condition.' },
    time_based: { type: 'boolean', description: 'The condition reads the clock: the sweep re-checks members when their answer can change.' },
    members: { type: 'integer', minimum: 0 },
    entered_30d: { type: 'integer', minimum: 0 },
    exited_30d: { type: 'integer', minimum: 0 },
  }),
  SegmentList: record('The declared segments.', { segments: { type: 'array', items: ref('Segment') } }),
  SegmentMember: record('A member, by customer id.', {
    id: { type: 'integer' },
    name: { type: ['string', 'null'] },
    email: { type: ['string', 'null'] },
    lifecycle_stage: { type: 'string' },
    owner_agent_id: { type: ['string', 'null'] },
    entered_at: { type: 'string', format: 'date-time' },
    traits: { type: 'object' },
  }),
  SegmentMemberList: record('A page of members by customer id.', {
    customers: { type: 'array', items: ref('SegmentMember') },
    next_after: { type: ['integer', 'null'], description: 'Pass as `after` for the next page; null on the last page.' },
  }),
};

export const segmentsPaths: Record<string, PathItemObject> = {
  '/api/segments': {
    get: {
      ...common,
      operationId: 'listSegments',
      summary: 'The segments with their sizes',
      responses: { '200': { description: 'Every declared segment.', content: { 'application/json': { schema: ref('SegmentList') } } }, ...standard },
    },
  },
  '/api/segments/{id}/members': {
    get: {
      ...common,
      operationId: 'listSegmentMembers',
      summary: 'Members of a segment, keyset-paginated by customer id; `Accept: text/csv` exports them all',
      parameters: [
        { name: 'id', in: 'path', required: true, description: 'The segment id.', schema: { type: 'string' } },
        { name: 'after', in: 'query', description: 'Customer id the page starts after (`next_after` of the previous page).', schema: { type: 'integer', minimum: 0 } },
        { name: 'limit', in: 'query', description: 'How many to return: default 50, larger values are capped at 500 (ignored for CSV).', schema: { type: 'integer', minimum: 0, default: 50 } },
      ],
      responses: {
        '200': {
          description: 'A page of members, or with `Accept: text/csv` every member from `after` on.',
          content: {
            'application/json': { schema: ref('SegmentMemberList') },
            'text/csv': { schema: { type: 'string', description: 'Header `id,name,email,lifecycle_stage,owner_agent_id,entered_at`, then one line per member.' } },
          },
        },
        '400': error('A malformed `after` or `limit`.', ['bad_request']),
        '404': error('No such segment.', ['not_found']),
        ...standard,
      },
    },
  },
};
