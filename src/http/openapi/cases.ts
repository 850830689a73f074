import { CASE_PRIORITIES, CASE_STATUSES } from '../../operations/cases.js';
import {
  apiOperation,
  bodyTooLarge,
  customerIdParameter,
  dateTime,
  errorResponse,
  idParameter,
  integer,
  json,
  limitParameter,
  notFound,
  nullableDateTime,
  nullableInteger,
  nullableString,
  PUBLIC,
  record,
  ref,
  string,
  type JsonSchema,
  type OperationObject,
  type ParameterObject,
  type PathItemObject,
} from './common.js';

/** OpenAPI: service cases (`/api/cases`) and the public rating links (`/feedback/{token}`). Spread into the document by src/http/openapi.ts. */

const nullableNumber = (description?: string): JsonSchema => ({
  type: ['number', 'null'],
  ...(description ? { description } : {}),
});
const badRequest = errorResponse('A malformed id, filter or body (e.g. an unknown status, an empty note).', [
  'bad_request',
]);
const caseNotFound = notFound('case');
const caseId = idParameter('case');
const jsonBody = (description: string, schema: JsonSchema) => ({ description, required: true, content: json(schema) });
const casesOperation = (operation: Omit<OperationObject, 'security' | 'tags'>): OperationObject =>
  apiOperation({ ...operation, tags: ['cases'] });

const caseSchema = record(
  'A service case: its targets are counted in its pool’s business hours and paused while it waits on the customer.',
  {
    id: integer,
    customer_id: integer,
    run_id: { ...nullableInteger, description: 'The run of the open_case step that opened it.' },
    subject: string,
    channel: { ...nullableString, description: 'Where replies go: sms, whatsapp, email…' },
    source_event: {
      ...nullableString,
      description: 'What opened it: `timeline:<id>` (the inbound message) or `<connector>:<type>:<id>`.',
    },
    priority: { enum: [...CASE_PRIORITIES] },
    status: { enum: [...CASE_STATUSES] },
    pool: string,
    owner_agent_id: nullableString,
    business_hours: {
      ...nullableString,
      description: 'The `business_hours:` the targets are counted in; null: round the clock.',
    },
    first_response_target_ms: nullableNumber(),
    resolution_target_ms: nullableNumber(),
    first_response_due_at: {
      ...nullableDateTime,
      description: 'null once answered, while paused, resolved or closed.',
    },
    resolution_due_at: nullableDateTime,
    first_response_left_ms: nullableNumber('Open time that was left when the case started waiting on the customer.'),
    resolution_left_ms: nullableNumber(),
    first_responded_at: nullableDateTime,
    first_responded_by: nullableString,
    first_response_breached_at: nullableDateTime,
    resolution_breached_at: nullableDateTime,
    opened_at: dateTime,
    status_changed_at: dateTime,
    resolved_at: nullableDateTime,
    closed_at: nullableDateTime,
    reopened_count: integer,
    first_response_time_left_ms: nullableNumber(
      'Open time left to answer (negative: overdue by that much); null once answered.',
    ),
    resolution_time_left_ms: nullableNumber('Open time left to resolve (negative: overdue).'),
    overdue: { type: 'boolean', description: 'An open case with a target past due.' },
  },
);

const caseEntry = record('One entry of a case’s thread, oldest first.', {
  id: integer,
  case_id: integer,
  kind: { enum: ['inbound', 'reply', 'auto_reply', 'note', 'status', 'assignment', 'feedback'] },
  author: {
    ...nullableString,
    description: 'The person (dashboard user, `api-token`); null for the customer and for automation.',
  },
  body: nullableString,
  channel: nullableString,
  timeline_event_id: nullableInteger,
  outbound_message_id: { ...nullableInteger, description: 'The outbound message of a reply or automatic answer.' },
  data: {
    type: 'object',
    description: 'Status changes: `{from, to}`; assignments: `{from, to}`; replies: `{status}`.',
  },
  at: dateTime,
});

const feedback = record('A satisfaction answer (CSAT 1–5), one per message: a second click changes it.', {
  id: integer,
  outbound_message_id: integer,
  case_id: nullableInteger,
  customer_id: nullableInteger,
  kind: { enum: ['csat', 'nps'] },
  score: integer,
  answered_at: dateTime,
  changed_count: { type: 'integer', description: 'How often the answer was changed.' },
});

export const casesSchemas: Record<string, JsonSchema> = {
  Case: caseSchema,
  CaseEntry: caseEntry,
  Feedback: feedback,
  CaseList: record('Cases, overdue and soonest due first.', { cases: { type: 'array', items: ref('Case') } }),
  CaseDetail: {
    ...caseSchema,
    properties: {
      ...(caseSchema.properties as object),
      thread: { type: 'array', items: ref('CaseEntry') },
      feedback: { type: 'array', items: ref('Feedback') },
    },
    required: [...(caseSchema.required as string[]), 'thread', 'feedback'],
  },
  CaseEntryAdded: record('The entry added and the case after it.', {
    entry: { oneOf: [ref('CaseEntry'), { type: 'null' }] },
    case: ref('Case'),
  }),
  CaseReplySent: record('The reply, recorded on the thread with its outbound message.', {
    entry: {
      oneOf: [ref('CaseEntry'), { type: 'null' }],
      description: 'null when this request id was already answered.',
    },
    message: record('The outbound message.', { id: integer, status: string, channel: string }),
    case: ref('Case'),
  }),
  CaseStatusChanged: record('The case after the change.', {
    changed: { type: 'boolean' },
    from: { enum: [...CASE_STATUSES] },
    case: ref('Case'),
    feedback: { oneOf: [record('The satisfaction question sent on resolve.', { status: string }), { type: 'null' }] },
  }),
  CaseFigures: record(
    'The figures of the cases opened in a period, as known now. Unknown (nothing measured) is null, never 0.',
    {
      from: { ...dateTime, description: 'Cases opened from here (included)…' },
      to: { ...dateTime, description: '…to here (excluded).' },
      active_now: { type: 'integer', description: 'Cases open or waiting on the customer now, whenever opened.' },
      opened: { type: 'integer', description: 'Cases opened in the period.' },
      median_first_response_ms: nullableNumber(
        'Median business-hours time (each case’s pool) from opening to the first answer or note of a person.',
      ),
      median_resolution_ms: nullableNumber(
        'Median business-hours time from opening to resolution, waits on the customer included.',
      ),
      first_response_breach_rate: nullableNumber(
        'Share (0–1) of the cases with a first-response target that breached it.',
      ),
      resolution_breach_rate: nullableNumber('Share (0–1) of the cases with a resolution target that breached it.'),
      csat_average: nullableNumber(
        'Average 1–5 satisfaction rating of the resolved cases that were rated (the latest answer per case).',
      ),
      csat_answers: { type: 'integer', description: 'How many resolved cases were rated.' },
    },
  ),
  CaseAssigned: record('The case after the change.', {
    changed: { type: 'boolean' },
    from: nullableString,
    case: ref('Case'),
  }),
};

const feedbackToken: ParameterObject = {
  name: 'token',
  in: 'path',
  required: true,
  description: 'The signed token of one rating link.',
  schema: string,
};

export const casesPaths: Record<string, PathItemObject> = {
  '/api/cases': {
    get: casesOperation({
      operationId: 'listCases',
      summary: 'The case queue: overdue and soonest due first, with the open time left',
      parameters: [
        { name: 'status', in: 'query', description: 'Comma-separated statuses.', schema: string },
        { name: 'owner', in: 'query', description: 'Comma-separated agent ids.', schema: string },
        { name: 'pool', in: 'query', description: 'Comma-separated pools.', schema: string },
        customerIdParameter('cases'),
        limitParameter(100, 500),
      ],
      responses: { '200': { description: 'Cases.', content: json(ref('CaseList')) }, '400': badRequest },
    }),
  },
  '/api/cases/figures': {
    get: casesOperation({
      operationId: 'caseFigures',
      summary:
        'Case figures of a period: open cases, median first response and resolution in business hours, breach rates, CSAT',
      description:
        'The same figures the Cases page shows. Without `to`: until now; without `from`: the 30 days before `to`.',
      parameters: [
        {
          name: 'from',
          in: 'query',
          description: 'ISO 8601 date or date-time; cases opened from then (included).',
          schema: dateTime,
        },
        {
          name: 'to',
          in: 'query',
          description: 'ISO 8601 date or date-time; cases opened before then.',
          schema: dateTime,
        },
      ],
      responses: {
        '200': { description: 'The figures.', content: json(ref('CaseFigures')) },
        '400': errorResponse('A `from` or `to` that is not a date, or `from` not before `to`.', ['bad_request']),
      },
    }),
  },
  '/api/cases/{id}': {
    get: casesOperation({
      operationId: 'getCase',
      summary: 'One case with its thread and satisfaction answers',
      parameters: [caseId],
      responses: {
        '200': { description: 'The case.', content: json(ref('CaseDetail')) },
        '400': badRequest,
        '404': caseNotFound,
      },
    }),
  },
  '/api/cases/{id}/notes': {
    post: casesOperation({
      operationId: 'noteCase',
      summary: 'An internal note (stops the first-response clock; audited)',
      parameters: [caseId],
      requestBody: jsonBody('The note.', record('A note.', { body: { type: 'string', minLength: 1 } })),
      responses: {
        '201': { description: 'Noted.', content: json(ref('CaseEntryAdded')) },
        '400': badRequest,
        '404': caseNotFound,
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/cases/{id}/replies': {
    post: casesOperation({
      operationId: 'replyToCase',
      summary: 'Answer the customer on the case’s channel (stops the first-response clock; audited)',
      description:
        'Goes out through the same outbound path as the reply step (consent, vendor windows, record-before-send). An `Idempotency-Key` header (or `request_id`) makes a retried call one message.',
      parameters: [
        caseId,
        { name: 'Idempotency-Key', in: 'header', description: 'Any string unique to this reply.', schema: string },
      ],
      requestBody: jsonBody('The reply.', {
        type: 'object',
        properties: { body: { type: 'string', minLength: 1 }, request_id: string },
        required: ['body'],
      }),
      responses: {
        '201': {
          description: 'Sent (or recorded as uncertain) and on the thread.',
          content: json(ref('CaseReplySent')),
        },
        '400': badRequest,
        '404': caseNotFound,
        '409': errorResponse('Not sent: the case is closed, or the policy stopped it (no consent, no address).', [
          'case_closed',
          'not_sent',
        ]),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/cases/{id}/status': {
    post: casesOperation({
      operationId: 'setCaseStatus',
      summary:
        'Move a case: waiting on the customer pauses its clocks, open resumes them, resolved and closed stop them (audited)',
      parameters: [caseId],
      requestBody: jsonBody('The new status.', {
        type: 'object',
        properties: {
          status: { enum: [...CASE_STATUSES] },
          reason: string,
          ask_feedback: { type: 'boolean', description: 'On resolve: send the 1–5 satisfaction question.' },
        },
        required: ['status'],
      }),
      responses: {
        '200': { description: 'The case.', content: json(ref('CaseStatusChanged')) },
        '400': badRequest,
        '404': caseNotFound,
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/cases/{id}/assign': {
    post: casesOperation({
      operationId: 'assignCase',
      summary: 'Give the case to a declared agent (audited)',
      parameters: [caseId],
      requestBody: jsonBody('The agent.', { type: 'object', properties: { agent_id: string }, required: ['agent_id'] }),
      responses: {
        '200': { description: 'The case.', content: json(ref('CaseAssigned')) },
        '400': badRequest,
        '404': caseNotFound,
        '413': bodyTooLarge,
      },
    }),
  },
  '/feedback/{token}': {
    get: {
      operationId: 'showRating',
      summary: 'The page of a one-click rating link',
      description:
        'Public: the HMAC-signed token is the credential. Changes nothing (mail scanners fetch links); its script posts the rating at once.',
      tags: ['cases'],
      security: PUBLIC,
      parameters: [feedbackToken],
      responses: {
        '200': { description: 'The chosen rating in a form.', content: { 'text/html': { schema: string } } },
        '404': errorResponse('A forged, altered, malformed or expired token. Nothing changed.', ['not_found']),
      },
    },
    post: {
      operationId: 'rate',
      summary: 'Record the link’s rating: once per message, a later click changes it',
      tags: ['cases'],
      security: PUBLIC,
      parameters: [feedbackToken],
      responses: {
        '200': { description: 'Recorded.', content: { 'text/html': { schema: string } } },
        '404': errorResponse('A forged, altered, malformed or expired token, or no such message. Nothing changed.', [
          'not_found',
        ]),
      },
    },
  },
};
