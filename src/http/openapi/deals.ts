import { DEAL_STATUSES } from '../../operations/deals.js';
import {
  apiOperation,
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
  type PathItemObject,
  record,
  ref,
  string,
} from './common.js';

/** OpenAPI: deals, pipeline forecasts and stats (`src/http/api/deals.ts`). Spread into the document by src/http/openapi.ts. */
const badRequest = errorResponse('A malformed parameter or body (a non-integer id, an unknown status or stage).', [
  'bad_request',
]);
const pipelineParameter = {
  name: 'id',
  in: 'path' as const,
  required: true,
  description: 'The pipeline id.',
  schema: string,
};
const amount: JsonSchema = { type: ['number', 'null'], description: 'Unknown is null, never 0.' };

const dealProperties: Record<string, JsonSchema> = {
  id: integer,
  customer_id: integer,
  pipeline: string,
  stage: string,
  status: { enum: DEAL_STATUSES },
  name: nullableString,
  amount,
  currency: nullableString,
  owner_agent_id: nullableString,
  expected_close_on: { type: ['string', 'null'], format: 'date' },
  source: {
    ...nullableString,
    description: 'What opened it: `<connector>:<event type>:<event id>`, `run:<id>` or `user:<name>`.',
  },
  source_run_id: nullableInteger,
  opened_at: { ...dateTime, description: 'When the opening event happened at the vendor.' },
  stage_entered_at: dateTime,
  closed_at: nullableDateTime,
  close_reason: nullableString,
  created_at: dateTime,
  updated_at: dateTime,
};

const month = record('One expected-close month (UTC).', {
  month: { ...string, pattern: '^\\d{4}-\\d{2}$' },
  open_amount: { type: 'number', description: 'Open deals expected to close this month.' },
  weighted_amount: { type: 'number', description: 'Their amounts × their stage probabilities.' },
  won_amount: { type: 'number', description: 'Deals won this month.' },
  open_deals: integer,
  won_deals: integer,
});

export const dealsSchemas: Record<string, JsonSchema> = {
  Deal: record('A deal of a sales pipeline.', dealProperties),
  DealList: record('A page of deals, newest first.', {
    deals: { type: 'array', items: ref('Deal') },
    next_before: nullableInteger,
  }),
  DealDetail: record('A deal with its stage history, oldest first.', {
    ...dealProperties,
    stale: { type: 'boolean', description: "Open and in its stage longer than the stage's rot_after." },
    history: {
      type: 'array',
      items: record('A stage the deal entered.', {
        id: integer,
        from_stage: nullableString,
        to_stage: string,
        amount,
        at: { ...dateTime, description: 'When it happened (vendor time, or when a person moved it).' },
        source: nullableString,
        actor: { ...nullableString, description: 'The person who moved it; null for workflows.' },
        reason: nullableString,
        recorded_at: dateTime,
      }),
    },
  }),
  DealMoved: record('The deal after the move.', {
    ...dealProperties,
    changed: { type: 'boolean', description: 'False when the deal was already in that stage.' },
  }),
  Forecast: record("A pipeline's forecast in its currency.", {
    pipeline: string,
    currency: string,
    months: { type: 'array', items: month },
    unscheduled: record('Open deals with no expected close date, or one before the first month.', {
      deals: integer,
      amount: { type: 'number' },
    }),
    other_currency_deals: {
      ...integer,
      description: "Deals in another currency than the pipeline's, left out of every sum.",
    },
  }),
  PipelineStats: record('Win rate and average time per stage.', {
    pipeline: string,
    won_deals: integer,
    lost_deals: integer,
    win_rate: { type: ['number', 'null'], description: 'Won ÷ (won + lost); null before any deal closed.' },
    stages: {
      type: 'array',
      items: record('An open stage.', {
        stage: string,
        deals: { ...integer, description: 'Deals that entered it.' },
        average_days: {
          type: ['number', 'null'],
          description: 'Average days in it (a deal still there counts until now).',
        },
      }),
    },
  }),
};

export const dealsPaths: Record<string, PathItemObject> = {
  '/api/deals': {
    get: apiOperation({
      operationId: 'listDeals',
      summary: 'Deals, newest first, keyset-paginated',
      tags: ['deals'],
      parameters: [
        {
          name: 'customer_id',
          in: 'query',
          description: 'Only the deals of this customer (any id of a merged customer).',
          schema: { type: 'integer', minimum: 0 },
        },
        { name: 'pipeline', in: 'query', description: 'A pipeline id.', schema: string },
        { name: 'stage', in: 'query', description: 'A stage id.', schema: string },
        { name: 'owner', in: 'query', description: 'An agent id.', schema: string },
        { name: 'status', in: 'query', description: 'open, won or lost.', schema: { enum: DEAL_STATUSES } },
        beforeParameter('deals'),
        limitParameter(50, 500),
      ],
      responses: { '200': { description: 'A page of deals.', content: json(ref('DealList')) }, '400': badRequest },
    }),
  },
  '/api/deals/{id}': {
    get: apiOperation({
      operationId: 'getDeal',
      summary: 'A deal with its stage history',
      tags: ['deals'],
      parameters: [idParameter('deal')],
      responses: {
        '200': { description: 'The deal.', content: json(ref('DealDetail')) },
        '400': badRequest,
        '404': notFound('deal'),
      },
    }),
  },
  '/api/deals/{id}/stage': {
    post: apiOperation({
      operationId: 'moveDeal',
      summary: 'Move a deal to another stage of its pipeline',
      description:
        'Body `{"stage": "quote", "reason": "…"}` (reason optional). Any direction; the won or lost stage closes the deal. Fires deal.stage_changed (and deal.won / deal.lost). Audited (`deal.stage`).',
      tags: ['deals'],
      parameters: [idParameter('deal')],
      requestBody: {
        description: 'The stage to move to.',
        required: true,
        content: json({
          type: 'object',
          properties: { stage: string, reason: { ...string, maxLength: 500 } },
          required: ['stage'],
        }),
      },
      responses: {
        '200': { description: 'Moved (or already there: `changed: false`).', content: json(ref('DealMoved')) },
        '400': badRequest,
        '404': notFound('deal'),
        '409': errorResponse('The deal is won or lost, or its pipeline is no longer declared.', [
          'deal_closed',
          'pipeline_gone',
          'deal_not_moved',
        ]),
        '413': bodyTooLarge,
      },
    }),
  },
  '/api/pipelines/{id}/forecast': {
    get: apiOperation({
      operationId: 'pipelineForecast',
      summary: 'Forecast per expected-close month: open, weighted and won amounts',
      description:
        'From the current month (UTC). Weighted = amount × the stage probability; won amounts count in the month the deal was won.',
      tags: ['deals'],
      parameters: [
        pipelineParameter,
        {
          name: 'months',
          in: 'query',
          description: 'How many months (1 to 24, default 6).',
          schema: { type: 'integer', minimum: 1, maximum: 24, default: 6 },
        },
      ],
      responses: {
        '200': { description: 'The forecast.', content: json(ref('Forecast')) },
        '400': badRequest,
        '404': notFound('pipeline'),
      },
    }),
  },
  '/api/pipelines/{id}/stats': {
    get: apiOperation({
      operationId: 'pipelineStats',
      summary: 'Win rate and average time per stage',
      tags: ['deals'],
      parameters: [pipelineParameter],
      responses: {
        '200': { description: 'The figures.', content: json(ref('PipelineStats')) },
        '404': notFound('pipeline'),
      },
    }),
  },
};
