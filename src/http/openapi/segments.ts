import {
  apiOperation,
  badRequest,
  dateTime,
  integer,
  json,
  notFound,
  nullableDateTime,
  nullableString,
  record,
  ref,
  string,
  type JsonSchema,
  type PathItemObject,
} from './common.js';

/** Fields the customer record gains: its traits, its segments and their history. */
export const customerSegmentProperties: Record<string, JsonSchema> = {
  traits: {
    type: 'object',
    description:
      'Computed traits, current with every change: `orders_count`, `lifetime_value` (in `currency`; `lifetime_values` by currency), `average_order_value`, `first_order_at`, `last_order_at`, `average_days_between_orders` (null below two orders), `last_inbound_at`, `last_contacted_at`, `open_tasks`, `channels`, and those declared under `traits:`.',
  },
  segments: { type: 'array', items: { type: 'string' }, description: 'Ids of the segments the customer is in now.' },
  segment_history: {
    type: 'array',
    items: ref('SegmentStay'),
    description: 'Stays in segments, newest first (at most 200).',
  },
};

export const segmentsSchemas: Record<string, JsonSchema> = {
  SegmentStay: record('A stay of the customer in a segment.', {
    segment_id: { type: 'string' },
    entered_at: dateTime,
    exited_at: nullableDateTime,
    entered_by: { enum: ['change', 'sweep', 'backfill', 'merge', 'removed'] },
    exited_by: { enum: ['change', 'sweep', 'backfill', 'merge', 'removed', null] },
  }),
  Segment: record('A segment declared in workflows.yaml, with its size and its movements of the last 30 days.', {
    id: string,
    name: string,
    description: nullableString,
    when: { type: 'string', description: 'The JSONata condition.' },
    time_based: {
      type: 'boolean',
      description: 'The condition reads the clock: the sweep re-checks members when their answer can change.',
    },
    members: { type: 'integer', minimum: 0 },
    entered_30d: { type: 'integer', minimum: 0 },
    exited_30d: { type: 'integer', minimum: 0 },
  }),
  SegmentList: record('The declared segments.', { segments: { type: 'array', items: ref('Segment') } }),
  SegmentMember: record('A member, by customer id.', {
    id: integer,
    name: nullableString,
    email: nullableString,
    lifecycle_stage: string,
    owner_agent_id: nullableString,
    entered_at: dateTime,
    traits: { type: 'object' },
  }),
  SegmentMemberList: record('A page of members by customer id.', {
    customers: { type: 'array', items: ref('SegmentMember') },
    next_after: { type: ['integer', 'null'], description: 'Pass as `after` for the next page; null on the last page.' },
  }),
};

export const segmentsPaths: Record<string, PathItemObject> = {
  '/api/segments': {
    get: apiOperation({
      operationId: 'listSegments',
      summary: 'The segments with their sizes',
      tags: ['segments'],
      responses: { '200': { description: 'Every declared segment.', content: json(ref('SegmentList')) } },
    }),
  },
  '/api/segments/{id}/members': {
    get: apiOperation({
      operationId: 'listSegmentMembers',
      summary: 'Members of a segment, keyset-paginated by customer id; `Accept: text/csv` exports them all',
      tags: ['segments'],
      parameters: [
        { name: 'id', in: 'path', required: true, description: 'The segment id.', schema: string },
        {
          name: 'after',
          in: 'query',
          description: 'Customer id the page starts after (`next_after` of the previous page).',
          schema: { type: 'integer', minimum: 0 },
        },
        {
          name: 'limit',
          in: 'query',
          description: 'How many to return: default 50, larger values are capped at 500 (ignored for CSV).',
          schema: { type: 'integer', minimum: 0, default: 50 },
        },
      ],
      responses: {
        '200': {
          description: 'A page of members, or with `Accept: text/csv` every member from `after` on.',
          content: {
            ...json(ref('SegmentMemberList')),
            'text/csv': {
              schema: {
                type: 'string',
                description:
                  'Header `id,name,email,lifecycle_stage,owner_agent_id,entered_at`, then one line per member.',
              },
            },
          },
        },
        '400': badRequest,
        '404': notFound('segment'),
      },
    }),
  },
};
