import type { CompiledTemplate } from '../../workflows/template.js';
import {
  compileDealTarget,
  dealChange,
  dealResult,
  DEAL_TARGET_PROPERTIES,
  stageOf,
  type CompiledDealTarget,
  type DealTargetConfig,
} from './deal-fields.js';
import { defineStep } from './define-step.js';

interface MoveDealConfig extends DealTargetConfig {
  stage: string;
  allow_backwards?: boolean;
  reason?: string;
}

interface CompiledMoveDeal {
  target: CompiledDealTarget;
  stage: string;
  allowBackwards: boolean;
  reason?: CompiledTemplate;
}

export default defineStep<MoveDealConfig, CompiledMoveDeal>({
  type: 'move_deal',
  // stop: the deal change is keyed, so a retry applies it once; steps after it may read the deal.
  onError: 'stop',
  // Run again after a crash it changes nothing more: its history row (keyed) commits with the change and its events.
  rerunnable: true,
  summary:
    "Moves the customer's open deal in a pipeline to `stage`, with the amount from the event when `amount` is given; fires deal.stage_changed (and deal.won or deal.lost when the stage is one). Never backwards unless `allow_backwards: true`; without an open deal nothing happens (the output says why). Once per vendor object (`key`).",
  schema: {
    type: 'object',
    properties: {
      ...DEAL_TARGET_PROPERTIES,
      stage: { type: 'string', description: 'The stage to move to.' },
      allow_backwards: { type: 'boolean', default: false, description: 'Also move to an earlier stage.' },
      reason: {
        type: 'string',
        description: 'Template recorded in the stage history (and as the close reason of a won or lost stage).',
      },
    },
    required: ['pipeline', 'stage'],
    additionalProperties: false,
  },
  examples: [{ pipeline: 'sales', stage: 'quote', key: '"estimate/" & Id', amount: 'TotalAmt' }],
  compile: (config, context) => {
    const target = compileDealTarget(config, context);
    return {
      target,
      stage: stageOf(target.pipeline, config.stage, context),
      allowBackwards: config.allow_backwards ?? false,
      reason: config.reason === undefined ? undefined : context.template('reason', config.reason),
    };
  },
  run: async (compiled, context) => {
    const change = await dealChange(compiled.target, context, 'move_deal');
    const reason = compiled.reason ? await compiled.reason.render(context.payload, context.bindings) : null;
    return dealResult(
      await context.services.changeDeal({
        ...change,
        stage: compiled.stage,
        allowBackwards: compiled.allowBackwards,
        reason,
      }),
    );
  },
});
