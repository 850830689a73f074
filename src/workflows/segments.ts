import { createHash } from 'node:crypto';
import { customerReads } from './customer-reads.js';
import { compileExpression, ExpressionSyntaxError, type CompiledExpression } from './expression.js';

/** A `segments:` entry of workflows.yaml. */
export interface SegmentConfig {
  id: string;
  name?: string;
  description?: string;
  /** JSONata over the customer (`$customer`, with `$customer.traits`); a member while it is true. */
  when: string;
  /** `emit`: the start-up backfill of a new or edited segment fires `segment.entered` too. Default `silent`. */
  on_backfill?: 'emit' | 'silent';
}

/** A `traits:` entry: a name and a JSONata expression over `$customer` (and `$timeline` when it names it). */
export type TraitConfig = string | { value: string; description?: string };

export interface CompiledSegment {
  id: string;
  name: string;
  description?: string;
  when: CompiledExpression;
  /** The condition reads the clock (`$now()`, `$millis()`, `$daysSince()`, `$daysUntil()`): the sweep re-checks it. */
  timeBased: boolean;
  /** What of the customer the condition reads (see customerReads); null: any of it. */
  reads: string[] | null;
  emitOnBackfill: boolean;
  /** Hash of the definition: a changed one is backfilled at start-up. */
  version: string;
}

export interface CompiledTrait {
  name: string;
  description?: string;
  value: CompiledExpression;
  /** The expression reads `$timeline`: the customer's timeline entries are loaded for it. */
  usesTimeline: boolean;
  timeBased: boolean;
  /** What of the customer the expression reads (see customerReads); null: any of it. */
  reads: string[] | null;
}

/** The traits crmflow computes for every customer (`$customer.traits.<name>`); admin-declared ones come on top. */
export const BUILTIN_TRAITS = [
  'orders_count',
  'lifetime_value',
  'currency',
  'lifetime_values',
  'average_order_value',
  'first_order_at',
  'last_order_at',
  'average_days_between_orders',
  'last_inbound_at',
  'last_contacted_at',
  'open_tasks',
  'channels',
] as const;

const CLOCK_FUNCTIONS = /\$(now|millis|daysSince|daysUntil)\s*\(/;
const ID = { type: 'string', pattern: '^[a-z][a-z0-9_-]*$' };

/** JSON Schema of the `segments:` key. */
export const SEGMENTS_SCHEMA = {
  type: 'array',
  description:
    'Groups of customers kept current as customers change; entering and leaving fire `segment.entered` / `segment.exited`.',
  items: {
    type: 'object',
    properties: {
      id: { ...ID, description: 'Names the segment in events (`segment`), the API and the dashboard.' },
      name: { type: 'string' },
      description: { type: 'string' },
      when: {
        type: 'string',
        minLength: 1,
        description:
          'JSONata over `$customer` (with `$customer.traits`); `$daysSince(time)`, `$daysUntil(time)` and `$now()` read the clock.',
      },
      on_backfill: {
        enum: ['emit', 'silent'],
        default: 'silent',
        description:
          'Whether computing a new or edited segment over existing customers at start-up fires segment.entered.',
      },
    },
    required: ['id', 'when'],
    additionalProperties: false,
  },
} as const;

/** JSON Schema of the `traits:` key. */
export const TRAITS_SCHEMA = {
  type: 'object',
  description:
    'Traits computed for every customer with each change (`$customer.traits.<name>`): JSONata over `$customer` and `$timeline`.',
  propertyNames: { pattern: '^[a-z][a-z0-9_]*$' },
  additionalProperties: {
    anyOf: [
      { type: 'string', minLength: 1 },
      {
        type: 'object',
        properties: { value: { type: 'string', minLength: 1 }, description: { type: 'string' } },
        required: ['value'],
        additionalProperties: false,
      },
    ],
  },
} as const;

type Locate = (path: ReadonlyArray<string | number>, message: string, key?: boolean) => void;

function compileAt(
  source: string,
  path: ReadonlyArray<string | number>,
  locate: Locate,
): CompiledExpression | undefined {
  try {
    return compileExpression(source);
  } catch (error) {
    if (!(error instanceof ExpressionSyntaxError)) throw error;
    locate(path, error.message);
    return undefined;
  }
}

/** Compiles `traits:` and `segments:`, reporting each problem at its position. `builtin`: the names taken. */
export function compileAudienceConfig(
  config: { traits?: Record<string, TraitConfig>; segments?: SegmentConfig[] },
  builtin: readonly string[],
  locate: Locate,
): { traits: CompiledTrait[]; segments: CompiledSegment[] } {
  const traits: CompiledTrait[] = [];
  for (const [name, trait] of Object.entries(config.traits ?? {})) {
    if (builtin.includes(name)) {
      locate(['traits', name], `trait "${name}" is built in; choose another name`, true);
      continue;
    }
    const source = typeof trait === 'string' ? trait : trait.value;
    const value = compileAt(source, typeof trait === 'string' ? ['traits', name] : ['traits', name, 'value'], locate);
    if (value)
      traits.push({
        name,
        description: typeof trait === 'string' ? undefined : trait.description,
        value,
        usesTimeline: source.includes('$timeline'),
        timeBased: CLOCK_FUNCTIONS.test(source),
        reads: customerReads(value.ast),
      });
  }
  const segments: CompiledSegment[] = [];
  const seen = new Set<string>();
  (config.segments ?? []).forEach((segment, i) => {
    if (seen.has(segment.id)) locate(['segments', i, 'id'], `duplicate segment id "${segment.id}"`);
    seen.add(segment.id);
    const when = compileAt(segment.when, ['segments', i, 'when'], locate);
    if (!when) return;
    segments.push({
      id: segment.id,
      name: segment.name ?? segment.id,
      description: segment.description,
      when,
      timeBased:
        CLOCK_FUNCTIONS.test(segment.when) ||
        traits.some((trait) => trait.timeBased && segment.when.includes(`traits.${trait.name}`)),
      reads: customerReads(when.ast),
      emitOnBackfill: segment.on_backfill === 'emit',
      // The admin traits a condition may read are part of what it means.
      version: createHash('sha256')
        .update(JSON.stringify([segment.when, config.traits ?? {}]))
        .digest('hex')
        .slice(0, 12),
    });
  });
  return { traits, segments };
}

/**
 * Expression bindings that read the clock at `at`: `$now()` and `$millis()` (overriding JSONata's), `$daysSince(t)`
 * and `$daysUntil(t)` in fractional days (undefined for a missing or unreadable time, so a comparison is false).
 */
export function clockBindings(at: Date): Record<string, unknown> {
  const ms = at.getTime();
  const days = (value: unknown, sign: 1 | -1) => {
    if (value === null || value === undefined) return undefined;
    const time = typeof value === 'number' ? value : Date.parse(String(value));
    return Number.isNaN(time) ? undefined : (sign * (ms - time)) / 86_400_000;
  };
  return {
    now: () => at.toISOString(),
    millis: () => ms,
    daysSince: (value: unknown) => days(value, 1),
    daysUntil: (value: unknown) => days(value, -1),
  };
}
