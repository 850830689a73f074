import { DURATION_SCHEMA, parseDuration } from '../workflows/duration.js';
import type { AssignmentStrategy } from '../store/assignments.js';
import type { SlaAction } from '../store/slas.js';
import type { CompileContext, StepContext } from './steps/define-step.js';

/** `sla:` of `assign_lead`: the owner must contact the lead `within` a time, else `then` happens. */
export const SLA_SCHEMA = {
  type: 'object',
  description:
    "If the owner has not contacted the lead `within` this time (by a person: a message an agent sent from crmflow or from their mailbox, a call to or from an agent's `phone`, a call logged by hand; automated replies never count), `then: reassign` gives it to the next eligible agent of the pool (never the same one), or `then: { escalate_to: <pool or agent> }` hands it there. Checked once, by a delayed job that survives restarts.",
  properties: {
    within: { ...DURATION_SCHEMA, description: 'Time the owner has to make contact, e.g. 2h.' },
    then: {
      anyOf: [
        { const: 'reassign' },
        {
          type: 'object',
          properties: { escalate_to: { type: 'string', description: 'A pool, or an agent id.' } },
          required: ['escalate_to'],
          additionalProperties: false,
        },
      ],
    },
  },
  required: ['within', 'then'],
  additionalProperties: false,
} as const;

export interface SlaConfig {
  within: string | number;
  then: 'reassign' | { escalate_to: string };
}

export interface CompiledSla {
  withinMs: number;
  within: string;
  then: 'reassign' | { pool: string } | { agent: string };
  /** Where a lead assigned by an agent rule is reassigned from (the step's `fallback_pool` or `pool`). */
  defaultPool?: string;
}

/** `defaultPool`: the step's `fallback_pool` or `pool`; `agentRules`: whether a rule gives leads to one agent. */
export function compileSla(
  sla: SlaConfig,
  defaultPool: string | undefined,
  agentRules: boolean,
  context: CompileContext,
): CompiledSla {
  const withinMs = parseDuration(sla.within)!;
  const within = typeof sla.within === 'number' ? `${sla.within} ms` : sla.within.trim();
  if (sla.then === 'reassign') {
    if (agentRules && defaultPool === undefined)
      context.fail(
        '`then: reassign` needs `pool` or `fallback_pool` to reassign leads a rule gave to one agent',
        'sla.then',
      );
    return { withinMs, within, then: 'reassign', defaultPool };
  }
  const target = sla.then.escalate_to;
  if (context.pools.has(target)) return { withinMs, within, then: { pool: target }, defaultPool };
  if (context.agents.has(target)) return { withinMs, within, then: { agent: target }, defaultPool };
  return context.fail(`escalate_to "${target}" is neither a declared pool nor an agent`, 'sla.then.escalate_to');
}

/** Schedules the SLA check of the assignment made under `assignmentKey` (from `pool`, or by an agent rule). */
export async function scheduleSla(
  sla: CompiledSla,
  assignment: { key: string; pool?: string; strategy: AssignmentStrategy },
  context: StepContext,
): Promise<void> {
  const pool = assignment.pool ?? sla.defaultPool;
  const action: SlaAction =
    sla.then === 'reassign'
      ? { then: 'reassign', pool, strategy: assignment.strategy, within: sla.within }
      : { then: 'escalate', ...sla.then, strategy: assignment.strategy, within: sla.within };
  await context.services.scheduleSla({
    assignmentKey: assignment.key,
    runId: context.runId,
    dueAt: new Date(context.services.now().getTime() + sla.withinMs),
    action,
  });
}
