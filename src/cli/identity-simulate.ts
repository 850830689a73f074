import { isBlocked, normalizeOptionsFor } from '../customers/identity-policy.js';
import { normalizeIdentities, recordIdentities } from '../customers/normalize.js';
import { compareResolutions, resolveInMemory, type SimulatedEvent, type SimulationReport } from '../customers/simulate.js';
import { mapRecord, type CompiledMap } from '../engine/steps/map.js';
import type { Pool } from '../store/pool.js';
import type { CompiledWorkflow, LoadedConfig } from '../workflows/load.js';

interface StoredEvent {
  id: number;
  connector: string;
  type: string;
  external_id: string;
  occurred_at: Date;
  origin: string;
  payload: unknown;
  current: number | null;
}

/** The map step that feeds an upsert_customer step of a workflow this event triggers, if any. */
function identityMapping(workflows: readonly CompiledWorkflow[], event: StoredEvent): CompiledMap | undefined {
  for (const workflow of workflows) {
    const trigger = workflow.trigger;
    const triggered =
      trigger.kind === 'poll'
        ? trigger.connector.id === event.connector && event.origin === `pull:${trigger.resource}`
        : trigger.kind === 'webhook' && trigger.connector.id === event.connector && trigger.eventTypes.includes(event.type);
    if (!workflow.enabled || !triggered) continue;
    const upsert = workflow.steps.findIndex((step) => step.definition.type === 'upsert_customer' && step.config.from === undefined);
    const map = workflow.steps.slice(0, Math.max(0, upsert)).filter((step) => step.definition.type === 'map').at(-1);
    if (map) return map.compiled as CompiledMap;
  }
  return undefined;
}

/**
 * `crmflow identity simulate`: maps every stored inbox event with the workflows' own map steps (the enriched payload
 * of its run when there is one), normalizes and filters its identities under `config`'s `identity:` section, resolves
 * them in memory and compares with today's customers. Reads only; writes nothing.
 */
export async function simulateIdentity(pool: Pool, config: LoadedConfig, defaultRegion: string, batchSize = 1000): Promise<SimulationReport> {
  const policy = config.identityPolicy;
  const events: SimulatedEvent[] = [];
  for (let after = 0; ; ) {
    const { rows } = await pool.query<StoredEvent>(
      `SELECT i.id, i.connector, i.type, i.external_id, i.occurred_at, i.origin,
              coalesce((SELECT r.payload FROM workflow_runs r WHERE r.inbox_event_id = i.id AND r.payload IS NOT NULL ORDER BY r.id DESC LIMIT 1), i.payload) AS payload,
              (SELECT coalesce(c.merged_into, c.id) FROM workflow_runs r JOIN customers c ON c.id = r.customer_id
                WHERE r.inbox_event_id = i.id ORDER BY r.id LIMIT 1) AS current
         FROM inbox_events i WHERE i.id > $1 ORDER BY i.id LIMIT $2`,
      [after, batchSize],
    );
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    for (const event of rows) {
      const mapping = identityMapping(config.workflows, event);
      if (!mapping) continue;
      const bindings = { event: { connector: event.connector, type: event.type, external_id: event.external_id, occurred_at: event.occurred_at.toISOString() } };
      const record = await mapRecord(mapping, event.type, event.payload, bindings).catch(() => undefined);
      const options = normalizeOptionsFor(policy, event.connector, config.defaultRegion ?? defaultRegion);
      const identities = record ? normalizeIdentities(recordIdentities(record), options).filter((identity) => !isBlocked(identity, policy)) : [];
      events.push({ id: event.id, identities, currentCustomer: event.current });
    }
  }
  return compareResolutions(events, await resolveInMemory(events, policy));
}

/** The report as an admin reads it. */
export function formatSimulation(report: SimulationReport): string {
  const list = (groups: unknown[]) => (groups.length === 0 ? '' : `  e.g. ${groups.map((group) => JSON.stringify(group)).join(', ')}`);
  return [
    `${report.events} stored events about ${report.customers} customers today`,
    `merge: ${report.merge.customers} customers would become ${report.merge.into}${list(report.merge.examples)}`,
    `split: ${report.split.customers} customers would be split${list(report.split.examples)}`,
    `stay:  ${report.stay} customers unchanged`,
    `new:   ${report.created} customers would be created`,
    `none:  ${report.unresolved.events} events would resolve no one, leaving ${report.unresolved.customers} customers without events`,
  ].join('\n');
}
