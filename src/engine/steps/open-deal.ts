import {
  compileDealOpening,
  compileDealTarget,
  dealChange,
  dealOpening,
  dealResult,
  DEAL_OPENING_PROPERTIES,
  DEAL_TARGET_PROPERTIES,
  stageOf,
  type CompiledDealOpening,
  type CompiledDealTarget,
  type DealOpeningConfig,
  type DealTargetConfig,
} from './deal-fields.js';
import { defineStep } from './define-step.js';

interface OpenDealConfig extends DealTargetConfig, DealOpeningConfig {
  stage?: string;
  another?: boolean;
}

interface CompiledOpenDeal {
  target: CompiledDealTarget;
  opening: CompiledDealOpening;
  stage: string;
  another: boolean;
}

export default defineStep<OpenDealConfig, CompiledOpenDeal>({
  type: 'open_deal',
  // stop: the deal change is keyed, so a retry applies it once; steps after it may read the deal.
  onError: 'stop',
  // Run again after a crash it changes nothing more: its history row (keyed) commits with the change and its events.
  rerunnable: true,
  summary:
    "Opens a deal for the customer in a pipeline at `stage` (default its first stage), owned by the customer's owner unless `owner` says otherwise; fires deal.opened. If the customer already has an open deal there, that deal moves forward to `stage` (never back) instead, unless `another: true`. An event that happened before one of the customer's deals was won or lost belongs to that deal and opens nothing (a late cart after its order). Once per vendor object (`key`), however often delivered, retried or replayed.",
  schema: {
    type: 'object',
    properties: {
      ...DEAL_TARGET_PROPERTIES,
      stage: { type: 'string', description: 'The stage to open at (default the first).' },
      ...DEAL_OPENING_PROPERTIES,
      another: {
        type: 'boolean',
        default: false,
        description: 'Open a further deal even when the customer has one open in this pipeline.',
      },
    },
    required: ['pipeline'],
    additionalProperties: false,
  },
  examples: [
    {
      pipeline: 'sales',
      stage: 'cart',
      key: '"checkout/" & token',
      amount: '$number(total_price)',
      currency: 'currency',
      title: 'Cart {{ token }}',
      expected_close: '7d',
    },
    { pipeline: 'sales', stage: 'new', title: 'Quote request from {{ $customer.name }}', owner: 'ann', another: true },
  ],
  compile: (config, context) => {
    const target = compileDealTarget(config, context);
    return {
      target,
      opening: compileDealOpening(config, context),
      stage:
        config.stage === undefined ? target.pipeline.stages[0]!.id : stageOf(target.pipeline, config.stage, context),
      another: config.another ?? false,
    };
  },
  run: async (compiled, context) => {
    const change = await dealChange(compiled.target, context, 'open_deal');
    const open = await dealOpening(compiled.opening, context, change.at, compiled.another);
    return dealResult(
      await context.services.changeDeal({ ...change, stage: compiled.stage, allowBackwards: false, open }),
    );
  },
});
