import { describe, expect, it } from 'vitest';
import { isWorking } from '../src/customers/assignment-order.js';

describe('working hours', () => {
  const paris = (local: string) => new Date(`${local}+01:00`); // winter time in Europe/Paris

  it('cover a day shift on its days only', () => {
    const day = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '18:00' };
    expect(isWorking(day, 'Europe/Paris', paris('2026-12-07T09:00:00'))).toBe(true); // Monday
    expect(isWorking(day, 'Europe/Paris', paris('2026-12-07T18:00:00'))).toBe(false);
    expect(isWorking(day, 'Europe/Paris', paris('2026-12-06T10:00:00'))).toBe(false); // Sunday
  });

  it('span midnight for a night shift, which belongs to the day it starts', () => {
    const night = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '22:00', to: '06:00' };
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-07T23:30:00'))).toBe(true); // Monday evening
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-08T02:00:00'))).toBe(true); // Tuesday small hours: Monday's shift
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-08T06:00:00'))).toBe(false);
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-08T12:00:00'))).toBe(false);
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-12T03:00:00'))).toBe(true); // Saturday 03:00: Friday's shift
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-12T23:00:00'))).toBe(false); // Saturday evening: no shift
    expect(isWorking(night, 'Europe/Paris', paris('2026-12-07T03:00:00'))).toBe(false); // Monday 03:00 would be Sunday's
  });

  it("read the time in the agent's zone, and `from` equal to `to` is a full day from that time", () => {
    const night = { days: ['mon'], from: '22:00', to: '06:00' };
    expect(isWorking(night, 'America/New_York', new Date('2026-12-08T04:00:00Z'))).toBe(true); // Monday 23:00 in New York
    expect(isWorking({ days: ['mon'], from: '08:00', to: '08:00' }, 'UTC', new Date('2026-12-08T07:59:00Z'))).toBe(
      true,
    );
    expect(isWorking({ days: ['mon'], from: '08:00', to: '08:00' }, 'UTC', new Date('2026-12-08T08:00:00Z'))).toBe(
      false,
    );
  });
});
