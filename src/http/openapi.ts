import { connectors as connectorRegistry } from '../connectors/registry.js';
import { CONSENT_CHANNELS } from '../customers/consent.js';
import { steps as stepRegistry } from '../engine/steps/registry.js';
import { triggers as triggerRegistry } from '../engine/triggers/registry.js';
import { AUDIT_ACTIONS } from '../store/audit.js';
import { customerContactsPaths, customerContactsSchemas } from './openapi/customer-contacts.js';
import { triggerFieldsSchema } from '../workflows/schema.js';

/**
 * The OpenAPI 3.1 description of crmflow's HTTP API, served at `GET /api/openapi.json`.
 *
 * Component schemas are JSON Schema 2020-12 and describe the responses exactly as the handlers send them today
 * (objects are closed with `additionalProperties: false`): `tests/http.openapi.test.ts` validates the real response of
 * every route against them, so a field added, renamed or retyped in a handler or in the SQL fails a test until it is
 * described here. Trigger and step types come from the same registries the workflows loader uses.
 */

/** A JSON Schema (draft 2020-12) as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

export interface Reference {
  $ref: string;
}

export interface MediaTypeObject {
  schema: JsonSchema;
  example?: unknown;
}

export interface HeaderObject {
  description: string;
  schema: JsonSchema;
}

export interface ResponseObject {
  description: string;
  headers?: Record<string, HeaderObject>;
  content?: Record<string, MediaTypeObject>;
}

export interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  description: string;
  schema: JsonSchema;
}

export interface RequestBodyObject {
  description: string;
  required?: boolean;
  content: Record<string, MediaTypeObject>;
}

/** Alternatives: any one requirement object suffices; `{}` means no credentials. */
export type SecurityRequirement = Record<string, string[]>;

export interface OperationObject {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  security: SecurityRequirement[];
  parameters?: ParameterObject[];
  requestBody?: RequestBodyObject;
  /** By status code; every status a handler answers is listed explicitly (no `default`). */
  responses: Record<string, ResponseObject | Reference>;
}

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface PathItemObject {
  summary?: string;
  description?: string;
  get?: OperationObject;
  post?: OperationObject;
  put?: OperationObject;
  delete?: OperationObject;
}

export interface SecuritySchemeObject {
  type: 'http';
  scheme: 'bearer';
  description: string;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  jsonSchemaDialect: string;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, PathItemObject>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, ResponseObject>;
    securitySchemes: Record<string, SecuritySchemeObject>;
  };
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): Reference => ({ $ref: `#/components/responses/${name}` });

const string: JsonSchema = { type: 'string' };
const nullableString: JsonSchema = { type: ['string', 'null'] };
const integer: JsonSchema = { type: 'integer' };
const nullableInteger: JsonSchema = { type: ['integer', 'null'] };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const nullableDateTime: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
const anyJson = (description: string): JsonSchema => ({ description });

/** A closed object: every property listed is present (nullable where the column is), nothing else. */
function record(description: string, properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
  return {
    type: 'object',
    description,
    properties,
    required: Object.keys(properties).filter((name) => !optional.includes(name)),
    additionalProperties: false,
  };
}

const json = (schema: JsonSchema, example?: unknown): Record<string, MediaTypeObject> => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});

/** The one error shape, narrowed to the codes a response can carry. */
const errorContent = (codes: string[]): Record<string, MediaTypeObject> =>
  json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } });

function errorResponse(description: string, codes: string[], headers?: Record<string, HeaderObject>): ResponseObject {
  return { description, ...(headers ? { headers } : {}), content: errorContent(codes) };
}

const RETRY_AFTER: Record<string, HeaderObject> = { 'Retry-After': { description: 'Seconds to wait before redelivering.', schema: integer } };
const API_TOKEN: SecurityRequirement[] = [{ apiToken: [] }];
const PUBLIC: SecurityRequirement[] = [];

const idParameter = (what: string): ParameterObject => ({
  name: 'id',
  in: 'path',
  required: true,
  description: `The ${what} id (a non-negative integer; anything else is answered 400).`,
  schema: { type: 'integer', minimum: 0 },
});

function limitParameter(fallback: number, max: number): ParameterObject {
  return {
    name: 'limit',
    in: 'query',
    description: `How many to return: default ${fallback}, larger values are capped at ${max}.`,
    schema: { type: 'integer', minimum: 0, default: fallback },
  };
}

const beforeParameter = (what: string): ParameterObject => ({
  name: 'before',
  in: 'query',
  description: `Keyset pagination: only ${what} with an id below this (pass the smallest id of the previous page).`,
  schema: { type: 'integer', minimum: 0 },
});

const customerIdParameter = (what: string): ParameterObject => ({
  name: 'customer_id',
  in: 'query',
  description: `Only the ${what} of this customer (the surviving id after a merge).`,
  schema: { type: 'integer', minimum: 0 },
});

const RUN_STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'filtered', 'failed', 'cancelled'];
const MESSAGE_STATUSES = ['sending', 'sent', 'failed', 'skipped', 'uncertain'];

// ---------------------------------------------------------------------------------------------------------------
// Component schemas: field names exactly as the API returns them. Customers are PostgreSQL columns (snake_case);
// runs, steps, inbox events and /api/messages rows are repository objects (camelCase).

const customerIdentity = record('A way to recognise the customer; one (kind, value) belongs to exactly one customer.', {
  kind: { type: 'string', description: '`email`, `phone` or a vendor id kind such as `shopify_customer`.', examples: ['email'] },
  value: { type: 'string', description: 'Normalized: lower-case email, E.164 phone, `<account>:<id>` for vendor ids.' },
  source: { ...nullableString, description: 'Connector that first brought the identity.' },
  created_at: dateTime,
});

const timelineEntry = record('An order, call, message or invoice on the customer timeline, one per vendor object.', {
  id: integer,
  source: { type: 'string', description: 'Connector id.' },
  external_id: { type: 'string', description: 'The vendor object, e.g. `order/820982911946154508`.' },
  type: { type: 'string', description: 'Event type, e.g. `order.created`.' },
  occurred_at: dateTime,
  summary: nullableString,
  data: anyJson('What the mapping put under `timeline.data` (`{}` if nothing).'),
});

const leadAssignment = record('An owner assignment, newest first.', {
  agent_id: string,
  pool: string,
  strategy: { type: 'string', examples: ['round_robin'] },
  reason: { ...nullableString, description: 'Why, when not a first assignment (e.g. an SLA reassignment).' },
  assigned_at: dateTime,
});

const customerMerge = record('A merge into this customer (its id keeps resolving here), or of this customer into another, oldest first.', {
  id: { type: 'integer', description: 'The merge id (for `POST /api/customers/{id}/unmerge`).' },
  kept_id: integer,
  merged_id: integer,
  linked_by: { type: ['array', 'null'], items: ref('Identity'), description: "The merged customer's identities the linking event shared; empty for an accepted suggestion." },
  event: { ...nullableString, description: 'What brought them together: `run:<id>` (an event’s run) or `suggestion:<id>`.' },
  why: { ...nullableString, examples: ['shared email', 'accepted suggestion by api-token'] },
  reason: { type: 'object', description: 'The full record: the event’s identities, `linked_by`, `event`, `why`.' },
  merged_at: dateTime,
  unmerged_at: { ...nullableDateTime, description: 'When the merge was undone; null while it stands.' },
  unmerged_by: nullableString,
});

const mergeSuggestion = record('Two customers that are probably one person, for review.', {
  id: integer,
  customer_a: integer,
  customer_b: integer,
  score: { type: ['number', 'null'], description: 'Name similarity (Jaro–Winkler, 0..1) for the duplicate finder’s suggestions; null for those a rule made.' },
  reason: { type: 'object', description: 'Evidence: `why`, and the names and shared email local part or phone suffix, or the event and identities that linked them.' },
  status: { enum: ['open', 'accepted', 'rejected'] },
  created_at: dateTime,
  decided_by: nullableString,
  decided_at: nullableDateTime,
});

const lifecycleChange = record('A lifecycle stage change.', {
  from_stage: nullableString,
  to_stage: string,
  source: nullableString,
  changed_at: dateTime,
});

const customerMessage = record('An outbound message to or about the customer, newest first (at most 100).', {
  id: integer,
  channel: { type: 'string', examples: ['email', 'sms', 'whatsapp'] },
  transport: { type: 'string', description: 'What carried it, e.g. `smtp`, `outbox`, a connector action.' },
  recipient: string,
  subject: nullableString,
  status: { enum: MESSAGE_STATUSES },
  status_reason: nullableString,
  created_at: dateTime,
  sent_at: nullableDateTime,
  agent_id: { ...nullableString, description: 'The agent who sent it from crmflow; null: automated (a workflow’s reply).' },
});

const TASK_STATUSES = ['open', 'done', 'cancelled'];

const taskProperties: Record<string, JsonSchema> = {
  id: integer,
  agent_id: { ...nullableString, description: 'The agent it is for (the owner when the task was created, unless the step named one).' },
  title: string,
  notes: nullableString,
  status: { enum: TASK_STATUSES },
  due_at: { ...dateTime, description: 'task.due fires at this time.' },
  overdue_at: { ...dateTime, description: 'task.overdue fires at this time if the task is still open.' },
  created_at: dateTime,
  completed_at: nullableDateTime,
};

const customerTask = record('A follow-up task for the customer (create_task), newest first (at most 100).', taskProperties);

const task = record('A follow-up task made by a create_task step.', {
  ...taskProperties,
  customer_id: nullableInteger,
  run_id: { ...nullableInteger, description: 'The run that created it.' },
  completed_by: { ...nullableString, description: 'Who completed it (`api-token` through this API).' },
});

const scoreChange = record('A change of the lead score (score step), newest first (at most 100).', {
  delta: integer,
  score: { type: 'integer', description: 'The score after the change.' },
  source: { ...nullableString, description: '`run:<id>`.' },
  changed_at: dateTime,
});

const CONSENT_CHANNEL_NAMES = Object.keys(CONSENT_CHANNELS);

const addressConsent = record('Consent of one of the customer’s addresses for a channel; it stays with the address through merges and unmerges.', {
  address: { type: 'string', description: 'The normalized address: email, E.164 phone, `<account>:<id>` page-scoped id.' },
  granted: { type: ['boolean', 'null'], description: 'null: never stated (auto-replies are allowed); false: opted out, nothing is sent to it.' },
  source: { ...nullableString, description: 'What stated it: a keyword such as `STOP`, `unsubscribe link`, `api` or the source given to the API.' },
  changed_at: nullableDateTime,
});

const consentByChannel = record(
  'Consent per channel, for each of the customer’s addresses that reach it (email: emails; sms and whatsapp: phones; messenger, instagram: page-scoped ids).',
  Object.fromEntries(CONSENT_CHANNEL_NAMES.map((channel) => [channel, { type: 'array', items: ref('AddressConsent') }])),
);

const consentChange = record('A consent statement, newest first (at most 100).', {
  channel: { enum: CONSENT_CHANNEL_NAMES },
  address: string,
  granted: { type: 'boolean' },
  source: string,
  actor: { ...nullableString, description: 'The connector (keywords), `recipient` (unsubscribe link) or `api-token`.' },
  changed_at: dateTime,
});

const customer = record(
  'The unified customer record: profile, score, identities, owner, timeline, assignments, merges, lifecycle history, messages, tasks and consent.',
  {
    id: { type: 'integer', description: 'The surviving customer id (see `resolved_from`).' },
    resolved_from: { type: 'integer', description: 'Present only when the requested id was merged into `id`.' },
    name: nullableString,
    first_name: nullableString,
    last_name: nullableString,
    language: nullableString,
    country: nullableString,
    lifecycle_stage: { type: 'string', description: '`lead` until something makes it a `customer` (e.g. a paid invoice).', examples: ['lead', 'customer'] },
    score: { type: 'integer', description: 'Lead score: the sum of `score_history`.' },
    owner_agent_id: { ...nullableString, description: 'The agent (`agents:` in workflows.yaml) who owns the customer.' },
    attributes: { type: 'object', description: 'Free-form attributes from the mappings.' },
    created_at: dateTime,
    updated_at: dateTime,
    email: { ...nullableString, description: 'The first email identity.' },
    phone: { ...nullableString, description: 'The first phone identity (E.164).' },
    identities: { type: 'array', items: ref('CustomerIdentity') },
    timeline: { type: 'array', items: ref('TimelineEntry'), description: 'Newest first, at most 200.' },
    assignments: { type: 'array', items: ref('LeadAssignment') },
    merges: { type: 'array', items: ref('CustomerMerge') },
    lifecycle_history: { type: 'array', items: ref('LifecycleChange') },
    messages: { type: 'array', items: ref('CustomerMessage') },
    tasks: { type: 'array', items: ref('CustomerTask') },
    score_history: { type: 'array', items: ref('ScoreChange') },
    consent: ref('ConsentByChannel'),
    consent_history: { type: 'array', items: ref('ConsentChange') },
  },
  ['resolved_from'],
);

const runProperties: Record<string, JsonSchema> = {
  id: integer,
  workflow: { type: 'string', description: 'Workflow id.' },
  workflowVersion: { type: 'string', description: 'Hash of the workflow definition the run started with.' },
  triggerKey: {
    type: 'string',
    description: 'What started it: `inbox:<id>`, `inbox:<id>#<n>`, `schedule:<tick>`, `engine:<engine event id>` or `audience:<day>:<customer>`; one run per trigger and workflow.',
  },
  inboxEventId: { ...nullableInteger, description: 'The stored event that started it; null for schedules.' },
  trigger: { type: 'object', description: 'The trigger event (`connector`, `type`, `external_id`, `occurred_at`) or schedule tick.' },
  status: { enum: RUN_STATUSES },
  error: nullableString,
  errorRetryable: { type: 'boolean', description: 'Whether the failure may heal by itself (network, 5xx).' },
  attempts: integer,
  customerId: nullableInteger,
  payload: anyJson('The enriched payload the run works on (thin webhooks read over the vendor API); null when it is the stored event’s.'),
  createdAt: dateTime,
  startedAt: nullableDateTime,
  finishedAt: nullableDateTime,
  resumeAt: { ...nullableDateTime, description: 'While `waiting`: when the run continues (a wait, a reply held for business hours); afterwards the time of its last suspension.' },
  suspendedStep: { ...nullableInteger, description: 'Index of the step that suspended the run; it runs again at `resumeAt`.' },
  suspendedAt: { ...nullableDateTime, description: 'When the run was last suspended.' },
};

const run = record('A workflow run.', runProperties);

const step = record('The latest attempt of one step of a run.', {
  stepIndex: integer,
  stepId: string,
  type: { enum: [...stepRegistry.keys()] },
  status: { enum: ['succeeded', 'failed', 'waiting'] },
  input: anyJson('What the step received.'),
  output: anyJson('What the step returned (reused when a retried run resumes).'),
  state: { type: ['object', 'null'], description: 'What the step added to the run state (record, customer, owner).' },
  error: nullableString,
  attempt: integer,
  startedAt: dateTime,
  durationMs: { type: 'number', minimum: 0 },
});

const inboxEvent = record('A vendor event as stored in the inbox.', {
  id: integer,
  connector: string,
  type: string,
  externalId: { type: 'string', description: 'Stable across redeliveries: the inbox de-duplicates on (connector, externalId).' },
  occurredAt: dateTime,
  payload: anyJson('The event as the vendor sent it.'),
  receivedAt: dateTime,
  status: { enum: ['pending', 'processed', 'failed'] },
  origin: { type: 'string', description: '`webhook`, or `pull:<resource>` for events read by a poll trigger.' },
});

const message = record('An outbound message, recorded before it is sent.', {
  id: integer,
  idempotencyKey: { type: 'string', description: 'Derived from the run and step: a message is never sent twice.' },
  customerId: nullableInteger,
  runId: nullableInteger,
  channel: string,
  transport: string,
  recipient: string,
  subject: nullableString,
  body: string,
  status: { enum: MESSAGE_STATUSES },
  statusReason: nullableString,
  providerId: { ...nullableString, description: 'The id the transport gave the message (SMTP Message-ID, vendor message id).' },
  attempts: integer,
  createdAt: dateTime,
  sentAt: nullableDateTime,
  agentId: { ...nullableString, description: 'The agent who sent it from crmflow; null: automated (a workflow’s reply).' },
  emailMessageId: { ...nullableString, description: 'The Message-ID header of an email, stored before sending: replies that name it join the conversation.' },
});

const workflow = record('A loaded workflow.', {
  id: string,
  name: { type: 'string', description: 'The `name:` in workflows.yaml, else the id.' },
  enabled: { type: 'boolean' },
  version: { type: 'string', description: 'Hash of the definition; runs record it as `workflowVersion`.' },
  trigger: { oneOf: [...triggerRegistry.values()].map(triggerFieldsSchema), description: 'The trigger as written in workflows.yaml.' },
  steps: { type: 'array', items: record('A step.', { id: string, type: { enum: [...stepRegistry.keys()] } }) },
});

const schemas: Record<string, JsonSchema> = {
  Error: record('The one error shape of every JSON error answer.', {
    error: record('What went wrong.', {
      code: { type: 'string', description: 'Stable, machine-readable, snake_case.', examples: ['not_found'] },
      message: { type: 'string', description: 'For humans; may change.' },
    }),
  }),
  Health: record('The process is up.', { status: { const: 'ok' } }),
  Readiness: record('Result of each dependency check: `ok`, `timeout` or the error message.', { postgres: string, redis: string }),
  Draining: record('This instance is shutting down.', { status: { const: 'shutting down' } }),
  WebhookAccepted: record('The delivery is stored (and queued, or queued by the reconciler once Redis answers).', {
    received: { type: 'integer', minimum: 0, description: 'Events parsed from the delivery (a batched delivery has several; ignored items none).' },
    stored: { type: 'integer', minimum: 0, description: 'Events new to the inbox.' },
    duplicates: { type: 'integer', minimum: 0, description: 'Events already stored earlier: they do not run again.' },
    inbox_ids: { type: 'array', items: integer, description: 'Inbox ids of the stored events.' },
  }),
  CustomerIdentity: customerIdentity,
  TimelineEntry: timelineEntry,
  LeadAssignment: leadAssignment,
  CustomerMerge: customerMerge,
  Identity: record('An identity.', { kind: string, value: string }),
  MergeSuggestion: mergeSuggestion,
  MergeSuggestionList: record('A page of suggestions, newest first.', {
    suggestions: { type: 'array', items: ref('MergeSuggestion') },
    next_before: { ...nullableInteger, description: 'Pass as `before` for the next page; null when this page is empty.' },
  }),
  MergeDecision: {
    ...mergeSuggestion,
    description: 'The decided suggestion; an accepted one names the merge it made.',
    properties: { ...(mergeSuggestion.properties as object), merge_id: integer, kept_id: integer },
  },
  Unmerged: record('The merge undone and the rows returned to the merged customer, by table.', {
    merge_id: integer,
    kept_id: integer,
    merged_id: integer,
    restored: { type: 'object', additionalProperties: integer },
  }),
  CustomerExport: record('Everything crmflow holds about a person: every row about them, by table (see src/store/customer-data-map.ts).', {
    customer_id: integer,
    customer_ids: { type: 'array', items: integer, description: 'The live customer and those merged into it.' },
    exported_at: dateTime,
    tables: { type: 'object', additionalProperties: { type: 'array', items: { type: 'object' } }, description: 'Rows as stored, by table name: customers, identities, timeline, messages, assignments, runs and their steps, raw inbound payloads, merges, suggestions, audit entries.' },
  }),
  Erased: record('What the erasure touched.', {
    customer_ids: { type: 'array', items: integer },
    identities_blocked: { type: 'integer', description: 'Identities kept as salted hashes so that old data does not re-create the person.' },
    rows: { type: 'object', additionalProperties: integer, description: 'Rows deleted or anonymised, by table.' },
  }),
  LifecycleChange: lifecycleChange,
  CustomerMessage: customerMessage,
  CustomerTask: customerTask,
  ScoreChange: scoreChange,
  Customer: customer,
  AddressConsent: addressConsent,
  ConsentByChannel: consentByChannel,
  ConsentChange: consentChange,
  ConsentSaved: record('The customer’s consent for the channel after the change.', {
    customer_id: integer,
    channel: { enum: CONSENT_CHANNEL_NAMES },
    consent: { type: 'array', items: ref('AddressConsent') },
  }),
  CustomerList: record('Matching customers, newest first, each the full record.', { customers: { type: 'array', items: ref('Customer') } }),
  Run: run,
  RunList: record('Runs, newest first.', {
    runs: { type: 'array', items: ref('Run') },
    next_before: { ...nullableInteger, description: 'Pass as `before` for the next page; null when this page is empty.' },
  }),
  Step: step,
  InboxEvent: inboxEvent,
  RunDetail: record('A run with every step record and the event that started it.', {
    ...runProperties,
    steps: { type: 'array', items: ref('Step') },
    event: { oneOf: [ref('InboxEvent'), { type: 'null' }], description: 'null for runs not started by a stored event.' },
  }),
  RetryQueued: record('The run is queued again; it resumes at the failed step.', {
    run_id: integer,
    job_id: { type: 'string', description: 'BullMQ job id, `retry-<run>-<attempts>`: retrying twice before the job runs queues it once.' },
    status: { const: 'queued' },
  }),
  ReplayQueued: record('The stored event is queued to run through the current version of the workflow, as a new run.', {
    run_id: integer,
    job_id: { type: 'string', description: 'BullMQ job id, `replay-<event>-<replay>`.' },
    replay: { type: 'string', description: '`run<id>-<n>`, the n-th replay of this run: replaying twice before the job runs queues it once.' },
    status: { const: 'queued' },
  }),
  RunCancelled: record('The run is cancelled: no later step starts, it is never retried or resumed.', {
    run_id: integer,
    status: { const: 'cancelled' },
    error: { type: 'string', description: '`cancelled: <reason>`.' },
  }),
  ResendResult: record('What the resend did.', {
    message_id: integer,
    status: { enum: ['sent', 'failed', 'uncertain'] },
    reason: { type: 'string', description: 'Why it failed or is uncertain again.' },
  }, ['reason']),
  Message: message,
  MessageList: record('Outbound messages, newest first.', { messages: { type: 'array', items: ref('Message') } }),
  Workflow: workflow,
  WorkflowList: record('The workflows loaded from workflows.yaml.', { workflows: { type: 'array', items: ref('Workflow') } }),
  Agent: record(
    'An agent as declared in workflows.yaml, with the run-time availability and open leads (lifecycle lead or opportunity).',
    {
      id: string,
      name: string,
      email: string,
      phone: string,
      time_zone: string,
      working_hours: record('Outside these hours the agent gets no new leads.', { days: { type: 'array', items: string }, from: string, to: string }),
      capacity: integer,
      languages: { type: 'array', items: string },
      skills: { type: 'array', items: string },
      available: { type: 'boolean' },
      open_leads: integer,
    },
    ['email', 'phone', 'time_zone', 'working_hours', 'capacity', 'languages', 'skills'],
  ),
  Task: task,
  TaskList: record('Tasks, newest first.', {
    tasks: { type: 'array', items: ref('Task') },
    next_before: { ...nullableInteger, description: 'Pass as `before` for the next page; null when this page is empty.' },
  }),
  AgentList: record('Every declared agent.', { agents: { type: 'array', items: ref('Agent') } }),
  AgentAvailability: record('The availability now in force.', { agent_id: string, available: { type: 'boolean' } }),
  PollQueued: record('A pull is queued (a no-op if one is already running for the same resource).', {
    workflow: string,
    job_id: { type: 'string', description: 'BullMQ job id.' },
    status: { const: 'queued' },
  }),
  AuditEntry: record('One human action. The log is append-only: no route changes or deletes an entry.', {
    id: integer,
    at: dateTime,
    actor: { type: 'string', description: 'The dashboard user, `api-token` for bearer-token calls, or the name typed at a failed sign-in.' },
    role: { ...nullableString, description: '`viewer`, `support` or `admin`; null for a failed sign-in.' },
    action: { enum: [...AUDIT_ACTIONS] },
    target: { ...nullableString, description: 'What was acted on: `run:<id>`, `message:<id>`, `workflow:<id>`, `agent:<id>`, `task:<id>`, `customer:<id>`, `suggestion:<id>`.' },
    details: { type: 'object', description: 'Facts about the action (e.g. `available`, `job_id`, `via`).' },
    ip: { ...nullableString, description: 'The client address (behind a loopback proxy: the forwarded one).' },
  }),
  AuditList: record('A page of the audit log, newest first.', {
    entries: { type: 'array', items: ref('AuditEntry') },
    next_before: { ...nullableInteger, description: 'Pass as `before` for the next page; null when this page is empty.' },
  }),
  OpenApi: {
    type: 'object',
    description: 'This document.',
    properties: { openapi: { const: '3.1.0' }, info: { type: 'object' }, paths: { type: 'object' }, components: { type: 'object' } },
    required: ['openapi', 'info', 'paths', 'components'],
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Webhooks: vendor-signed, no API token.

const connectorIds = [...connectorRegistry.keys()];

const WEBHOOK_DESCRIPTION = `Vendors post here; no API token. Each connector checks **its vendor's signature over the raw request bytes**
(timing-safe HMAC; never over re-serialized JSON) before anything is parsed or stored:

| connector | signature header |
| --- | --- |
| \`form\` | \`X-Crmflow-Signature: sha256=<hex HMAC-SHA256 of the body>\` |
| \`shopify\` | \`X-Shopify-Hmac-Sha256\` (base64 HMAC-SHA256), topic in \`X-Shopify-Topic\` |
| \`woocommerce\` | \`X-WC-Webhook-Signature\` (base64 HMAC-SHA256), topic in \`X-WC-Webhook-Topic\` |
| \`meta\` | \`X-Hub-Signature-256: sha256=<hex>\` with the App Secret |
| \`twilio\` | \`X-Twilio-Signature\`: HMAC-SHA1 over the *public* URL (\`CRMFLOW_PUBLIC_URL\`) and the sorted parameters |
| \`quickbooks\` | \`intuit-signature\` (base64 HMAC-SHA256 with the Verifier Token) |
| \`xero\` | \`x-xero-signature\` (base64 HMAC-SHA256 with the webhooks key) |

A verified delivery is parsed into events, stored in the PostgreSQL inbox (once per vendor event id: a redelivery is a
duplicate and runs nothing) and queued, and only then acknowledged: **202** with the counts. Some vendors want their own
answer instead: Twilio gets an empty TwiML \`<Response/>\` (200, \`text/xml\`), Xero an empty 200. Handshakes are
answered before the signature check: WooCommerce's unsigned \`webhook_id=<id>\` ping (200 \`ok\`) and Xero's
intent-to-receive (an empty \`events\` list: 200 when signed right, else 401, both with an empty body).

Bodies are limited to 1 MB. Errors use the JSON error shape unless a vendor handshake says otherwise.`;

const connectorParameter: ParameterObject = {
  name: 'connector',
  in: 'path',
  required: true,
  description: `A connector configured under \`connectors:\` in workflows.yaml; shipped: ${connectorIds.map((id) => `\`${id}\``).join(', ')}.`,
  schema: { type: 'string', examples: connectorIds },
};

const header = (name: string, description: string): ParameterObject => ({ name, in: 'header', description, schema: string });

const webhookHeaders: ParameterObject[] = [
  header('X-Crmflow-Signature', 'form: `sha256=<hex HMAC-SHA256 of the body>`.'),
  header('X-Crmflow-Event-Id', 'form (optional): the de-duplication key; else `submission_id`, else the body hash.'),
  header('X-Shopify-Hmac-Sha256', 'shopify: base64 HMAC-SHA256 of the body with the app client secret.'),
  header('X-Shopify-Topic', 'shopify: e.g. `orders/create`.'),
  header('X-WC-Webhook-Signature', 'woocommerce: base64 HMAC-SHA256 of the body.'),
  header('X-WC-Webhook-Topic', 'woocommerce: e.g. `order.created`.'),
  header('X-Hub-Signature-256', 'meta: `sha256=<hex HMAC-SHA256 of the body>` with the App Secret.'),
  header('X-Twilio-Signature', 'twilio: base64 HMAC-SHA1 over the public URL and the sorted POST parameters.'),
  header('intuit-signature', 'quickbooks: base64 HMAC-SHA256 of the body with the Verifier Token.'),
  header('x-xero-signature', 'xero: base64 HMAC-SHA256 of the body with the webhooks key.'),
];

const TWIML_ACK = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

const webhookUnavailable = errorResponse(
  'Not stored, retry later: PostgreSQL is unavailable (`unavailable`) or this instance is shutting down (`shutting_down`). Vendors redeliver.',
  ['unavailable', 'shutting_down'],
  RETRY_AFTER,
);

const receiveWebhook: OperationObject = {
  operationId: 'receiveWebhook',
  summary: 'Receive a signed vendor webhook',
  description: WEBHOOK_DESCRIPTION,
  tags: ['webhooks'],
  security: PUBLIC,
  parameters: [connectorParameter, ...webhookHeaders],
  requestBody: {
    description: 'The vendor’s delivery, read as raw bytes (signatures cover the exact bytes), at most 1 MB.',
    required: true,
    content: {
      'application/json': { schema: anyJson('Vendor JSON (Shopify, WooCommerce, Meta, QuickBooks, Xero, form).') },
      'application/x-www-form-urlencoded': { schema: { type: 'object', description: 'Form fields (Twilio, form, WooCommerce handshake).' } },
    },
  },
  responses: {
    '200': {
      description:
        'A vendor-specific acknowledgement or handshake answer: Twilio gets empty TwiML (`text/xml`); Xero an empty body; WooCommerce’s `webhook_id` ping `ok`; Xero’s signed intent-to-receive an empty body.',
      content: {
        'text/xml': { schema: { type: 'string' }, example: TWIML_ACK },
        'text/plain': { schema: { type: 'string' }, example: '' },
      },
    },
    '202': { description: 'Stored (and queued).', content: json(ref('WebhookAccepted'), { received: 1, stored: 1, duplicates: 0, inbox_ids: [42] }) },
    '400': errorResponse('The body cannot be read (with the parser’s reason: invalid JSON or UTF-8, missing topic, unreadable event time...). Nothing stored.', [
      'bad_request',
      'aborted',
    ]),
    '401': {
      description: 'Missing or invalid signature; nothing stored. Xero’s badly signed intent-to-receive gets an empty `text/plain` body.',
      content: {
        ...errorContent(['bad_signature']),
        'text/plain': { schema: { type: 'string', maxLength: 0 } },
      },
    },
    '404': errorResponse('No such connector is configured (`unknown_connector`), or it does not receive webhooks (`no_webhooks`).', ['unknown_connector', 'no_webhooks']),
    '413': errorResponse('The body is larger than 1 MB.', ['payload_too_large']),
    '415': errorResponse('Unsupported `Content-Encoding` or charset.', ['unsupported_encoding']),
    '500': responseRef('Internal'),
    '503': webhookUnavailable,
  },
};

const unsubscribeToken: ParameterObject = {
  name: 'token',
  in: 'path',
  required: true,
  description: 'From the `List-Unsubscribe` header or the link at the end of the email.',
  schema: string,
};

const webhookHandshake: OperationObject = {
  operationId: 'webhookHandshake',
  summary: 'Answer a vendor subscription check',
  description:
    'Only Meta uses GET: `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` is answered with the challenge as `text/plain` when the token matches `META_VERIFY_TOKEN`, else 403. Other connectors answer 405.',
  tags: ['webhooks'],
  security: PUBLIC,
  parameters: [
    connectorParameter,
    { name: 'hub.mode', in: 'query', description: 'meta: `subscribe`.', schema: string },
    { name: 'hub.verify_token', in: 'query', description: 'meta: the Verify Token typed into the Meta dashboard.', schema: string },
    { name: 'hub.challenge', in: 'query', description: 'meta: echoed back on success.', schema: string },
  ],
  responses: {
    '200': { description: 'The challenge, verbatim.', content: { 'text/plain': { schema: { type: 'string', minLength: 1 } } } },
    '400': { description: '`hub.challenge` is missing.', content: { 'text/plain': { schema: string } } },
    '403': { description: '`hub.mode` or `hub.verify_token` does not match.', content: { 'text/plain': { schema: string } } },
    '404': errorResponse('No such connector is configured, or it does not receive webhooks.', ['unknown_connector', 'no_webhooks']),
    '405': errorResponse('The connector has no GET handshake: webhooks are delivered with POST.', ['method_not_allowed']),
    '500': responseRef('Internal'),
    '503': errorResponse('This instance is shutting down.', ['shutting_down'], RETRY_AFTER),
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The API: bearer token on everything under /api except this document.

const badRequest = errorResponse('A malformed parameter (e.g. a non-integer id or limit) or an unreadable JSON request body.', ['bad_request']);
const bodyTooLarge = errorResponse('The request body of an authenticated call is larger than the 100 kB API limit.', ['payload_too_large']);
const notFound = (what: string): ResponseObject => errorResponse(`No such ${what}.`, ['not_found']);

function apiOperation(operation: Omit<OperationObject, 'security' | 'responses'> & { responses: Record<string, ResponseObject | Reference> }): OperationObject {
  return {
    ...operation,
    security: API_TOKEN,
    responses: { ...operation.responses, '401': responseRef('Unauthorized'), '500': responseRef('Internal') },
  };
}

/** `POST /api/merge-suggestions/{id}/accept` and `…/reject`: one shape, two decisions. */
function suggestionDecision(verb: 'accept' | 'reject', summary: string, description: string, conflict: string): OperationObject {
  return apiOperation({
    operationId: `${verb}MergeSuggestion`,
    summary,
    description: `Takes no request body. ${description} Audited.`,
    tags: ['customers'],
    parameters: [idParameter('suggestion')],
    responses: {
      '200': { description: verb === 'accept' ? 'Merged.' : 'Rejected.', content: json(ref('MergeDecision')) },
      '400': badRequest,
      '404': notFound('suggestion'),
      '409': errorResponse(conflict, ['conflict']),
      '413': bodyTooLarge,
    },
  });
}

const paths: Record<string, PathItemObject> = {
  ...customerContactsPaths,
  '/healthz': {
    get: {
      operationId: 'getHealth',
      summary: 'Liveness',
      tags: ['health'],
      security: PUBLIC,
      responses: { '200': { description: 'The process answers HTTP.', content: json(ref('Health')) } },
    },
  },
  '/readyz': {
    get: {
      operationId: 'getReadiness',
      summary: 'Readiness: PostgreSQL and Redis answer (each checked with a 2 s timeout)',
      tags: ['health'],
      security: PUBLIC,
      responses: {
        '200': { description: 'Both answer.', content: json(record('Both checks passed.', { postgres: { const: 'ok' }, redis: { const: 'ok' } }), { postgres: 'ok', redis: 'ok' }) },
        '503': {
          description: 'A dependency does not answer (the failing check carries `timeout` or the error message), or the instance is shutting down.',
          content: json({ oneOf: [ref('Readiness'), ref('Draining')] }),
        },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description:
        'Prometheus text exposition (format 0.0.4): crmflow counters (runs, webhooks, outbound messages, pulls, merges), the queue depth read from Redis on each scrape, and Node process metrics. Protected by `CRMFLOW_METRICS_TOKEN` as a bearer token when set; when it is not set, only loopback clients are answered. Counts are per process.',
      tags: ['health'],
      security: [{ metricsToken: [] }, {}],
      responses: {
        '200': {
          description: 'The metrics.',
          content: { 'text/plain': { schema: { type: 'string' }, example: '# HELP crmflow_runs_started_total Workflow run attempts started...\n' } },
        },
        '401': errorResponse('`CRMFLOW_METRICS_TOKEN` is set and the request does not carry it.', ['unauthorized'], {
          'WWW-Authenticate': { description: '`Bearer`', schema: string },
        }),
        '403': errorResponse('No `CRMFLOW_METRICS_TOKEN` is set and the client is not on loopback.', ['forbidden']),
      },
    },
  },
  '/webhooks/{connector}': { get: webhookHandshake, post: receiveWebhook },
  '/unsubscribe/{token}': {
    get: {
      operationId: 'showUnsubscribe',
      summary: 'The unsubscribe page of an auto-reply email link',
      description: 'Public: the HMAC-signed token (CRMFLOW_SECRET_KEY) is the credential. Changes nothing (mail scanners fetch links); its form POSTs back.',
      tags: ['messages'],
      security: PUBLIC,
      parameters: [unsubscribeToken],
      responses: {
        '200': { description: 'A confirmation form.', content: { 'text/html': { schema: string } } },
        '404': errorResponse('A forged, altered or malformed token. Nothing changed.', ['not_found']),
      },
    },
    post: {
      operationId: 'unsubscribe',
      summary: 'Revoke the email consent of the link’s address (RFC 8058 one-click)',
      description: 'What `List-Unsubscribe-Post: List-Unsubscribe=One-Click` mail clients and the page’s form send; the body is not read. Repeating it changes nothing more.',
      tags: ['messages'],
      security: PUBLIC,
      parameters: [unsubscribeToken],
      responses: {
        '200': { description: 'Unsubscribed: no auto-reply email goes to the address any more.', content: { 'text/html': { schema: string } } },
        '404': errorResponse('A forged, altered or malformed token. Nothing changed.', ['not_found']),
      },
    },
  },
  '/api/openapi.json': {
    get: {
      operationId: 'getOpenApi',
      summary: 'This OpenAPI 3.1 description',
      description: 'Public: the document holds no secrets.',
      tags: ['meta'],
      security: PUBLIC,
      responses: { '200': { description: 'The document.', content: json(ref('OpenApi')) } },
    },
  },
  '/api/customers': {
    get: apiOperation({
      operationId: 'listCustomers',
      summary: 'Search customers; each match is the full record',
      description: 'Filters combine with AND. Merged customers are not listed (their survivor is).',
      tags: ['customers'],
      parameters: [
        { name: 'email', in: 'query', description: 'An email identity, normalized first (case-insensitive).', schema: string },
        { name: 'phone', in: 'query', description: 'A phone identity, normalized to E.164 first (`CRMFLOW_DEFAULT_REGION` for national numbers).', schema: string },
        { name: 'q', in: 'query', description: 'A name prefix (case-insensitive) or any identity value, exactly.', schema: string },
        limitParameter(20, 100),
      ],
      responses: { '200': { description: 'Matches, newest first.', content: json(ref('CustomerList')) }, '400': badRequest },
    }),
  },
  '/api/customers/{id}': {
    get: apiOperation({
      operationId: 'getCustomer',
      summary: 'One customer record',
      description: 'A merged id resolves to the surviving customer, with `resolved_from` set to the id asked for.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: { '200': { description: 'The record.', content: json(ref('Customer')) }, '400': badRequest, '404': notFound('customer') },
    }),
    delete: apiOperation({
      operationId: 'eraseCustomer',
      summary: 'Erase a person (right to erasure)',
      description:
        'Deletes or anonymises every row about the customer and those merged into it, raw inbound payloads and run records included (see the data map in src/store/customer-data-map.ts). Their identities are kept only as salted hashes: replays, pulls, backfills and old redeliveries do not re-create the person; a new webhook contact from them does. Audited with ids and counts only.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: { '200': { description: 'Erased.', content: json(ref('Erased')) }, '400': badRequest, '404': notFound('customer') },
    }),
  },
  '/api/customers/{id}/export': {
    get: apiOperation({
      operationId: 'exportCustomer',
      summary: 'Everything about a person, as one JSON document (right of access)',
      description: 'Audited.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: { '200': { description: 'The document.', content: json(ref('CustomerExport')) }, '400': badRequest, '404': notFound('customer') },
    }),
  },
  '/api/customers/{id}/unmerge': {
    post: apiOperation({
      operationId: 'unmergeCustomer',
      summary: 'Undo a merge exactly',
      description:
        'Identities, timeline, assignments, messages, runs and lifecycle history moved by the merge return to the merged customer, and both customer rows get back the columns they had before it. The pair is then remembered as different people: an event linking them again makes a suggestion, not a merge. Audited.',
      tags: ['customers'],
      parameters: [idParameter('kept customer')],
      requestBody: {
        description: 'Which merge: its id, or the merged customer’s id (its latest merge into this customer).',
        required: true,
        content: json({ oneOf: [record('By merge id.', { merge_id: integer }), record('By merged customer.', { customer_id: integer })] }),
      },
      responses: {
        '200': { description: 'Undone.', content: json(ref('Unmerged')) },
        '400': badRequest,
        '404': notFound('merge into this customer'),
        '409': errorResponse('Already undone, or the kept customer was merged into another since (undo that first).', ['conflict']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/merge-suggestions': {
    get: apiOperation({
      operationId: 'listMergeSuggestions',
      summary: 'Likely duplicates for review, newest first',
      description: 'From identity rules (a link that may not merge, a cap) and from the scheduled duplicate finder (similar names plus a shared email local part or phone suffix), each with its evidence and score.',
      tags: ['customers'],
      parameters: [
        { name: 'status', in: 'query', description: 'open (default), accepted or rejected.', schema: { enum: ['open', 'accepted', 'rejected'] } },
        beforeParameter('suggestions'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of suggestions.', content: json(ref('MergeSuggestionList')) }, '400': badRequest },
    }),
  },
  '/api/merge-suggestions/{id}/accept': {
    post: suggestionDecision(
      'accept',
      'Merge the two customers of a suggestion',
      'The older customer keeps the other; the merge records `accepted suggestion by <actor>` and can be undone.',
      'Already decided, or the two are already one customer.',
    ),
  },
  '/api/merge-suggestions/{id}/reject': {
    post: suggestionDecision('reject', 'Mark a suggestion as different people, for good', 'The pair is never suggested again, and identity rules no longer merge them.', 'Already decided.'),
  },
  '/api/customers/{id}/consent': {
    put: apiOperation({
      operationId: 'setCustomerConsent',
      summary: 'Record a customer’s consent (or opt-out) for one channel',
      description:
        'Applies to every address of the customer that reaches the channel; kept per address, so it survives merges and unmerges. Every reply checks it at send time: an opted-out address is never sent to (the reply is recorded as skipped with the reason). Audited.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      requestBody: {
        description: 'The channel, whether the customer consents, and optionally why (default `api`).',
        required: true,
        content: json(
          record('A consent statement.', { channel: { enum: CONSENT_CHANNEL_NAMES }, granted: { type: 'boolean' }, source: { type: 'string', minLength: 1, maxLength: 200 } }, ['source']),
          { channel: 'sms', granted: false, source: 'asked by phone' },
        ),
      },
      responses: {
        '200': { description: 'Saved.', content: json(ref('ConsentSaved')) },
        '400': badRequest,
        '404': notFound('customer'),
        '409': errorResponse('The customer has no address for the channel (e.g. no phone for sms).', ['no_address']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/runs': {
    get: apiOperation({
      operationId: 'listRuns',
      summary: 'Workflow runs, newest first, keyset-paginated',
      tags: ['runs'],
      parameters: [
        { name: 'workflow', in: 'query', description: 'A workflow id.', schema: string },
        { name: 'status', in: 'query', description: 'A run status (other values match nothing).', schema: { enum: RUN_STATUSES } },
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
      responses: { '200': { description: 'The run.', content: json(ref('RunDetail')) }, '400': badRequest, '404': notFound('run') },
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
        '409': errorResponse('The run has not failed (queued, running, waiting, succeeded or filtered).', ['not_failed']),
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
        '409': errorResponse('The run was not started by a stored event, or its workflow is gone from workflows.yaml.', ['not_replayable', 'workflow_gone']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/runs/{id}/cancel': {
    post: apiOperation({
      operationId: 'cancelRun',
      summary: 'Cancel a queued, stuck, waiting or failed run, with a reason',
      description: 'A step already executing finishes; no later step starts, and the run is never retried or resumed. Audited with the reason.',
      tags: ['runs'],
      parameters: [idParameter('run')],
      requestBody: { description: 'Why.', required: true, content: json(record('The reason, 1 to 500 characters.', { reason: string })) },
      responses: {
        '200': { description: 'Cancelled.', content: json(ref('RunCancelled')) },
        '400': badRequest,
        '404': notFound('run'),
        '409': errorResponse('The run has succeeded, was filtered or is already cancelled.', ['not_cancellable']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/messages': {
    get: apiOperation({
      operationId: 'listMessages',
      summary: 'Outbound messages, newest first (in demo mode: the local outbox)',
      description: '`status=uncertain` lists the messages whose delivery is unknown (a vendor timeout or reset after sending): they are never resent automatically.',
      tags: ['messages'],
      parameters: [
        { name: 'status', in: 'query', description: 'Only messages with this status.', schema: { enum: MESSAGE_STATUSES } },
        customerIdParameter('messages'),
        beforeParameter('messages'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of messages.', content: json(ref('MessageList')) }, '400': badRequest },
    }),
  },
  '/api/messages/{id}/resend': {
    post: apiOperation({
      operationId: 'resendMessage',
      summary: 'Send an uncertain message again, once a person has checked it did not arrive',
      description:
        'Takes no request body. Sends the recorded text to the recorded recipient through the same transport and answers with the outcome. Audited before sending.',
      tags: ['messages'],
      parameters: [idParameter('message')],
      responses: {
        '200': { description: 'The outcome of the resend.', content: json(ref('ResendResult')) },
        '400': badRequest,
        '404': notFound('message'),
        '409': errorResponse('The message is not uncertain (sent, failed, skipped, or resent by someone else meanwhile).', ['not_uncertain']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/workflows': {
    get: apiOperation({
      operationId: 'listWorkflows',
      summary: 'The loaded workflows',
      tags: ['workflows'],
      responses: { '200': { description: 'Every workflow in workflows.yaml, disabled ones included.', content: json(ref('WorkflowList')) } },
    }),
  },
  '/api/agents': {
    get: apiOperation({
      operationId: 'listAgents',
      summary: 'Agents with availability and open leads',
      tags: ['agents'],
      responses: { '200': { description: 'Every agent declared in workflows.yaml.', content: json(ref('AgentList')) } },
    }),
  },
  '/api/agents/{id}/availability': {
    put: apiOperation({
      operationId: 'setAgentAvailability',
      summary: 'Switch an agent on or off for new leads, without a restart',
      tags: ['agents'],
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The agent id.', schema: string }],
      requestBody: {
        description: 'Whether the agent takes new leads.',
        required: true,
        content: json(record('The new availability.', { available: { type: 'boolean' } })),
      },
      responses: {
        '200': { description: 'Saved; assignments from now on follow it.', content: json(ref('AgentAvailability')) },
        '400': badRequest,
        '404': notFound('agent'),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/tasks': {
    get: apiOperation({
      operationId: 'listTasks',
      summary: 'Follow-up tasks, newest first, keyset-paginated',
      tags: ['tasks'],
      parameters: [
        { name: 'agent_id', in: 'query', description: 'Only the tasks of this agent.', schema: string },
        { name: 'status', in: 'query', description: 'A task status (other values match nothing).', schema: { enum: TASK_STATUSES } },
        customerIdParameter('tasks'),
        beforeParameter('tasks'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of tasks.', content: json(ref('TaskList')) }, '400': badRequest },
    }),
  },
  '/api/tasks/{id}/complete': {
    post: apiOperation({
      operationId: 'completeTask',
      summary: 'Mark an open task done',
      description: 'Takes no request body. Audited. A done task fires no task.due or task.overdue any more.',
      tags: ['tasks'],
      parameters: [idParameter('task')],
      responses: {
        '200': { description: 'The task, now done.', content: json(ref('Task')) },
        '400': badRequest,
        '404': notFound('task'),
        '409': errorResponse('The task is not open (done or cancelled).', ['not_open']),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/audit': {
    get: apiOperation({
      operationId: 'listAudit',
      summary: 'The audit log of human actions, newest first, keyset-paginated',
      description:
        'Sign-ins (and failed ones), sign-outs, run retries, replays and cancellations, message resends, polls, availability changes, CLI replays and backfills, from the dashboard, this API and the CLI. Read only: the table refuses updates and deletes. On the dashboard only admins see it (`/audit`).',
      tags: ['audit'],
      parameters: [beforeParameter('entries'), limitParameter(50, 500)],
      responses: { '200': { description: 'A page of entries.', content: json(ref('AuditList')) }, '400': badRequest },
    }),
  },
  '/api/workflows/{id}/poll': {
    post: apiOperation({
      operationId: 'pollWorkflow',
      summary: 'Run a poll workflow’s pull now',
      description: 'Takes no request body. A disabled workflow’s pull is queued but does nothing.',
      tags: ['workflows'],
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The workflow id.', schema: string }],
      responses: {
        '202': { description: 'Queued.', content: json(ref('PollQueued')) },
        '400': badRequest,
        '404': notFound('workflow'),
        '409': errorResponse('The workflow is not started by a poll trigger, or it is disabled.', ['not_a_poll', 'disabled']),
        '413': bodyTooLarge,
      },
    }),
  },
};

export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'crmflow',
    version: '0.1.0',
    description:
      'Signed vendor webhooks in, one unified customer record out. `/api/*` needs `Authorization: Bearer $CRMFLOW_API_TOKEN` (except this document); webhooks are authenticated by vendor signatures; `/healthz` and `/readyz` are public. Every JSON error is `{"error": {"code", "message"}}`. API request bodies are limited to 100 kB, webhook bodies to 1 MB.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  tags: [
    { name: 'health', description: 'Liveness, readiness and metrics.' },
    { name: 'webhooks', description: 'Vendor deliveries, verified by signature.' },
    { name: 'customers', description: 'The unified customer records.' },
    { name: 'runs', description: 'Workflow runs and their step records.' },
    { name: 'messages', description: 'Outbound replies.' },
    { name: 'workflows', description: 'The workflows loaded from workflows.yaml.' },
    { name: 'agents', description: 'Sales agents and their availability.' },
    { name: 'tasks', description: 'Follow-up tasks created by workflows.' },
    { name: 'audit', description: 'Who did what, when, from where.' },
    { name: 'meta', description: 'This description.' },
  ],
  paths,
  components: {
    schemas: { ...schemas, ...customerContactsSchemas },
    responses: {
      Unauthorized: errorResponse('Missing or wrong bearer token.', ['unauthorized'], { 'WWW-Authenticate': { description: '`Bearer`', schema: string } }),
      Internal: errorResponse('An unexpected error (details are logged, never sent).', ['internal']),
    },
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'The value of `CRMFLOW_API_TOKEN`.' },
      metricsToken: { type: 'http', scheme: 'bearer', description: 'The value of `CRMFLOW_METRICS_TOKEN`.' },
    },
  },
};
