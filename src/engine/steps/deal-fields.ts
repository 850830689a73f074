import type { DealChange, DealChangeResult, DealOpening } from '../../store/deals.js';
import { DURATION_SCHEMA, parseDuration } from '../../workflows/duration.js';
import type { CompiledExpression } from '../../workflows/expression.js';
import type { Pipeline } from '../../workflows/pipelines.js';
import type { CompiledTemplate } from '../../workflows/template.js';
import { StepError, type CompileContext, type StepContext, type StepResult } from './define-step.js';

/** Fields of every deal step (open_deal, move_deal, close_deal): which deal, when, for which amount. */
export interface DealTargetConfig {
  pipeline: string;
  key?: string;
  at?: string;
  amount?: string;
}

/** Fields of the steps that may open a deal (open_deal, close_deal). */
export interface DealOpeningConfig {
  /** The deal's name (`name` is every step's own display name). */
  title?: string;
  currency?: string;
  owner?: string;
  expected_close?: string | number;
}

export const DEAL_TARGET_PROPERTIES = {
  pipeline: { type: 'string', description: 'A pipeline declared under `pipelines:`.' },
  key: {
    type: 'string',
    description:
      'JSONata naming the vendor object (e.g. `"checkout/" & token`): the same object never opens or moves a deal twice, however often it is delivered, retried or replayed. Default: the event id.',
  },
  at: {
    type: 'string',
    description: 'JSONata giving when it happened (ISO date-time); default the event time (`$event.occurred_at`).',
  },
  amount: {
    type: 'string',
    description:
      'JSONata giving the deal amount (a number or numeric text), e.g. `$number(total_price)`; default: unchanged.',
  },
} as const;

export const DEAL_OPENING_PROPERTIES = {
  title: { type: 'string', description: 'Template naming a new deal, e.g. `Cart {{ token }}`.' },
  currency: {
    type: 'string',
    description: "JSONata giving a new deal's ISO currency, e.g. `currency`; default the pipeline's.",
  },
  owner: { type: 'string', description: "An agent id owning a new deal; default the customer's owner." },
  expected_close: {
    ...DURATION_SCHEMA,
    description: 'Expected close date of a new deal, this long after the event (forecast month), e.g. 30d.',
  },
} as const;

export interface CompiledDealTarget {
  pipeline: Pipeline;
  key?: CompiledExpression;
  at?: CompiledExpression;
  amount?: CompiledExpression;
}

export interface CompiledDealOpening {
  name?: CompiledTemplate;
  currency?: CompiledExpression;
  owner?: string;
  expectedCloseMs?: number;
}

export function compileDealTarget(config: DealTargetConfig, context: CompileContext): CompiledDealTarget {
  const pipeline = context.pipelines.get(config.pipeline);
  if (!pipeline)
    return context.fail(
      `unknown pipeline "${config.pipeline}"; declared pipelines: ${[...context.pipelines.keys()].join(', ') || '(none)'}`,
      'pipeline',
    );
  const optional = (field: 'key' | 'at' | 'amount') =>
    config[field] === undefined ? undefined : context.expression(field, config[field]);
  return { pipeline, key: optional('key'), at: optional('at'), amount: optional('amount') };
}

export function compileDealOpening(config: DealOpeningConfig, context: CompileContext): CompiledDealOpening {
  if (config.owner !== undefined && !context.agents.has(config.owner)) {
    return context.fail(
      `unknown agent "${config.owner}"; declared agents: ${[...context.agents.keys()].join(', ') || '(none)'}`,
      'owner',
    );
  }
  return {
    name: config.title === undefined ? undefined : context.template('title', config.title),
    currency: config.currency === undefined ? undefined : context.expression('currency', config.currency),
    owner: config.owner,
    expectedCloseMs: config.expected_close === undefined ? undefined : parseDuration(config.expected_close),
  };
}

/** A stage of the pipeline, or a config error at `field`. */
export function stageOf(pipeline: Pipeline, stage: string, context: CompileContext, field = 'stage'): string {
  if (!pipeline.byId.has(stage))
    return context.fail(
      `pipeline ${pipeline.id} has no stage "${stage}"; its stages: ${pipeline.stages.map((s) => s.id).join(', ')}`,
      field,
    );
  return stage;
}

/** The change a deal step asks for, evaluated on its run: customer, time, amount, key and source. */
export async function dealChange(
  target: CompiledDealTarget,
  context: StepContext,
  stepType: string,
): Promise<Pick<DealChange, 'customerId' | 'pipeline' | 'at' | 'amount' | 'idempotencyKey' | 'source' | 'runId'>> {
  const customer = context.state.customer;
  if (!customer)
    throw new StepError(
      `no customer: add upsert_customer before ${stepType} (or start the workflow from an event about a customer)`,
      false,
    );
  const evaluate = (expression: CompiledExpression | undefined) =>
    expression?.evaluate(context.payload, context.bindings);
  const key = await evaluate(target.key);
  const keyText =
    typeof key === 'string' || typeof key === 'number'
      ? String(key)
      : context.event
        ? `event:${context.event.connector}:${context.event.external_id}`
        : context.idempotencyKey;
  return {
    customerId: customer.id,
    pipeline: target.pipeline,
    at: eventTime(await evaluate(target.at), context),
    amount: target.amount ? amountOf(await evaluate(target.amount)) : undefined,
    // Per workflow and step: two steps of one run (or two workflows on one event) are two changes.
    idempotencyKey: `deal:${target.pipeline.id}:${context.workflowId}:${context.stepId}:${keyText}`,
    source: context.event
      ? `${context.event.connector}:${context.event.type}:${context.event.external_id}`
      : `run:${context.runId}`,
    runId: context.runId,
  };
}

export async function dealOpening(
  opening: CompiledDealOpening,
  context: StepContext,
  at: Date,
  another = false,
): Promise<DealOpening> {
  const currency = opening.currency ? await opening.currency.evaluate(context.payload, context.bindings) : undefined;
  if (currency !== undefined && (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency)))
    throw new StepError(`currency gave ${JSON.stringify(currency)}, not an ISO currency code`, false);
  return {
    another,
    name: opening.name ? await opening.name.render(context.payload, context.bindings) : null,
    currency: currency === undefined ? null : currency.toUpperCase(),
    ownerAgentId: opening.owner,
    expectedCloseOn:
      opening.expectedCloseMs === undefined
        ? null
        : new Date(at.getTime() + opening.expectedCloseMs).toISOString().slice(0, 10),
  };
}

function eventTime(value: unknown, context: StepContext): Date {
  const given = value ?? context.event?.occurred_at;
  if (given === undefined) return context.services.now();
  const time = typeof given === 'string' || typeof given === 'number' ? new Date(given) : undefined;
  if (!time || Number.isNaN(time.getTime()))
    throw new StepError(`at gave ${JSON.stringify(given)}, not a date-time`, false);
  return time;
}

/** A number, numeric text, or null/undefined (unknown: null). */
function amountOf(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(number)) throw new StepError(`amount gave ${JSON.stringify(value)}, not a number`, false);
  return Math.round(number * 100) / 100;
}

/** The step's output: what happened to which deal. */
export function dealResult(result: Omit<DealChangeResult, 'events'>): StepResult {
  const deal = result.deal;
  return {
    output: {
      action: result.action,
      deal_id: deal?.id ?? null,
      stage: deal?.stage ?? null,
      status: deal?.status ?? null,
      amount: deal?.amount ?? null,
      ...(result.reason ? { reason: result.reason } : {}),
    },
  };
}
