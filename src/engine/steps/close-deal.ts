import type { CompiledTemplate } from '../../workflows/template.js';
import {
  compileDealOpening,
  compileDealTarget,
  dealChange,
  dealOpening,
  dealResult,
  DEAL_OPENING_PROPERTIES,
  DEAL_TARGET_PROPERTIES,
  type CompiledDealOpening,
  type CompiledDealTarget,
  type DealOpeningConfig,
  type DealTargetConfig,
} from './deal-fields.js';
import { defineStep } from './define-step.js';

interface CloseDealConfig extends DealTargetConfig, DealOpeningConfig {
  outcome: 'won' | 'lost';
  reason?: string;
  open_if_missing?: boolean;
}

interface CompiledCloseDeal {
  target: CompiledDealTarget;
  opening: CompiledDealOpening;
  outcome: 'won' | 'lost';
  reason?: CompiledTemplate;
  openIfMissing: boolean;
}

export default defineStep<CloseDealConfig, CompiledCloseDeal>({
  type: 'close_deal',
  // stop: the deal change is keyed, so a retry applies it once; steps after it may read the deal.
  onError: 'stop',
  // Run again after a crash it changes nothing more: its history row (keyed) commits with the change and its events.
  rerunnable: true,
  summary:
    "Closes the customer's open deal in a pipeline as won or lost (the pipeline's won or lost stage) with a reason, and the amount from the event when `amount` is given; fires deal.stage_changed and deal.won or deal.lost. Without an open deal (the order came before its cart), a deal is opened already closed unless `open_if_missing: false`; a later event of the same buying episode then opens nothing. Once per vendor object (`key`).",
  schema: {
    type: 'object',
    properties: {
      ...DEAL_TARGET_PROPERTIES,
      outcome: { enum: ['won', 'lost'], description: 'Won or lost.' },
      reason: { type: 'string', description: 'Template: why it was won or lost, e.g. `order {{ name }}`.' },
      open_if_missing: {
        type: 'boolean',
        default: true,
        description: 'Without an open deal, open one already closed (default true).',
      },
      ...DEAL_OPENING_PROPERTIES,
    },
    required: ['pipeline', 'outcome'],
    additionalProperties: false,
  },
  examples: [
    {
      pipeline: 'sales',
      outcome: 'won',
      key: '"order/" & id',
      amount: '$number(total_price)',
      currency: 'currency',
      reason: 'order {{ name }}',
      title: 'Order {{ name }}',
    },
    { pipeline: 'sales', outcome: 'lost', reason: 'quote declined', open_if_missing: false },
  ],
  compile: (config, context) => ({
    target: compileDealTarget(config, context),
    opening: compileDealOpening(config, context),
    outcome: config.outcome,
    reason: config.reason === undefined ? undefined : context.template('reason', config.reason),
    openIfMissing: config.open_if_missing ?? true,
  }),
  run: async (compiled, context) => {
    const change = await dealChange(compiled.target, context, 'close_deal');
    const reason = compiled.reason ? await compiled.reason.render(context.payload, context.bindings) : null;
    const open = compiled.openIfMissing ? await dealOpening(compiled.opening, context, change.at) : undefined;
    const stage = compiled.target.pipeline[compiled.outcome].id;
    // A person or workflow may close from any stage: closing is never "backwards".
    return dealResult(await context.services.changeDeal({ ...change, stage, allowBackwards: true, reason, open }));
  },
});
