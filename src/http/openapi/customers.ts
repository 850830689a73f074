import { CONSENT_CHANNELS } from '../../customers/consent.js';
import { SUGGESTION_STATUSES } from '../../operations/merge-suggestions.js';
import { MESSAGE_STATUSES } from '../../operations/messages.js';
import { customerSegmentProperties } from './segments.js';
import { customerTask } from './tasks.js';
import {
  anyJson,
  apiOperation,
  badRequest,
  beforeParameter,
  bodyTooLarge,
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
  type OperationObject,
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: Customers: lookup, the record, consent, unmerge, export, erasure, and merge suggestions. Spread into the document by src/http/openapi.ts. */
const customerIdentity = record('A way to recognise the customer; one (kind, value) belongs to exactly one customer.', {
  kind: {
    type: 'string',
    description: '`email`, `phone` or a vendor id kind such as `shopify_customer`.',
    examples: ['email'],
  },
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

const customerMerge = record(
  'A merge into this customer (its id keeps resolving here), or of this customer into another, oldest first.',
  {
    id: { type: 'integer', description: 'The merge id (for `POST /api/customers/{id}/unmerge`).' },
    kept_id: integer,
    merged_id: integer,
    linked_by: {
      type: ['array', 'null'],
      items: ref('Identity'),
      description: "The merged customer's identities the linking event shared; empty for an accepted suggestion.",
    },
    event: {
      ...nullableString,
      description: 'What brought them together: `run:<id>` (an event’s run) or `suggestion:<id>`.',
    },
    why: { ...nullableString, examples: ['shared email', 'accepted suggestion by api-token'] },
    reason: { type: 'object', description: 'The full record: the event’s identities, `linked_by`, `event`, `why`.' },
    merged_at: dateTime,
    unmerged_at: { ...nullableDateTime, description: 'When the merge was undone; null while it stands.' },
    unmerged_by: nullableString,
  },
);

const mergeSuggestion = record('Two customers that are probably one person, for review.', {
  id: integer,
  customer_a: integer,
  customer_b: integer,
  score: {
    type: ['number', 'null'],
    description:
      'Name similarity (Jaro–Winkler, 0..1) for the duplicate finder’s suggestions; null for those a rule made.',
  },
  reason: {
    type: 'object',
    description:
      'Evidence: `why`, and the names and shared email local part or phone suffix, or the event and identities that linked them.',
  },
  status: { enum: SUGGESTION_STATUSES },
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
  transport: {
    type: 'string',
    description:
      'What carried it: `smtp`, a connector (`twilio`, `meta`), or `outbox` in demo mode (kept here, not delivered).',
  },
  recipient: string,
  subject: nullableString,
  status: { enum: MESSAGE_STATUSES },
  status_reason: nullableString,
  created_at: dateTime,
  sent_at: nullableDateTime,
  agent_id: {
    ...nullableString,
    description: 'The agent who sent it from crmflow; null: automated (a workflow’s reply).',
  },
});

const scoreChange = record('A change of the lead score (score step), newest first (at most 100).', {
  delta: integer,
  score: { type: 'integer', description: 'The score after the change.' },
  source: { ...nullableString, description: '`run:<id>`.' },
  changed_at: dateTime,
});

const CONSENT_CHANNEL_NAMES = Object.keys(CONSENT_CHANNELS);

const addressConsent = record(
  'Consent of one of the customer’s addresses for a channel; it stays with the address through merges and unmerges.',
  {
    address: {
      type: 'string',
      description: 'The normalized address: email, E.164 phone, `<account>:<id>` page-scoped id.',
    },
    granted: {
      type: ['boolean', 'null'],
      description: 'null: never stated (auto-replies are allowed); false: opted out, nothing is sent to it.',
    },
    source: {
      ...nullableString,
      description:
        'What stated it: a keyword such as `STOP`, `unsubscribe link`, `api` or the source given to the API.',
    },
    changed_at: nullableDateTime,
  },
);

const consentByChannel = record(
  'Consent per channel, for each of the customer’s addresses that reach it (email: emails; sms and whatsapp: phones; messenger, instagram: page-scoped ids).',
  Object.fromEntries(
    CONSENT_CHANNEL_NAMES.map((channel) => [channel, { type: 'array', items: ref('AddressConsent') }]),
  ),
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
    lifecycle_stage: {
      type: 'string',
      description: '`lead` until something makes it a `customer` (e.g. a paid invoice).',
      examples: ['lead', 'customer'],
    },
    score: { type: 'integer', description: 'Lead score: the sum of `score_history`.' },
    owner_agent_id: {
      ...nullableString,
      description: 'The agent (`agents:` in workflows.yaml) who owns the customer.',
    },
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
    ...customerSegmentProperties,
  },
  ['resolved_from', 'segments', 'segment_history'],
);

function suggestionDecision(
  verb: 'accept' | 'reject',
  summary: string,
  description: string,
  conflict: string,
): OperationObject {
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

export const customersSchemas: Record<string, JsonSchema> = {
  CustomerIdentity: customerIdentity,
  TimelineEntry: timelineEntry,
  LeadAssignment: leadAssignment,
  CustomerMerge: customerMerge,
  Identity: record('An identity.', { kind: string, value: string }),
  MergeSuggestion: mergeSuggestion,
  MergeSuggestionList: record('A page of suggestions, newest first.', {
    suggestions: { type: 'array', items: ref('MergeSuggestion') },
    next_before: {
      ...nullableInteger,
      description: 'Pass as `before` for the next page; null when this page is empty.',
    },
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
  CustomerExport: record(
    'Everything crmflow holds about a person: every row about them, by table (see src/store/customer-data-map.ts).',
    {
      customer_id: integer,
      customer_ids: { type: 'array', items: integer, description: 'The live customer and those merged into it.' },
      exported_at: dateTime,
      tables: {
        type: 'object',
        additionalProperties: { type: 'array', items: { type: 'object' } },
        description:
          'Rows as stored, by table name: customers, identities, timeline, messages, assignments, runs and their steps, raw inbound payloads, merges, suggestions, audit entries.',
      },
    },
  ),
  Erased: record('What the erasure touched.', {
    customer_ids: { type: 'array', items: integer },
    identities_blocked: {
      type: 'integer',
      description: 'Identities kept as salted hashes so that old data does not re-create the person.',
    },
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
  CustomerList: record('Matching customers, newest first, each the full record.', {
    customers: { type: 'array', items: ref('Customer') },
  }),
};

export const customersPaths: Record<string, PathItemObject> = {
  '/api/customers': {
    get: apiOperation({
      operationId: 'listCustomers',
      summary: 'Search customers; each match is the full record',
      description: 'Filters combine with AND. Merged customers are not listed (their survivor is).',
      tags: ['customers'],
      parameters: [
        {
          name: 'email',
          in: 'query',
          description: 'An email identity, normalized first (case-insensitive).',
          schema: string,
        },
        {
          name: 'phone',
          in: 'query',
          description: 'A phone identity, normalized to E.164 first (`CRMFLOW_DEFAULT_REGION` for national numbers).',
          schema: string,
        },
        {
          name: 'q',
          in: 'query',
          description: 'A name prefix (case-insensitive) or any identity value, exactly.',
          schema: string,
        },
        limitParameter(20, 100),
      ],
      responses: {
        '200': { description: 'Matches, newest first.', content: json(ref('CustomerList')) },
        '400': badRequest,
      },
    }),
  },
  '/api/customers/{id}': {
    get: apiOperation({
      operationId: 'getCustomer',
      summary: 'One customer record',
      description: 'A merged id resolves to the surviving customer, with `resolved_from` set to the id asked for.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: {
        '200': { description: 'The record.', content: json(ref('Customer')) },
        '400': badRequest,
        '404': notFound('customer'),
      },
    }),
    delete: apiOperation({
      operationId: 'eraseCustomer',
      summary: 'Erase a person (right to erasure)',
      description:
        'Deletes or anonymises every row about the customer and those merged into it, raw inbound payloads and run records included (see the data map in src/store/customer-data-map.ts). Their identities are kept only as salted hashes: replays, pulls, backfills and old redeliveries do not re-create the person; a new webhook contact from them does. Audited with ids and counts only.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: {
        '200': { description: 'Erased.', content: json(ref('Erased')) },
        '400': badRequest,
        '404': notFound('customer'),
      },
    }),
  },
  '/api/customers/{id}/export': {
    get: apiOperation({
      operationId: 'exportCustomer',
      summary: 'Everything about a person, as one JSON document (right of access)',
      description: 'Audited.',
      tags: ['customers'],
      parameters: [idParameter('customer')],
      responses: {
        '200': { description: 'The document.', content: json(ref('CustomerExport')) },
        '400': badRequest,
        '404': notFound('customer'),
      },
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
        content: json({
          oneOf: [
            record('By merge id.', { merge_id: integer }),
            record('By merged customer.', { customer_id: integer }),
          ],
        }),
      },
      responses: {
        '200': { description: 'Undone.', content: json(ref('Unmerged')) },
        '400': badRequest,
        '404': notFound('merge into this customer'),
        '409': errorResponse('Already undone, or the kept customer was merged into another since (undo that first).', [
          'conflict',
        ]),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/merge-suggestions': {
    get: apiOperation({
      operationId: 'listMergeSuggestions',
      summary: 'Likely duplicates for review, newest first',
      description:
        'From identity rules (a link that may not merge, a cap) and from the scheduled duplicate finder (similar names plus a shared email local part or phone suffix), each with its evidence and score.',
      tags: ['customers'],
      parameters: [
        {
          name: 'status',
          in: 'query',
          description: 'open (default), accepted or rejected.',
          schema: { enum: SUGGESTION_STATUSES },
        },
        beforeParameter('suggestions'),
        limitParameter(50, 500),
      ],
      responses: {
        '200': { description: 'A page of suggestions.', content: json(ref('MergeSuggestionList')) },
        '400': badRequest,
      },
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
    post: suggestionDecision(
      'reject',
      'Mark a suggestion as different people, for good',
      'The pair is never suggested again, and identity rules no longer merge them.',
      'Already decided.',
    ),
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
          record(
            'A consent statement.',
            {
              channel: { enum: CONSENT_CHANNEL_NAMES },
              granted: { type: 'boolean' },
              source: { type: 'string', minLength: 1, maxLength: 200 },
            },
            ['source'],
          ),
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
};
