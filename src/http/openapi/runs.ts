import { steps as stepRegistry } from '../../engine/steps/registry.js';
import { INBOX_STATUSES, RUN_STATUSES, STEP_STATUSES } from '../../operations/runs.js';
import {
  anyJson,
  apiOperation,
  badRequest,
  beforeParameter,
  bodyTooLarge,
  customerIdParameter,
  dateTime,
  errorResponse,
  idParameter,
  integer,
  json,
  type JsonSchema,
  limitParameter,
  notFound,
  nullableDateTime,
  nullableInteger,
  nullableString,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: Workflow runs, their step records and events, and the run actions. Spread into the document by src/http/openapi.ts. */
const runProperties: Record<string, JsonSchema> = {
  id: integer,
  workflow: { type: 'string', description: 'Workflow id.' },
  workflow_version: { type: 'string', description: 'Hash of the workflow definition the run started with.' },
  trigger_key: {
    type: 'string',
    description:
      'What started it: `inbox:<id>`, `inbox:<id>#<n>`, `schedule:<tick>`, `engine:<engine event id>` or `audience:<day>:<customer>`; one run per trigger and workflow.',
  },
  inbox_event_id: { ...nullableInteger, description: 'The stored event that started it; null for schedules.' },
  trigger: {
    type: 'object',
    description: 'The trigger event (`connector`, `type`, `external_id`, `occurred_at`) or schedule tick.',
  },
  status: { enum: RUN_STATUSES },
  error: nullableString,
  error_retryable: { type: 'boolean', description: 'Whether the failure may heal by itself (network, 5xx).' },
  attempts: integer,
  customer_id: nullableInteger,
  payload: anyJson(
    'The enriched payload the run works on (thin webhooks read over the vendor API); null when it is the stored event’s.',
  ),
  created_at: dateTime,
  started_at: nullableDateTime,
  finished_at: nullableDateTime,
  resume_at: {
    ...nullableDateTime,
    description:
      'While `waiting`: when the run continues (a wait, a reply held for business hours); afterwards the time of its last suspension.',
  },
  suspended_step: {
    ...nullableInteger,
    description: 'Index of the step that suspended the run; it runs again at `resume_at`.',
  },
  suspended_at: { ...nullableDateTime, description: 'When the run was last suspended.' },
  steps_pruned_at: {
    ...nullableDateTime,
    description:
      'When retention (`CRMFLOW_RUN_RETENTION_DAYS`) removed its step records and payload; the run can then be neither retried nor resumed.',
  },
};

const run = record('A workflow run.', runProperties);

const step = record('The latest attempt of one step of a run.', {
  step_index: integer,
  step_id: string,
  type: { enum: [...stepRegistry.keys()] },
  status: { enum: STEP_STATUSES },
  input: anyJson('What the step received.'),
  output: anyJson('What the step returned (reused when a retried run resumes).'),
  state: { type: ['object', 'null'], description: 'What the step added to the run state (record, customer, owner).' },
  error: nullableString,
  attempt: integer,
  started_at: dateTime,
  duration_ms: { type: 'number', minimum: 0 },
});

const inboxEvent = record('A vendor event as stored in the inbox.', {
  id: integer,
  connector: string,
  type: string,
  external_id: {
    type: 'string',
    description: 'Stable across redeliveries: the inbox de-duplicates on (connector, external_id).',
  },
  occurred_at: dateTime,
  payload: anyJson('The event as the vendor sent it; null once retention removed it.'),
  received_at: dateTime,
  status: { enum: INBOX_STATUSES },
  origin: { type: 'string', description: '`webhook`, or `pull:<resource>` for events read by a poll trigger.' },
  payload_pruned_at: {
    ...nullableDateTime,
    description:
      'When retention removed the payload (every run of the event had lost its records); it cannot be replayed.',
  },
});

export const runsSchemas: Record<string, JsonSchema> = {
  Run: run,
  RunList: record('Runs, newest first.', {
    runs: { type: 'array', items: ref('Run') },
    next_before: {
      ...nullableInteger,
      description: 'Pass as `before` for the next page; null when this page is empty.',
    },
  }),
  Step: step,
  InboxEvent: inboxEvent,
  RunDetail: record('A run with every step record and the event that started it.', {
    ...runProperties,
    steps: { type: 'array', items: ref('Step') },
    event: {
      oneOf: [ref('InboxEvent'), { type: 'null' }],
      description: 'null for runs not started by a stored event.',
    },
  }),
  RetryQueued: record('The run is queued again; it resumes at the failed step.', {
    run_id: integer,
    job_id: {
      type: 'string',
      description: 'BullMQ job id, `retry-<run>-<attempts>`: retrying twice before the job runs queues it once.',
    },
    status: { const: 'queued' },
  }),
  ReplayQueued: record('The stored event is queued to run through the current version of the workflow, as a new run.', {
    run_id: integer,
    job_id: { type: 'string', description: 'BullMQ job id, `replay-<event>-<replay>`.' },
    replay: {
      type: 'string',
      description: '`run<id>-<n>`, the n-th replay of this run: replaying twice before the job runs queues it once.',
    },
    status: { const: 'queued' },
  }),
  RunCancelled: record('The run is cancelled: no later step starts, it is never retried or resumed.', {
    run_id: integer,
    status: { const: 'cancelled' },
    error: { type: 'string', description: '`cancelled: <reason>`.' },
  }),
};

export const runsPaths: Record<string, PathItemObject> = {
  '/api/runs': {
    get: apiOperation({
      operationId: 'listRuns',
      summary: 'Workflow runs, newest first, keyset-paginated',
      tags: ['runs'],
      parameters: [
        { name: 'workflow', in: 'query', description: 'A workflow id.', schema: string },
        {
          name: 'status',
          in: 'query',
          description: 'A run status (other values match nothing).',
          schema: { enum: RUN_STATUSES },
        },
        customerIdParameter('runs'),
        beforeParameter('runs'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of runs.', content: json(ref('RunList')) }, '400': badRequest },
    }),
  },
  '/api/runs/{id}': {
    get: apiOperation({
      operationId: 'getRun',
      summary: 'A run with its trigger event and every step',
      tags: ['runs'],
      parameters: [idParameter('run')],
      responses: {
        '200': { description: 'The run.', content: json(ref('RunDetail')) },
        '400': badRequest,
        '404': notFound('run'),
      },
    }),
  },
  '/api/runs/{id}/retry': {
    post: apiOperation({
      operationId: 'retryRun',
      summary: 'Re-queue a failed run; it resumes at the failed step',
      description: 'Takes no request body. Earlier steps are not run again: their recorded results are reused.',
      tags: ['runs'],
      parameters: [idParameter('run')],
      responses: {
        '202': { description: 'Queued.', content: json(ref('RetryQueued')) },
        '400': badRequest,
        '404': notFound('run'),
        '409': errorResponse(
          'The run has not failed (queued, running, waiting, succeeded or filtered), or retention removed its records.',
          ['not_failed', 'pruned'],
        ),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/runs/{id}/replay': {
    post: apiOperation({
      operationId: 'replayRun',
      summary: "Run the run's stored event through the current version of its workflow, as a new run",
      description: 'Takes no request body. The original run stays as it was; the new run sends its replies again.',
      tags: ['runs'],
      parameters: [idParameter('run')],
      responses: {
        '202': { description: 'Queued.', content: json(ref('ReplayQueued')) },
        '400': badRequest,
        '404': notFound('run'),
        '409': errorResponse(
          'The run was not started by a stored event, its workflow is gone from workflows.yaml, or retention removed the event’s payload.',
          ['not_replayable', 'workflow_gone', 'pruned'],
        ),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/runs/{id}/cancel': {
    post: apiOperation({
      operationId: 'cancelRun',
      summary: 'Cancel a queued, stuck, waiting or failed run, with a reason',
      description:
        'A step already executing finishes; no later step starts, and the run is never retried or resumed. Audited with the reason.',
      tags: ['runs'],
      parameters: [idParameter('run')],
      requestBody: {
        description: 'Why.',
        required: true,
        content: json(record('The reason, 1 to 500 characters.', { reason: string })),
      },
      responses: {
        '200': { description: 'Cancelled.', content: json(ref('RunCancelled')) },
        '400': badRequest,
        '404': notFound('run'),
        '409': errorResponse('The run has succeeded, was filtered or is already cancelled.', ['not_cancellable']),
        '413': bodyTooLarge,
      },
    }),
  },
};
