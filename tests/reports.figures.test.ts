import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cohortReport, figures, KPI_DEFINITIONS, percentile, spendInPeriod } from '../src/reports/kpis.js';
import type { LeadFact } from '../src/reports/facts.js';

const keys = { source: 'form', channel: 'form', agent: 'alice', pool: 'sales' };
const lead = (customer_id: number, lead_at: string, more: Partial<LeadFact> = {}): LeadFact => ({
  customer_id,
  ...keys,
  lead_at: new Date(lead_at),
  first_purchase_at: null,
  first_contact_at: null,
  first_contact_agent: null,
  sla_due_at: null,
  ...more,
});

describe('KPI figures', () => {
  it('takes percentiles by linear interpolation between the closest ranks', () => {
    expect(percentile([], 0.5)).toBeNull();
    expect(percentile([7], 0.9)).toBe(7);
    expect(percentile([10, 1, 4, 2], 0.5)).toBe(3); // (2 + 4) / 2
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9)).toBe(10);
    expect(percentile([0, 100], 0.9)).toBe(90);
  });

  it('prorates monthly spend by the days of each month inside the period', () => {
    const spend = spendInPeriod(
      [
        { month: '2026-02', source: 'ads', amount: 280, currency: 'USD' }, // 28 days: 10 a day
        { month: '2026-03', source: 'ads', amount: 310, currency: 'USD' }, // 31 days: 10 a day
        { month: '2026-03', source: 'ads', amount: 62, currency: 'EUR' },
        { month: '2026-05', source: 'ads', amount: 1000, currency: 'USD' },
      ],
      '2026-02-20',
      '2026-03-05',
    );
    expect(spend.get('ads')!.get('USD')).toBeCloseTo(9 * 10 + 5 * 10, 9);
    expect(spend.get('ads')!.get('EUR')).toBeCloseTo(10, 9);
  });

  it('counts only contacts by a person, and the share before the SLA was due', () => {
    const result = figures(
      {
        leads: [
          lead(1, '2026-03-01T10:00:00Z', {
            first_contact_at: new Date('2026-03-01T10:10:00Z'),
            sla_due_at: new Date('2026-03-01T12:00:00Z'),
          }),
          lead(2, '2026-03-01T10:00:00Z', {
            first_contact_at: new Date('2026-03-01T13:00:00Z'),
            sla_due_at: new Date('2026-03-01T12:00:00Z'),
          }),
          lead(3, '2026-03-01T10:00:00Z', { sla_due_at: new Date('2026-03-01T12:00:00Z') }),
          lead(4, '2026-03-01T10:00:00Z'),
        ],
        purchases: [],
        autoReplies: [
          { seconds: 2, channel: 'email', source: 'form', agent: null },
          { seconds: 4, channel: 'sms', source: 'twilio', agent: null },
          { seconds: 30, channel: 'sms', source: 'twilio', agent: null },
        ],
        ratings: [
          ...[5, 4, 3, 1].map((score) => ({ customer_id: 1, ...keys, kind: 'csat' as const, score })),
          ...[10, 9, 9, 8, 7, 6, 0].map((score) => ({ customer_id: 2, ...keys, kind: 'nps' as const, score })),
        ],
      },
      new Map(),
    );
    expect(result.speed_to_lead_minutes).toEqual({ median: 95, p90: 163 }); // 10 and 180 minutes: 10 + 0.9 × 170
    expect(result.speed_to_lead_within_sla).toBe(0.3333); // 1 of the 3 leads with an SLA
    expect(result.auto_reply_seconds).toEqual({ median: 4, p90: 24.8 }); // 4 + 0.8 × 26
    expect(result.customers_won).toBe(0);
    expect(result.lead_conversion_rate).toBe(0);
    expect(result.sales_cycle_days).toEqual({ median: null, p90: null });
    expect(result.repeat_purchase_rate).toBeNull();
    expect(result.cost_per_lead).toBeNull();
    expect(result.csat).toBe(0.5); // 5 and 4 of 5, 4, 3, 1
    expect(result.nps).toBe(14.3); // (3 promoters − 2 detractors) ÷ 7 × 100
  });

  it('lays cohorts out as a triangle up to the current month', () => {
    const report = cohortReport(
      [
        { cohort: '2026-01', size: 4, offset: 0, buyers: 4 },
        { cohort: '2026-01', size: 4, offset: 2, buyers: 1 },
        { cohort: '2026-03', size: 2, offset: 0, buyers: 2 },
      ],
      { from: '2026-01-01', to: '2026-03-31', timeZone: 'UTC' },
      new Date('2026-04-15T00:00:00Z'),
    );
    expect(report.cohorts).toEqual([
      { cohort: '2026-01', size: 4, retention: [0, 0.25, 0] },
      { cohort: '2026-03', size: 2, retention: [0] },
    ]);
  });
});

describe('KPI definitions', () => {
  it('are written in the README word for word, one row per figure', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(
      readme.indexOf('<!-- kpi-definitions:start -->'),
      readme.indexOf('<!-- kpi-definitions:end -->'),
    );
    for (const [figure, definition] of Object.entries(KPI_DEFINITIONS))
      expect(table).toContain(`| \`${figure}\` | ${definition} |`);
  });
});
