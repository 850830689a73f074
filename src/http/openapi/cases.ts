import { CASE_PRIORITIES, CASE_STATUSES } from '../../store/cases.js';
import type { JsonSchema, OperationObject, ParameterObject, PathItemObject, ResponseObject } from '../openapi.js';

// Service cases (`/api/cases`) and the public rating links (`/feedback/{token}`). Schemas as the handlers answer.

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const nullable = (type: string, description?: string): JsonSchema => ({ type: [type, 'null'], ...(description ? { description } : {}) });
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const instantParam: JsonSchema = { type: 'string', format: 'date-time' };
const nullableDateTime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };

function record(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', description, properties, required: Object.keys(properties), additionalProperties: false };
}

const error = (description: string, codes: string[]): ResponseObject => ({
  description,
  content: json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } }),
});
const badRequest = error('A malformed id, filter or body (e.g. an unknown status, an empty note).', ['bad_request']);
const notFound = error('No such case.', ['not_found']);
const bodyTooLarge = error('The request body is larger than the 100 kB API limit.', ['payload_too_large']);

function apiOperation(operation: Omit<OperationObject, 'security' | 'responses' | 'tags'> & { responses: Record<string, ResponseObject> }): OperationObject {
  return {
    ...operation,
    tags: ['cases'],
    security: [{ apiToken: [] }],
    responses: { ...operation.responses, '401': { $ref: '#/components/responses/Unauthorized' }, '500': { $ref: '#/components/responses/Internal' } },
  };
}

const caseId: ParameterObject = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The case id (a positive integer; anything else is answered 400).',
  schema: { type: 'integer', minimum: 1 },
};
const jsonBody = (description: string, schema: JsonSchema) => ({ description, required: true, content: json(schema) });

const caseSchema = record('A service case: its targets are counted in its pool’s business hours and paused while it waits on the customer.', {
  id: { type: 'integer' },
  customer_id: { type: 'integer' },
  run_id: nullable('integer', 'The run of the open_case step that opened it.'),
  subject: { type: 'string' },
  channel: nullable('string', 'Where replies go: sms, whatsapp, email…'),
  source_event: nullable('string', 'What opened it: `timeline:<id>` (the inbound message) or `<connector>:<type>:<id>`.'),
  priority: { enum: [...CASE_PRIORITIES] },
  status: { enum: [...CASE_STATUSES] },
  pool: { type: 'string' },
  owner_agent_id: nullable('string'),
  business_hours: nullable('string', 'The `business_hours:` the targets are counted in; null: round the clock.'),
  first_response_target_ms: nullable('number'),
  resolution_target_ms: nullable('number'),
  first_response_due_at: { ...nullableDateTime, description: 'null once answered, while paused, resolved or closed.' },
  resolution_due_at: nullableDateTime,
  first_response_left_ms: nullable('number', 'Open time that was left when the case started waiting on the customer.'),
  resolution_left_ms: nullable('number'),
  first_responded_at: nullableDateTime,
  first_responded_by: nullable('string'),
  first_response_breached_at: nullableDateTime,
  resolution_breached_at: nullableDateTime,
  opened_at: dateTime,
  status_changed_at: dateTime,
  resolved_at: nullableDateTime,
  closed_at: nullableDateTime,
  reopened_count: { type: 'integer' },
  first_response_time_left_ms: nullable('number', 'Open time left to answer (negative: overdue by that much); null once answered.'),
  resolution_time_left_ms: nullable('number', 'Open time left to resolve (negative: overdue).'),
  overdue: { type: 'boolean', description: 'An open case with a target past due.' },
});

const caseEntry = record('One entry of a case’s thread, oldest first.', {
  id: { type: 'integer' },
  case_id: { type: 'integer' },
  kind: { enum: ['inbound', 'reply', 'auto_reply', 'note', 'status', 'assignment', 'feedback'] },
  author: nullable('string', 'The person (dashboard user, `api-token`); null for the customer and for automation.'),
  body: nullable('string'),
  channel: nullable('string'),
  timeline_event_id: nullable('integer'),
  outbound_message_id: nullable('integer', 'The outbound message of a reply or automatic answer.'),
  data: { type: 'object', description: 'Status changes: `{from, to}`; assignments: `{from, to}`; replies: `{status}`.' },
  at: dateTime,
});

const feedback = record('A satisfaction answer (CSAT 1–5), one per message: a second click changes it.', {
  id: { type: 'integer' },
  outbound_message_id: { type: 'integer' },
  case_id: nullable('integer'),
  customer_id: nullable('integer'),
  kind: { enum: ['csat', 'nps'] },
  score: { type: 'integer' },
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
  CaseEntryAdded: record('The entry added and the case after it.', { entry: { oneOf: [ref('CaseEntry'), { type: 'null' }] }, case: ref('Case') }),
  CaseReplySent: record('The reply, recorded on the thread with its outbound message.', {
    entry: { oneOf: [ref('CaseEntry'), { type: 'null' }], description: 'null when this request id was already answered.' },
    message: record('The outbound message.', { id: { type: 'integer' }, status: { type: 'string' }, channel: { type: 'string' } }),
    case: ref('Case'),
  }),
  CaseStatusChanged: record('The case after the change.', {
    changed: { type: 'boolean' },
    from: { enum: [...CASE_STATUSES] },
    case: ref('Case'),
    feedback: { oneOf: [record('The satisfaction question sent on resolve.', { status: { type: 'string' } }), { type: 'null' }] },
  }),
  CaseFigures: record('The figures of the cases opened in a period, as known now. Unknown (nothing measured) is null, never 0.', {
    from: { ...dateTime, description: 'Cases opened from here (included)…' },
    to: { ...dateTime, description: '…to here (excluded).' },
    active_now: { type: 'integer', description: 'Cases open or waiting on the customer now, whenever opened.' },
    opened: { type: 'integer', description: 'Cases opened in the period.' },
    median_first_response_ms: nullable('number', 'Median business-hours time (each case’s pool) from opening to the first answer or note of a person.'),
    median_resolution_ms: nullable('number', 'Median business-hours time from opening to resolution, waits on the customer included.'),
    first_response_breach_rate: nullable('number', 'Share (0–1) of the cases with a first-response target that breached it.'),
    resolution_breach_rate: nullable('number', 'Share (0–1) of the cases with a resolution target that breached it.'),
    csat_average: nullable('number', 'Average 1–5 satisfaction rating of the resolved cases that were rated (the latest answer per case).'),
    csat_answers: { type: 'integer', description: 'How many resolved cases were rated.' },
  }),
  CaseAssigned: record('The case after the change.', { changed: { type: 'boolean' }, from: nullable('string'), case: ref('Case') }),
};

const feedbackToken: ParameterObject = {
  name: 'token',
  in: 'path',
  required: true,
  description: 'The signed token of one rating link.',
  schema: { type: 'string' },
};

export const casesPaths: Record<string, PathItemObject> = {
  '/api/cases': {
    get: apiOperation({
      operationId: 'listCases',
      summary: 'The case queue: overdue and soonest due first, with the open time left',
      parameters: [
        { name: 'status', in: 'query', description: 'Comma-separated statuses.', schema: { type: 'string' } },
        { name: 'owner', in: 'query', description: 'Comma-separated agent ids.', schema: { type: 'string' } },
        { name: 'pool', in: 'query', description: 'Comma-separated pools.', schema: { type: 'string' } },
        { name: 'customer_id', in: 'query', description: 'The cases of this customer (any id it had before merges).', schema: { type: 'integer', minimum: 1 } },
        { name: 'limit', in: 'query', description: 'Default 100, at most 500.', schema: { type: 'integer', minimum: 1 } },
      ],
      responses: { '200': { description: 'Cases.', content: json(ref('CaseList')) }, '400': badRequest },
    }),
  },
  '/api/cases/figures': {
    get: apiOperation({
      operationId: 'caseFigures',
      summary: 'Case figures of a period: open cases, median first response and resolution in business hours, breach rates, CSAT',
      description: 'The same figures the Cases page shows. Without `to`: until now; without `from`: the 30 days before `to`.',
      parameters: [
        { name: 'from', in: 'query', description: 'ISO 8601 date or date-time; cases opened from then (included).', schema: instantParam },
        { name: 'to', in: 'query', description: 'ISO 8601 date or date-time; cases opened before then.', schema: instantParam },
      ],
      responses: {
        '200': { description: 'The figures.', content: json(ref('CaseFigures')) },
        '400': error('A `from` or `to` that is not a date, or `from` not before `to`.', ['bad_request']),
      },
    }),
  },
  '/api/cases/{id}': {
    get: apiOperation({
      operationId: 'getCase',
      summary: 'One case with its thread and satisfaction answers',
      parameters: [caseId],
      responses: { '200': { description: 'The case.', content: json(ref('CaseDetail')) }, '400': badRequest, '404': notFound },
    }),
  },
  '/api/cases/{id}/notes': {
    post: apiOperation({
      operationId: 'noteCase',
      summary: 'An internal note (stops the first-response clock; audited)',
      parameters: [caseId],
      requestBody: jsonBody('The note.', record('A note.', { body: { type: 'string', minLength: 1 } })),
      responses: { '201': { description: 'Noted.', content: json(ref('CaseEntryAdded')) }, '400': badRequest, '404': notFound, '413': bodyTooLarge },
    }),
  },
  '/api/cases/{id}/replies': {
    post: apiOperation({
      operationId: 'replyToCase',
      summary: 'Answer the customer on the case’s channel (stops the first-response clock; audited)',
      description:
        'Goes out through the same outbound path as the reply step (consent, vendor windows, record-before-send). An `Idempotency-Key` header (or `request_id`) makes a retried call one message.',
      parameters: [caseId, { name: 'Idempotency-Key', in: 'header', description: 'Any string unique to this reply.', schema: { type: 'string' } }],
      requestBody: jsonBody('The reply.', {
        type: 'object',
        properties: { body: { type: 'string', minLength: 1 }, request_id: { type: 'string' } },
        required: ['body'],
      }),
      responses: {
        '201': { description: 'Sent (or recorded as uncertain) and on the thread.', content: json(ref('CaseReplySent')) },
        '400': badRequest,
        '404': notFound,
        '409': error('Not sent: the case is closed, or the policy stopped it (no consent, no address).', ['case_closed', 'not_sent']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/cases/{id}/status': {
    post: apiOperation({
      operationId: 'setCaseStatus',
      summary: 'Move a case: waiting on the customer pauses its clocks, open resumes them, resolved and closed stop them (audited)',
      parameters: [caseId],
      requestBody: jsonBody('The new status.', {
        type: 'object',
        properties: {
          status: { enum: [...CASE_STATUSES] },
          reason: { type: 'string' },
          ask_feedback: { type: 'boolean', description: 'On resolve: send the 1–5 satisfaction question.' },
        },
        required: ['status'],
      }),
      responses: { '200': { description: 'The case.', content: json(ref('CaseStatusChanged')) }, '400': badRequest, '404': notFound, '413': bodyTooLarge },
    }),
  },
  '/api/cases/{id}/assign': {
    post: apiOperation({
      operationId: 'assignCase',
      summary: 'Give the case to a declared agent (audited)',
      parameters: [caseId],
      requestBody: jsonBody('The agent.', { type: 'object', properties: { agent_id: { type: 'string' } }, required: ['agent_id'] }),
      responses: { '200': { description: 'The case.', content: json(ref('CaseAssigned')) }, '400': badRequest, '404': notFound, '413': bodyTooLarge },
    }),
  },
  '/feedback/{token}': {
    get: {
      operationId: 'showRating',
      summary: 'The page of a one-click rating link',
      description: 'Public: the HMAC-signed token is the credential. Changes nothing (mail scanners fetch links); its script posts the rating at once.',
      tags: ['cases'],
      security: [],
      parameters: [feedbackToken],
      responses: {
        '200': { description: 'The chosen rating in a form.', content: { 'text/html': { schema: { type: 'string' } } } },
        '404': error('A forged, altered, malformed or expired token. Nothing changed.', ['not_found']),
      },
    },
    post: {
      operationId: 'rate',
      summary: 'Record the link’s rating: once per message, a later click changes it',
      tags: ['cases'],
      security: [],
      parameters: [feedbackToken],
      responses: {
        '200': { description: 'Recorded.', content: { 'text/html': { schema: { type: 'string' } } } },
        '404': error('A forged, altered, malformed or expired token, or no such message. Nothing changed.', ['not_found']),
      },
    },
  },
};
