import { DURATION_SCHEMA, parseDuration } from './duration.js';

/** One stage of a pipeline as written in workflows.yaml. */
export interface StageConfig {
  id: string;
  /** Chance an open deal in this stage is won (0..1); the forecast weighs amounts by it. Won and lost stages have none. */
  probability?: number;
  won?: boolean;
  lost?: boolean;
  /** A deal in this stage that has not moved for this long is stale (over the pipeline's `rot_after`). */
  rot_after?: string | number;
}

export interface PipelineConfig {
  currency: string;
  stages: StageConfig[];
  rot_after?: string | number;
}

export interface PipelineStage {
  id: string;
  /** Position in the pipeline: deals move forward (to a higher index) unless a step or a person says otherwise. */
  index: number;
  kind: 'open' | 'won' | 'lost';
  /** 1 for the won stage, 0 for the lost one. */
  probability: number;
  /** Milliseconds without a move after which a deal here is stale; undefined: never. */
  rotAfterMs?: number;
}

/** A compiled `pipelines:` entry. */
export interface Pipeline {
  id: string;
  currency: string;
  stages: PipelineStage[];
  byId: ReadonlyMap<string, PipelineStage>;
  won: PipelineStage;
  lost: PipelineStage;
}

const STAGE_ID = { type: 'string', pattern: '^[a-z][a-z0-9_]*$' };

/** The `pipelines:` key of workflows.yaml (also part of the editor schema). */
export const PIPELINES_SCHEMA = {
  type: 'object',
  description:
    'Sales pipelines: the stages a deal moves through (open_deal, move_deal, close_deal steps; the dashboard board).',
  propertyNames: { pattern: '^[a-z0-9][a-z0-9_-]*$' },
  additionalProperties: {
    type: 'object',
    properties: {
      currency: {
        type: 'string',
        pattern: '^[A-Z]{3}$',
        description: 'ISO 4217 currency of the forecast, e.g. USD; deals take it unless a step gives another.',
      },
      rot_after: {
        ...DURATION_SCHEMA,
        description:
          'A deal that has not moved for this long fires deal.stale (once per staleness) and is marked on the board.',
      },
      stages: {
        type: 'array',
        minItems: 3,
        description: 'In order, first to last; exactly one `won: true` and one `lost: true` stage.',
        items: {
          type: 'object',
          properties: {
            id: { ...STAGE_ID, description: 'Stage id, e.g. cart.' },
            probability: {
              type: 'number',
              minimum: 0,
              maximum: 1,
              description: 'Chance a deal in this stage is won (weighted forecast).',
            },
            won: { const: true, description: 'Deals here are won.' },
            lost: { const: true, description: 'Deals here are lost.' },
            rot_after: {
              ...DURATION_SCHEMA,
              description: "Staleness for this stage, over the pipeline's rot_after (e.g. 24h for carts).",
            },
          },
          required: ['id'],
          additionalProperties: false,
        },
      },
    },
    required: ['currency', 'stages'],
    additionalProperties: false,
  },
} as const;

/**
 * Checks what the schema cannot (unique stage ids, one won and one lost stage, probabilities only on open stages)
 * and compiles the pipelines. Problems are reported at their position through `locate`.
 */
export function compilePipelines(
  pipelines: Record<string, PipelineConfig> | undefined,
  locate: (path: ReadonlyArray<string | number>, message: string) => void,
): Map<string, Pipeline> {
  const compiled = new Map<string, Pipeline>();
  for (const [id, config] of Object.entries(pipelines ?? {})) {
    const path = ['pipelines', id];
    const pipelineRot = config.rot_after === undefined ? undefined : parseDuration(config.rot_after);
    const seen = new Set<string>();
    let ok = true;
    const stages = config.stages.map((stage, index): PipelineStage => {
      const at = [...path, 'stages', index];
      if (seen.has(stage.id)) {
        locate([...at, 'id'], `duplicate stage id "${stage.id}" in pipeline ${id}`);
        ok = false;
      }
      seen.add(stage.id);
      const kind = stage.won ? 'won' : stage.lost ? 'lost' : 'open';
      if (stage.won && stage.lost) {
        locate(at, `stage ${stage.id} cannot be both won and lost`);
        ok = false;
      } else if (kind !== 'open' && stage.probability !== undefined) {
        locate(
          [...at, 'probability'],
          `stage ${stage.id} is ${kind}: its probability is ${kind === 'won' ? 1 : 0} and cannot be set`,
        );
        ok = false;
      } else if (kind === 'open' && stage.probability === undefined) {
        locate(at, `missing field \`probability\` (open stage ${stage.id})`);
        ok = false;
      }
      const rot = stage.rot_after === undefined ? pipelineRot : parseDuration(stage.rot_after);
      return {
        id: stage.id,
        index,
        kind,
        probability: kind === 'won' ? 1 : kind === 'lost' ? 0 : (stage.probability ?? 0),
        rotAfterMs: kind === 'open' ? rot : undefined,
      };
    });
    for (const kind of ['won', 'lost'] as const) {
      const count = stages.filter((stage) => stage.kind === kind).length;
      if (count !== 1) {
        locate([...path, 'stages'], `pipeline ${id} needs exactly one \`${kind}: true\` stage (has ${count})`);
        ok = false;
      }
    }
    if (!stages.some((stage) => stage.kind === 'open')) {
      locate([...path, 'stages'], `pipeline ${id} has no open stage`);
      ok = false;
    }
    if (!ok) continue;
    compiled.set(id, {
      id,
      currency: config.currency,
      stages,
      byId: new Map(stages.map((stage) => [stage.id, stage])),
      won: stages.find((stage) => stage.kind === 'won')!,
      lost: stages.find((stage) => stage.kind === 'lost')!,
    });
  }
  return compiled;
}
