#!/usr/bin/env node
// Judges `npm audit --omit=dev`: fails (exit 1) on a high or critical advisory in a production dependency unless
// .ci/audit-allow.json explains why it cannot be reached in crmflow ({"GHSA-...": "reason"}). Dev dependencies never
// run in production and are left out. When the advisory service does not answer (offline CI, a proxy refusing the
// bulk endpoint), nothing can be judged: it says so and why, and does not fail the build.
// Usage: node .ci/audit.mjs [--report saved-npm-audit.json] [--allow allow.json]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const allowPath = option('--allow') ?? new URL('./audit-allow.json', import.meta.url).pathname;
const allowed = existsSync(allowPath) ? JSON.parse(readFileSync(allowPath, 'utf8')) : {};

let text;
if (option('--report')) text = readFileSync(option('--report'), 'utf8');
else {
  const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 });
  text = run.stdout || run.error?.message || run.stderr;
}

let report;
try {
  report = JSON.parse(text);
} catch {
  report = { error: { summary: String(text).trim().split('\n')[0] || 'no answer' } };
}
if (!report.vulnerabilities || report.error || report.statusCode) {
  const why = report.message ?? report.error?.summary ?? report.error?.detail ?? 'no report';
  console.log(
    `npm audit: the advisory service did not answer (${why || 'empty error'}); production dependencies NOT judged, CI goes on.`,
  );
  process.exit(0);
}

const failing = [];
for (const [name, vulnerability] of Object.entries(report.vulnerabilities)) {
  for (const via of vulnerability.via) {
    if (typeof via !== 'object' || !['high', 'critical'].includes(via.severity)) continue;
    const id = (via.url ?? '').split('/').pop() || String(via.source);
    if (allowed[id]) console.log(`npm audit: ${via.severity} ${id} in ${name} (${via.title}) allowed: ${allowed[id]}`);
    else failing.push(`${via.severity} ${id} in ${name} ${via.range ?? ''}: ${via.title} (${via.url ?? 'no url'})`);
  }
}
const counts = report.metadata?.vulnerabilities ?? {};
console.log(`npm audit (production dependencies): ${JSON.stringify(counts)}`);
if (failing.length > 0) {
  console.log(
    `npm audit: ${failing.length} high or critical advisories reach production code:\n  ${failing.join('\n  ')}`,
  );
  console.log('Upgrade, or explain in .ci/audit-allow.json why crmflow cannot reach it.');
  process.exit(1);
}
console.log('npm audit: no high or critical advisory in production dependencies.');
