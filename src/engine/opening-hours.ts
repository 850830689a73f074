/**
 * Opening hours in a time zone, as pure functions: "is it open at t" and "when does it next open after t", correct
 * across daylight-saving changes (local wall times are converted to instants with the zone's offset on that day).
 * Business hours and quiet hours (the inverse: the hours when sending is allowed) share this shape.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** Open intervals per weekday, in local minutes `[from, to)`, never crossing midnight. */
export type Week = Record<Weekday, Array<[number, number]>>;

export interface OpeningHours {
  /** IANA zone the hours are read in. */
  timeZone: string;
  week: Week;
  /** Local dates `YYYY-MM-DD` closed all day. */
  holidays: ReadonlySet<string>;
}

/** A problem in an hours declaration; `key` names the entry of `open` it is about. */
export class HoursError extends Error {
  override name = 'HoursError';
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
  }
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
const END_TIME = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$/;
const RANGE = /^\s*(\S+)\s*-\s*(\S+)\s*$/;

/** `HH:MM` as minutes after midnight; `24:00` allowed where `end` is true. */
export function parseTime(value: string, end = false): number {
  const match = (end ? END_TIME : TIME).exec(value);
  if (!match) throw new HoursError(`"${value}" is not a time HH:MM${end ? ' (or 24:00)' : ''}`);
  const [hours, minutes] = match[3] ? [match[3], match[4]] : [match[1], match[2]];
  return Number(hours) * 60 + Number(minutes);
}

function emptyWeek(): Week {
  return { sun: [], mon: [], tue: [], wed: [], thu: [], fri: [], sat: [] };
}

/** Adds `[from, to)` local minutes on `day`; a range past midnight (22:00-02:00) continues on the next day. */
function addRange(week: Week, day: number, from: number, to: number): void {
  if (to > from) {
    week[WEEKDAYS[day]!].push([from, to]);
    return;
  }
  if (from < 1440) week[WEEKDAYS[day]!].push([from, 1440]);
  if (to > 0) week[WEEKDAYS[(day + 1) % 7]!].push([0, to]);
}

/** The days a key names: `mon`, `mon-fri` (wrapping, e.g. `fri-mon`), `sat,sun`, or `daily`. */
function parseDays(key: string): number[] {
  if (key.trim() === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  return key.split(',').flatMap((part) => {
    const [first, last] = part
      .trim()
      .split('-')
      .map((day) => WEEKDAYS.indexOf(day.trim() as Weekday));
    if (first === undefined || first < 0 || last === -1)
      throw new HoursError(`"${key}" is not a day (mon..sun), a range like mon-fri, a list like sat,sun or daily`, key);
    if (last === undefined) return [first];
    const days: number[] = [];
    for (let day = first; ; day = (day + 1) % 7) {
      days.push(day);
      if (day === last) return days;
    }
  });
}

/**
 * Reads `open:` of a declaration: day keys (`mon-fri`, `sat`, `daily`) to a range `"09:00-18:00"` or a list of ranges.
 * Throws HoursError naming the bad key.
 */
export function parseWeek(open: Record<string, string | string[]>): Week {
  const week = emptyWeek();
  for (const [key, value] of Object.entries(open)) {
    const days = parseDays(key);
    for (const range of [value].flat()) {
      const match = RANGE.exec(range);
      if (!match) throw new HoursError(`"${range}" is not a range like 09:00-18:00`, key);
      let from: number, to: number;
      try {
        from = parseTime(match[1]!);
        to = parseTime(match[2]!, true);
      } catch (error) {
        throw new HoursError((error as Error).message, key);
      }
      if (from === to) throw new HoursError(`"${range}" is empty`, key);
      for (const day of days) addRange(week, day, from, to);
    }
  }
  return week;
}

/** Quiet hours `from`–`to` (e.g. 21:00–08:00) as the week in which sending is allowed: every day outside them. */
export function quietWeek(from: string, to: string): Week {
  const start = parseTime(from);
  const end = parseTime(to, true);
  if (start === end % 1440) throw new HoursError(`quiet hours ${from}-${to} leave no time to send`);
  const week = emptyWeek();
  for (let day = 0; day < 7; day++) addRange(week, day, end % 1440, start);
  return week;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock fields of `instant` in `timeZone`. */
function wallClock(timeZone: string, instant: number): LocalDate & { hour: number; minute: number; second: number } {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(instant).map((part) => [part.type, Number(part.value)]));
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** The zone's offset from UTC at `instant`, in ms (local = UTC + offset). */
function offsetAt(timeZone: string, instant: number): number {
  const local = wallClock(timeZone, instant);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
}

/**
 * The instant a local wall time happens. A time skipped by a spring-forward change happens as late as the change
 * moved it (02:30 → 03:30); a time repeated by a fall-back change happens at its first occurrence.
 */
export function localTimeToInstant(timeZone: string, date: LocalDate, minutes: number): Date {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const before = offsetAt(timeZone, wall - 86_400_000);
  const after = offsetAt(timeZone, wall + 86_400_000);
  const candidates = [wall - before, wall - after];
  const valid = candidates.filter((instant, i) => offsetAt(timeZone, instant) === [before, after][i]);
  return new Date(valid.length > 0 ? Math.min(...valid) : wall - before);
}

function isoDate(date: LocalDate): string {
  return `${date.year}-${String(date.month).padStart(2, '0')}-${String(date.day).padStart(2, '0')}`;
}

/** Whether the hours are open at `at`. */
export function isOpen(hours: OpeningHours, at: Date): boolean {
  return nextOpening(hours, at)?.getTime() === at.getTime();
}

/** How far ahead `nextOpening` looks: a year and a week covers any weekly schedule with a year of holidays. */
const HORIZON_DAYS = 372;

/** `at` when open then, else the next moment they open; undefined when they never open (no hours, all holidays). */
export function nextOpening(hours: OpeningHours, at: Date): Date | undefined {
  return nextOpenInterval(hours, at)?.from;
}

/**
 * The open interval containing `at` (starting at `at`), else the next one; undefined when they never open again.
 * Intervals touching at midnight are returned one after the other.
 */
export function nextOpenInterval(hours: OpeningHours, at: Date): { from: Date; to: Date } | undefined {
  const today = wallClock(hours.timeZone, at.getTime());
  for (let offset = 0; offset < HORIZON_DAYS; offset++) {
    const calendar = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const date = { year: calendar.getUTCFullYear(), month: calendar.getUTCMonth() + 1, day: calendar.getUTCDate() };
    if (hours.holidays.has(isoDate(date))) continue;
    const ranges = [...hours.week[WEEKDAYS[calendar.getUTCDay()]!]].sort((a, b) => a[0] - b[0]);
    for (const [from, to] of ranges) {
      const start = localTimeToInstant(hours.timeZone, date, from);
      const end = localTimeToInstant(hours.timeZone, date, to);
      if (at.getTime() < end.getTime()) return { from: at.getTime() >= start.getTime() ? at : start, to: end };
    }
  }
  return undefined;
}

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A named `business_hours:` or `quiet_hours:` declaration of workflows.yaml, compiled. */
export interface HoursRule {
  name: string;
  /** A fixed IANA zone, or read when sending: `customer` (`attributes.time_zone`) or `owner` (the agent's `time_zone`). */
  timeZone: string;
  /** The zone used when the customer or owner has none (a fixed zone is its own default). */
  defaultTimeZone: string;
  /** When sending is allowed (for quiet hours: every hour outside them). */
  week: Week;
  holidays: ReadonlySet<string>;
}
