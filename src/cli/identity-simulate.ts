import type { SimulationReport } from '../operations/identity.js';

/** The report of `crmflow identity simulate` as an admin reads it. */
export function formatSimulation(report: SimulationReport): string {
  const list = (groups: unknown[]) =>
    groups.length === 0 ? '' : `  e.g. ${groups.map((group) => JSON.stringify(group)).join(', ')}`;
  return [
    `${report.events} stored events about ${report.customers} customers today`,
    `merge: ${report.merge.customers} customers would become ${report.merge.into}${list(report.merge.examples)}`,
    `split: ${report.split.customers} customers would be split${list(report.split.examples)}`,
    `stay:  ${report.stay} customers unchanged`,
    `new:   ${report.created} customers would be created`,
    `none:  ${report.unresolved.events} events would resolve no one, leaving ${report.unresolved.customers} customers without events`,
  ].join('\n');
}
