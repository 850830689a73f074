import type { CohortReport, KpiFigures, KpiReport } from './kpis.js';
import { toCsv } from './csv.js';

/** The figures of a report as flat CSV columns (spreads and per-currency amounts as `name.part`). */
function flatten(figures: KpiFigures): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(figures)) {
    if (value === null || typeof value !== 'object') row[name] = value;
    else
      for (const [part, inner] of Object.entries(value as Record<string, unknown>)) {
        if (inner !== null && typeof inner === 'object')
          for (const [leaf, number] of Object.entries(inner)) row[`${name}.${part}.${leaf}`] = number;
        else row[`${name}.${part}`] = inner;
      }
  }
  return row;
}

const NOT_FIGURES = new Set(['group', 'from', 'to', 'time_zone', 'by', 'groups', 'churned']);

/** One row for the whole period (`all`), then one per group. */
export function kpiCsv(report: KpiReport): string {
  const rows = [
    { group: 'all', ...flatten(report) },
    ...report.groups.map(({ key, ...figures }) => ({ group: key ?? '(none)', ...flatten(figures) })),
  ];
  const header = [
    'group',
    ...new Set(rows.flatMap((row) => Object.keys(row)).filter((name) => !NOT_FIGURES.has(name))),
  ];
  return toCsv(header, rows);
}

/** The triangle: a cohort per row, `month_k` the share who bought again k months after their first purchase. */
export function cohortsCsv(report: CohortReport): string {
  const months = Math.max(0, ...report.cohorts.map((cohort) => cohort.retention.length));
  const header = ['cohort', 'size', ...Array.from({ length: months }, (_, i) => `month_${i + 1}`)];
  const rows = report.cohorts.map((cohort) => ({
    cohort: cohort.cohort,
    size: cohort.size,
    ...Object.fromEntries(cohort.retention.map((share, i) => [`month_${i + 1}`, share])),
  }));
  return toCsv(header, rows);
}
