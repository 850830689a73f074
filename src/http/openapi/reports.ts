import { GROUP_KEYS } from '../../reports/facts.js';
import { KPI_DEFINITIONS } from '../../reports/kpis.js';
import {
  apiOperation,
  badRequest,
  integer,
  json,
  ref,
  string,
  type JsonSchema,
  type ParameterObject,
  type PathItemObject,
} from './common.js';

const nullableNumber: JsonSchema = { type: ['number', 'null'] };
const spread = (description: string): JsonSchema => ({
  type: 'object',
  description,
  properties: { median: nullableNumber, p90: nullableNumber },
  required: ['median', 'p90'],
  additionalProperties: false,
});
const perCurrency = (description: string, value: JsonSchema): JsonSchema => ({
  type: 'object',
  description,
  additionalProperties: value,
});
const nullablePerCurrency = (description: string): JsonSchema => ({
  type: ['object', 'null'],
  description,
  additionalProperties: { type: 'number' },
});

const figures: Record<string, JsonSchema> = {
  leads: { type: 'integer', description: KPI_DEFINITIONS.leads },
  customers_won: { type: 'integer', description: KPI_DEFINITIONS.customers_won },
  lead_conversion_rate: { ...nullableNumber, description: KPI_DEFINITIONS.lead_conversion_rate },
  speed_to_lead_minutes: spread(KPI_DEFINITIONS.speed_to_lead_minutes),
  speed_to_lead_within_sla: { ...nullableNumber, description: KPI_DEFINITIONS.speed_to_lead_within_sla },
  auto_reply_seconds: spread(KPI_DEFINITIONS.auto_reply_seconds),
  sales_cycle_days: spread(KPI_DEFINITIONS.sales_cycle_days),
  repeat_purchase_rate: { ...nullableNumber, description: KPI_DEFINITIONS.repeat_purchase_rate },
  average_order_value: perCurrency(KPI_DEFINITIONS.average_order_value, { type: 'number' }),
  lifetime_value: perCurrency(KPI_DEFINITIONS.lifetime_value, {
    type: 'object',
    properties: { mean: { type: 'number' }, median: { type: 'number' } },
    required: ['mean', 'median'],
    additionalProperties: false,
  }),
  cost_per_lead: nullablePerCurrency(KPI_DEFINITIONS.cost_per_lead),
  customer_acquisition_cost: nullablePerCurrency(KPI_DEFINITIONS.customer_acquisition_cost),
  csat: { ...nullableNumber, description: KPI_DEFINITIONS.csat },
  nps: { ...nullableNumber, description: KPI_DEFINITIONS.nps },
};

const closed = (description: string, properties: Record<string, JsonSchema>): JsonSchema => ({
  type: 'object',
  description,
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

export const reportsSchemas: Record<string, JsonSchema> = {
  KpiReport: closed('KPI figures of a period (null: nothing to compute it from), and per group with `by`.', {
    from: string,
    to: string,
    time_zone: string,
    ...figures,
    churned: { type: 'integer', description: KPI_DEFINITIONS.churned },
    by: { enum: [...GROUP_KEYS, null] },
    groups: {
      type: 'array',
      items: closed('The figures of one group.', { key: { type: ['string', 'null'] }, ...figures }),
    },
  }),
  CohortReport: closed(KPI_DEFINITIONS.cohorts, {
    from: string,
    to: string,
    time_zone: string,
    cohorts: {
      type: 'array',
      items: closed('One cohort: `retention[k-1]` is the share who bought again k months after their first purchase.', {
        cohort: { type: 'string', description: 'YYYY-MM' },
        size: integer,
        retention: { type: 'array', items: { type: 'number' } },
      }),
    },
  }),
};

const period: ParameterObject[] = [
  {
    name: 'from',
    in: 'query',
    required: true,
    description: 'First day, YYYY-MM-DD, in `reports.time_zone` (default UTC).',
    schema: { type: 'string', format: 'date' },
  },
  {
    name: 'to',
    in: 'query',
    required: true,
    description: 'Last day (inclusive), YYYY-MM-DD; at most 3 years after `from`.',
    schema: { type: 'string', format: 'date' },
  },
];
const csv = { 'text/csv': { schema: { type: 'string' } } };

export const reportsPaths: Record<string, PathItemObject> = {
  '/api/reports/kpis': {
    get: apiOperation({
      operationId: 'kpiReport',
      summary: 'KPI figures of a period',
      description:
        'Lead conversion, speed to lead, auto-reply time, sales cycle, repeat purchase, order and lifetime value, acquisition cost. `Accept: text/csv` gives one row per group.',
      tags: ['reports'],
      parameters: [
        ...period,
        {
          name: 'by',
          in: 'query',
          required: false,
          description: 'Break down by lead source, first channel, owner agent or first pool.',
          schema: { enum: [...GROUP_KEYS] },
        },
      ],
      responses: {
        '200': { description: 'The report.', content: { ...json(ref('KpiReport')), ...csv } },
        '400': badRequest,
      },
    }),
  },
  '/api/reports/cohorts': {
    get: apiOperation({
      operationId: 'cohortReport',
      summary: 'Cohort retention',
      description:
        'Customers by month of first purchase (cohorts starting in the period) and the share who bought again in each later month. `Accept: text/csv` gives the triangle.',
      tags: ['reports'],
      parameters: period,
      responses: {
        '200': { description: 'The triangle.', content: { ...json(ref('CohortReport')), ...csv } },
        '400': badRequest,
      },
    }),
  },
};
