const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `250ms`, `30s`, `5m`, `2h`, `1d`, or a number of milliseconds. Undefined when unreadable. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  return match ? Number(match[1]) * UNITS[match[2]!]! : undefined;
}

export const DURATION_SCHEMA = {
  description: 'A duration: 250ms, 30s, 5m, 2h, 1d, or milliseconds.',
  anyOf: [
    { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)\\s*$' },
    { type: 'number', minimum: 0 },
  ],
} as const;
