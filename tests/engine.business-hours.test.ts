import { describe, expect, it } from 'vitest';
import { isOpen, localTimeToInstant, nextOpening, parseWeek, quietWeek, type OpeningHours } from '../src/engine/opening-hours.js';
import { nextCommonOpening } from '../src/engine/send-window.js';
import { loadConfigText } from '../src/workflows/load.js';

const madrid = (open: Record<string, string | string[]>, holidays: string[] = []): OpeningHours => ({ timeZone: 'Europe/Madrid', week: parseWeek(open), holidays: new Set(holidays) });
const support = madrid({ 'mon-fri': '09:00-18:00', sat: '10:00-14:00' }, ['2026-12-25']);

describe('opening hours', () => {
  it('is open inside the day range and closed at its end (local time, winter offset +01:00)', () => {
    expect(isOpen(support, new Date('2026-11-23T08:00:00Z'))).toBe(true); // Mon 09:00 Madrid
    expect(isOpen(support, new Date('2026-11-23T07:59:59Z'))).toBe(false);
    expect(isOpen(support, new Date('2026-11-23T16:59:00Z'))).toBe(true);
    expect(isOpen(support, new Date('2026-11-23T17:00:00Z'))).toBe(false); // 18:00: closed
  });

  it('finds the next opening across the weekend, the short Saturday and a holiday', () => {
    expect(nextOpening(support, new Date('2026-11-27T18:30:00Z'))).toEqual(new Date('2026-11-28T09:00:00Z')); // Fri 19:30 → Sat 10:00
    expect(nextOpening(support, new Date('2026-11-28T13:00:00Z'))).toEqual(new Date('2026-11-30T08:00:00Z')); // Sat 14:00 → Mon 09:00
    expect(nextOpening(support, new Date('2026-12-24T18:00:00Z'))).toEqual(new Date('2026-12-26T09:00:00Z')); // Christmas → Sat 26th
    expect(nextOpening(support, new Date('2026-11-23T10:00:00Z'))).toEqual(new Date('2026-11-23T10:00:00Z')); // open now: now
  });

  it('follows daylight saving: the same 09:00 is 08:00Z in winter and 07:00Z in summer', () => {
    // Madrid springs forward on Sun 2026-03-29; Monday 09:00 is then +02:00.
    expect(nextOpening(support, new Date('2026-03-28T14:00:00Z'))).toEqual(new Date('2026-03-30T07:00:00Z'));
    // and falls back on Sun 2026-10-25.
    expect(nextOpening(support, new Date('2026-10-24T13:00:00Z'))).toEqual(new Date('2026-10-26T08:00:00Z'));
  });

  it('opens a time skipped by spring-forward when the clock reaches it, and a repeated time at its first occurrence', () => {
    // New York: 2026-03-08 02:00 → 03:00; 2026-11-01 02:00 → 01:00.
    expect(localTimeToInstant('America/New_York', { year: 2026, month: 3, day: 8 }, 150)).toEqual(new Date('2026-03-08T07:30:00Z')); // 03:30 EDT
    expect(localTimeToInstant('America/New_York', { year: 2026, month: 11, day: 1 }, 90)).toEqual(new Date('2026-11-01T05:30:00Z')); // first 01:30 (EDT)
    const night: OpeningHours = { timeZone: 'America/New_York', week: parseWeek({ daily: '02:30-04:00' }), holidays: new Set() };
    expect(nextOpening(night, new Date('2026-03-08T05:00:00Z'))).toEqual(new Date('2026-03-08T07:30:00Z'));
    expect(isOpen(night, new Date('2026-03-08T07:45:00Z'))).toBe(true);
  });

  it('continues a range past midnight on the next day', () => {
    const late = madrid({ fri: '22:00-02:00' });
    expect(isOpen(late, new Date('2026-11-27T23:30:00Z'))).toBe(true); // Sat 00:30
    expect(isOpen(late, new Date('2026-11-28T01:00:00Z'))).toBe(false); // Sat 02:00
  });

  it('turns quiet hours into the hours when sending is allowed', () => {
    const allowed: OpeningHours = { timeZone: 'America/New_York', week: quietWeek('21:00', '08:00'), holidays: new Set() };
    expect(isOpen(allowed, new Date('2026-11-23T02:30:00Z'))).toBe(false); // 21:30 EST
    expect(nextOpening(allowed, new Date('2026-11-23T02:30:00Z'))).toEqual(new Date('2026-11-23T13:00:00Z')); // 08:00 EST
    expect(isOpen(allowed, new Date('2026-11-23T13:00:00Z'))).toBe(true);
  });

  it('needs every set of hours open at once, and says when that never happens', () => {
    const quietMadrid: OpeningHours = { timeZone: 'Europe/Madrid', week: quietWeek('12:00', '17:00'), holidays: new Set() };
    expect(nextCommonOpening([support, quietMadrid], new Date('2026-11-23T11:30:00Z'))).toEqual(new Date('2026-11-23T16:00:00Z')); // 17:00 Madrid
    expect(nextCommonOpening([madrid({ sat: '10:00-11:00' }), madrid({ sun: '10:00-11:00' })], new Date('2026-11-23T11:30:00Z'))).toBeUndefined();
  });

  it('reports bad declarations at their line in workflows.yaml', () => {
    const yaml = (hours: string) => `
agents: [{ id: ann, name: Ann }]
pools: { sales: { agents: [ann] } }
connectors: { form: { secrets: { webhook_secret: x } } }
${hours}
workflows:
  - id: w
    trigger: { type: webhook, connector: form, event: lead.submitted }
    steps:
      - { type: reply, channel: email, subject: s, body: b, hours: support }
`;
    expect(() => loadConfigText(yaml('business_hours: { support: { time_zone: Europe/Madrid, open: { mon-fro: "09:00-18:00" } } }'), 'workflows.yaml', { env: {} })).toThrow(
      /workflows.yaml:5:\d+ "mon-fro" is not a day/,
    );
    expect(() => loadConfigText(yaml('business_hours: { support: { time_zone: Mars/Base, open: { daily: "09:00-18:00" } } }'), 'workflows.yaml', { env: {} })).toThrow(/unknown time zone "Mars\/Base"/);
    expect(() => loadConfigText(yaml('business_hours: { other: { time_zone: Europe/Madrid, open: { daily: "09:00-18:00" } } }'), 'workflows.yaml', { env: {} })).toThrow(
      /workflows.yaml:10:\d+ unknown business_hours "support"; declared: other/,
    );
  });
});
