/** OpenAPI description of `src/http/api/deals.ts` (deals, pipeline forecasts and stats), spread into `../openapi.ts`. */
import type { JsonSchema, PathItemObject, ResponseObject } from '../openapi.js';

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const error = (description: string, codes: string[]): ResponseObject => ({
  description,
  content: json({ $ref: '#/components/schemas/Error', properties: { error: { properties: { code: { enum: codes } } } } }),
});
const common = { '401': { $ref: '#/components/responses/Unauthorized' }, '500': { $ref: '#/components/responses/Internal' } };
const badRequest = error('A malformed parameter or body (a non-integer id, an unknown status or stage).', ['bad_request']);
const security = [{ apiToken: [] }];
const idParameter = { name: 'id', in: 'path' as const, required: true, description: 'The deal id.', schema: { type: 'integer', minimum: 0 } };

const amount: JsonSchema = { type: ['number', 'null'], description: 'Unknown is null, never 0.' };
const nullableString: JsonSchema = { type: ['string', 'null'] };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };

function record(description: string, properties: Record<string, JsonSchema>): JsonSchema {
  return { type: 'object', description, properties, required: Object.keys(properties), additionalProperties: false };
}

const dealProperties: Record<string, JsonSchema> = {
  id: { type: 'integer' },
  customer_id: { type: 'integer' },
  pipeline: { type: 'string' },
  stage: { type: 'string' },
  status: { enum: ['open', 'won', 'lost'] },
  name: nullableString,
  amount,
  currency: nullableString,
  owner_agent_id: nullableString,
  expected_close_on: { type: ['string', 'null'], format: 'date' },
  source: { ...nullableString, description: 'What opened it: `<connector>:<event type>:<event id>`, `run:<id>` or `user:<name>`.' },
  source_run_id: { type: ['integer', 'null'] },
  opened_at: { ...dateTime, description: 'When the opening event happened at the vendor.' },
  stage_entered_at: dateTime,
  closed_at: { type: ['string', 'null'], format: 'date-time' },
  close_reason: nullableString,
  created_at: dateTime,
  updated_at: dateTime,
};

const month = record('One expected-close month (UTC).', {
  month: { type: 'string', pattern: '^\\d{4}-\\d{2}$' },
  open_amount: { type: 'number', description: 'Open deals expected to close this month.' },
  weighted_amount: { type: 'number', description: 'Their amounts × their stage probabilities.' },
  won_amount: { type: 'number', description: 'Deals won this month.' },
  open_deals: { type: 'integer' },
  won_deals: { type: 'integer' },
});

export const dealsSchemas: Record<string, JsonSchema> = {
  Deal: record('A deal of a sales pipeline.', dealProperties),
  DealList: record('A page of deals, newest first.', { deals: { type: 'array', items: ref('Deal') }, next_before: { type: ['integer', 'null'] } }),
  DealDetail: record('A deal with its stage history, oldest first.', {
    ...dealProperties,
    stale: { type: 'boolean', description: "Open and in its stage longer than the stage's rot_after." },
    history: {
      type: 'array',
      items: record('A stage the deal entered.', {
        id: { type: 'integer' },
        from_stage: nullableString,
        to_stage: { type: 'string' },
        amount,
        at: { ...dateTime, description: 'When it happened (vendor time, or when a person moved it).' },
        source: nullableString,
        actor: { ...nullableString, description: 'The person who moved it; null for workflows.' },
        reason: nullableString,
        recorded_at: dateTime,
      }),
    },
  }),
  DealMoved: record('The deal after the move.', { ...dealProperties, changed: { type: 'boolean', description: 'False when the deal was already in that stage.' } }),
  Forecast: record("A pipeline's forecast in its currency.", {
    pipeline: { type: 'string' },
    currency: { type: 'string' },
    months: { type: 'array', items: month },
    unscheduled: record('Open deals with no expected close date, or one before the first month.', { deals: { type: 'integer' }, amount: { type: 'number' } }),
    other_currency_deals: { type: 'integer', description: "Deals in another currency than the pipeline's, left out of every sum." },
  }),
  PipelineStats: record('Win rate and average time per stage.', {
    pipeline: { type: 'string' },
    won_deals: { type: 'integer' },
    lost_deals: { type: 'integer' },
    win_rate: { type: ['number', 'null'], description: 'Won ÷ (won + lost); null before any deal closed.' },
    stages: {
      type: 'array',
      items: record('An open stage.', {
        stage: { type: 'string' },
        deals: { type: 'integer', description: 'Deals that entered it.' },
        average_days: { type: ['number', 'null'], description: 'Average days in it (a deal still there counts until now).' },
      }),
    },
  }),
};

export const dealsPaths: Record<string, PathItemObject> = {
  '/api/deals': {
    get: {
      operationId: 'listDeals',
      summary: 'Deals, newest first, keyset-paginated',
      tags: ['deals'],
      security,
      parameters: [
        { name: 'customer_id', in: 'query', description: 'Only the deals of this customer (any id of a merged customer).', schema: { type: 'integer', minimum: 0 } },
        { name: 'pipeline', in: 'query', description: 'A pipeline id.', schema: { type: 'string' } },
        { name: 'stage', in: 'query', description: 'A stage id.', schema: { type: 'string' } },
        { name: 'owner', in: 'query', description: 'An agent id.', schema: { type: 'string' } },
        { name: 'status', in: 'query', description: 'open, won or lost.', schema: { enum: ['open', 'won', 'lost'] } },
        { name: 'before', in: 'query', description: 'Keyset pagination: only deals with an id below this.', schema: { type: 'integer', minimum: 0 } },
        { name: 'limit', in: 'query', description: 'How many: default 50, capped at 500.', schema: { type: 'integer', minimum: 0, default: 50 } },
      ],
      responses: { '200': { description: 'A page of deals.', content: json(ref('DealList')) }, '400': badRequest, ...common },
    },
  },
  '/api/deals/{id}': {
    get: {
      operationId: 'getDeal',
      summary: 'A deal with its stage history',
      tags: ['deals'],
      security,
      parameters: [idParameter],
      responses: { '200': { description: 'The deal.', content: json(ref('DealDetail')) }, '400': badRequest, '404': error('No such deal.', ['not_found']), ...common },
    },
  },
  '/api/deals/{id}/stage': {
    post: {
      operationId: 'moveDeal',
      summary: 'Move a deal to another stage of its pipeline',
      description:
        'Body `{"stage": "quote", "reason": "…"}` (reason optional). Any direction; the won or lost stage closes the deal. Fires deal.stage_changed (and deal.won / deal.lost). Audited (`deal.stage`).',
      tags: ['deals'],
      security,
      parameters: [idParameter],
      requestBody: {
        description: 'The stage to move to.',
        required: true,
        content: json({ type: 'object', properties: { stage: { type: 'string' }, reason: { type: 'string', maxLength: 500 } }, required: ['stage'] }),
      },
      responses: {
        '200': { description: 'Moved (or already there: `changed: false`).', content: json(ref('DealMoved')) },
        '400': badRequest,
        '404': error('No such deal.', ['not_found']),
        '409': error('The deal is won or lost, or its pipeline is no longer declared.', ['deal_closed', 'pipeline_gone', 'deal_not_moved']),
        '413': error('The request body is larger than the 100 kB API limit.', ['payload_too_large']),
        ...common,
      },
    },
  },
  '/api/pipelines/{id}/forecast': {
    get: {
      operationId: 'pipelineForecast',
      summary: 'Forecast per expected-close month: open, weighted and won amounts',
      description: 'From the current month (UTC). Weighted = amount × the stage probability; won amounts count in the month the deal was won.',
      tags: ['deals'],
      security,
      parameters: [
        { name: 'id', in: 'path', required: true, description: 'The pipeline id.', schema: { type: 'string' } },
        { name: 'months', in: 'query', description: 'How many months (1 to 24, default 6).', schema: { type: 'integer', minimum: 1, maximum: 24, default: 6 } },
      ],
      responses: { '200': { description: 'The forecast.', content: json(ref('Forecast')) }, '400': badRequest, '404': error('No such pipeline.', ['not_found']), ...common },
    },
  },
  '/api/pipelines/{id}/stats': {
    get: {
      operationId: 'pipelineStats',
      summary: 'Win rate and average time per stage',
      tags: ['deals'],
      security,
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The pipeline id.', schema: { type: 'string' } }],
      responses: { '200': { description: 'The figures.', content: json(ref('PipelineStats')) }, '404': error('No such pipeline.', ['not_found']), ...common },
    },
  },
};
