import type { CompiledTemplate } from '../workflows/template.js';
import { nextOpening, type HoursRule, type OpeningHours } from './opening-hours.js';
import type { CompileContext, CustomerSummary, StepContext, StepResult } from './steps/define-step.js';
import type { AgentConfig } from '../workflows/config-types.js';

export type { HoursRule } from './opening-hours.js';

/** The fields a step sending messages takes to respect business and quiet hours. */
export const SEND_WINDOW_PROPERTIES = {
  hours: {
    type: 'string',
    description: 'Business hours declared under `business_hours:`; outside them `outside_hours` applies.',
  },
  quiet_hours: {
    type: 'string',
    description: 'Quiet hours declared under `quiet_hours:`; inside them `outside_hours` applies.',
  },
  outside_hours: {
    description:
      '`schedule` (default): the run waits and sends at the next opening. Or `{ subject, body }`: this out-of-hours variant is sent at once.',
    anyOf: [
      { const: 'schedule' },
      {
        type: 'object',
        properties: {
          subject: { type: 'string', description: 'Default: the main subject.' },
          body: { type: 'string' },
        },
        required: ['body'],
        additionalProperties: false,
      },
    ],
  },
} as const;

export interface SendWindowConfig {
  hours?: string;
  quiet_hours?: string;
  outside_hours?: 'schedule' | { subject?: string; body: string };
}

export interface CompiledSendWindow {
  rules: HoursRule[];
  outside: 'schedule' | { subject?: CompiledTemplate; body: CompiledTemplate };
}

/** Undefined when the step names no hours. */
export function compileSendWindow(config: SendWindowConfig, context: CompileContext): CompiledSendWindow | undefined {
  const lookup = (field: 'hours' | 'quiet_hours', declared: ReadonlyMap<string, HoursRule>) => {
    const name = config[field];
    if (name === undefined) return [];
    const rule = declared.get(name);
    const top = field === 'hours' ? 'business_hours' : 'quiet_hours';
    if (!rule)
      return context.fail(
        `unknown ${top} "${name}"; declared: ${[...declared.keys()].join(', ') || `(none; declare them under ${top}:)`}`,
        field,
      );
    return [rule];
  };
  const rules = [...lookup('hours', context.businessHours), ...lookup('quiet_hours', context.quietHours)];
  if (rules.length === 0) {
    if (config.outside_hours !== undefined)
      context.fail('`outside_hours` needs `hours` or `quiet_hours`', 'outside_hours');
    return undefined;
  }
  const outside = config.outside_hours ?? 'schedule';
  return {
    rules,
    outside:
      outside === 'schedule'
        ? 'schedule'
        : {
            subject:
              outside.subject === undefined ? undefined : context.template('outside_hours.subject', outside.subject),
            body: context.template('outside_hours.body', outside.body),
          },
  };
}

/** The hours of a rule for this customer and owner. */
export function hoursFor(
  rule: HoursRule,
  customer: CustomerSummary | undefined,
  owner: AgentConfig | undefined,
): OpeningHours {
  const zone =
    rule.timeZone === 'customer'
      ? customer?.attributes?.time_zone
      : rule.timeZone === 'owner'
        ? owner?.time_zone
        : rule.timeZone;
  return {
    timeZone: typeof zone === 'string' && zone !== '' ? zone : rule.defaultTimeZone,
    week: rule.week,
    holidays: rule.holidays,
  };
}

/** The first moment at or after `at` when every set of hours is open; undefined when that never happens within a year. */
export function nextCommonOpening(hours: OpeningHours[], at: Date): Date | undefined {
  let candidate = at;
  for (let round = 0; round < 100; round++) {
    const openings = hours.map((each) => nextOpening(each, candidate));
    if (openings.some((opening) => opening === undefined)) return undefined;
    const latest = Math.max(...openings.map((opening) => opening!.getTime()));
    if (latest === candidate.getTime()) return candidate;
    candidate = new Date(latest);
  }
  return undefined;
}

/**
 * What a sending step does about its hours now: nothing (open, or resumed at the opening it waited for), return
 * `result` (the run suspended until the next opening), or send the out-of-hours `variant`.
 */
export function outsideHours(
  window: CompiledSendWindow | undefined,
  context: StepContext,
): { result: StepResult } | { variant: { subject?: CompiledTemplate; body: CompiledTemplate } } | undefined {
  if (!window || context.resumed) return undefined;
  const now = context.services.now();
  const hours = window.rules.map((rule) => hoursFor(rule, context.state.customer, context.state.owner));
  const opening = nextCommonOpening(hours, now);
  if (opening?.getTime() === now.getTime()) return undefined;
  const names = window.rules.map((rule) => rule.name).join(' and ');
  if (window.outside !== 'schedule') return { variant: window.outside };
  if (!opening) return { result: { output: { status: 'skipped', reason: `${names} never open within a year` } } };
  const reason = `outside ${names}; sends at the next opening`;
  return {
    result: {
      output: { status: 'scheduled', scheduled_for: opening.toISOString() },
      suspend: { until: opening, reason },
    },
  };
}
