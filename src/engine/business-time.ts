import { nextOpenInterval, type OpeningHours } from './opening-hours.js';

/**
 * Durations counted in opening hours (case targets): "4h" from Friday 17:00 in Mon–Fri 09:00–18:00 ends Monday 12:00.
 * Without hours (`undefined`), time is counted round the clock.
 */

/** The instant `ms` of open time after `start`; undefined when the hours never open again. */
export function addBusinessTime(hours: OpeningHours | undefined, start: Date, ms: number): Date | undefined {
  if (!hours) return new Date(start.getTime() + ms);
  let remaining = ms;
  let at = start;
  for (;;) {
    const interval = nextOpenInterval(hours, at);
    if (!interval) return undefined;
    const open = interval.to.getTime() - interval.from.getTime();
    if (remaining <= open) return new Date(interval.from.getTime() + remaining);
    remaining -= open;
    at = interval.to;
  }
}

/** Open time between `from` and `to` in ms; negative when `to` is before `from` (time overdue). */
export function businessTimeBetween(hours: OpeningHours | undefined, from: Date, to: Date): number {
  if (to.getTime() < from.getTime()) return -businessTimeBetween(hours, to, from);
  if (!hours) return to.getTime() - from.getTime();
  let total = 0;
  for (let at = from; at.getTime() < to.getTime();) {
    const interval = nextOpenInterval(hours, at);
    if (!interval || interval.from.getTime() >= to.getTime()) break;
    total += Math.min(interval.to.getTime(), to.getTime()) - interval.from.getTime();
    at = interval.to;
  }
  return total;
}

/** `2h 15m`, `3d 4h` of open time (a day is 24 open hours), for the dashboard. */
export function formatDuration(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  const [days, hours, mins] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60];
  const parts = [days ? `${days}d` : '', hours ? `${hours}h` : '', !days && (mins || !hours) ? `${mins}m` : ''].filter(
    Boolean,
  );
  return parts.join(' ');
}
