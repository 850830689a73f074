/**
 * Writes the fault suite's latest figures into the README: the table between `<!-- faults:start -->` and
 * `<!-- faults:end -->`, built from test-results/faults/<scenario>.json (written by each scenario's reconciliation).
 *
 *   npm run test:faults && npx tsx tests/faults/report.ts          # refresh the README
 *   npx tsx tests/faults/report.ts --print                         # print the table only
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Reconciliation } from './harness.js';

const RESULTS = new URL('../../test-results/faults/', import.meta.url);
const README = new URL('../../README.md', import.meta.url);

/** In the README's order: the scenarios as the issue lists them. */
const SCENARIOS = [
  'worker-crash',
  'redis-outage',
  'postgres-outage',
  'smtp-outage',
  'vendor-outage',
  'duplicates',
  'api-crash',
];

export function faultsTable(reports: Reconciliation[]): string {
  const rows = reports.map((r) => {
    const cells = [
      `\`${r.scenario}\` — ${r.title}`,
      `${r.sent} (${r.posts} posts)`,
      r.acknowledged,
      `${r.stored} / ${r.events}`,
      r.processed,
      `${r.customers.found} / ${r.customers.expected}`,
      [
        ...(!r.vendor || r.emails.expected > 0
          ? [
              `${r.emails.received} / ${r.emails.expected}${r.emails.uncertain ? ` (${r.emails.uncertain} uncertain)` : ''}`,
            ]
          : []),
        ...(r.vendor
          ? [
              `${r.vendor.channel} ${r.vendor.accepted} / ${r.vendor.owed}${r.vendor.uncertain ? ` (${r.vendor.uncertain} uncertain)` : ''}`,
            ]
          : []),
      ].join('; '),
      r.lost.total,
      r.duplicates.total,
    ];
    return `| ${cells.join(' | ')} |`;
  });
  const runAt =
    reports
      .map((r) => r.finishedAt)
      .sort()
      .at(-1)
      ?.slice(0, 10) ?? 'never';
  return [
    '| scenario | sent | acked | stored / events | processed | customers found / expected | messages received / owed | lost | duplicates |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Latest run ${runAt}; each scenario's full reconciliation is in \`test-results/faults/<scenario>.json\`.`,
  ].join('\n');
}

function main(): void {
  const reports = SCENARIOS.map((scenario) => new URL(`${scenario}.json`, RESULTS))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')) as Reconciliation);
  if (reports.length === 0) throw new Error(`no reports in ${fileURLToPath(RESULTS)}: run npm run test:faults first`);
  const table = faultsTable(reports);
  if (process.argv.includes('--print')) {
    process.stdout.write(`${table}\n`);
    return;
  }
  const readme = readFileSync(README, 'utf8');
  const pattern = /(<!-- faults:start -->\n)[\s\S]*?(<!-- faults:end -->)/;
  if (!pattern.test(readme)) throw new Error('README.md has no <!-- faults:start --> / <!-- faults:end --> markers');
  writeFileSync(
    README,
    readme.replace(pattern, (_, start: string, end: string) => `${start}${table}\n${end}`),
  );
  process.stdout.write(`README.md: fault suite table updated from ${reports.length} scenario reports\n`);
}

main();
