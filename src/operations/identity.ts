import { isBlocked, normalizeOptionsFor } from '../customers/identity-policy.js';
import { normalizeIdentities, recordIdentities } from '../customers/normalize.js';
import {
  compareResolutions,
  resolveInMemory,
  type SimulatedEvent,
  type SimulationReport,
} from '../customers/simulate.js';
import { mapRecord, type CompiledMap } from '../engine/steps/map.js';
import { listEventsForSimulation, type SimulationEvent } from '../store/inbox.js';
import type { CompiledWorkflow, LoadedConfig } from '../workflows/load.js';
import type { OperationContext } from './context.js';

export type { SimulationReport } from '../customers/simulate.js';

/** The map step that feeds an upsert_customer step of a workflow this event triggers, if any. */
function identityMapping(workflows: readonly CompiledWorkflow[], event: SimulationEvent): CompiledMap | undefined {
  for (const workflow of workflows) {
    const trigger = workflow.trigger;
    const triggered =
      trigger.kind === 'poll'
        ? trigger.connector.id === event.connector && event.origin === `pull:${trigger.resource}`
        : trigger.kind === 'webhook' &&
          trigger.connector.id === event.connector &&
          trigger.eventTypes.includes(event.type);
    if (!workflow.enabled || !triggered) continue;
    const upsert = workflow.steps.findIndex(
      (step) => step.definition.type === 'upsert_customer' && step.config.from === undefined,
    );
    const map = workflow.steps
      .slice(0, Math.max(0, upsert))
      .filter((step) => step.definition.type === 'map')
      .at(-1);
    if (map) return map.compiled as CompiledMap;
  }
  return undefined;
}

/**
 * Maps every stored inbox event with the tried configuration's own map steps (the enriched payload of its run when
 * there is one), normalizes and filters its identities under its `identity:` section, resolves them in memory and
 * compares with today's customers. Reads only; writes nothing, so it needs no role and records no audit entry.
 */
export async function simulateIdentity(
  ctx: Pick<OperationContext, 'pool' | 'defaultRegion'>,
  input: { config: LoadedConfig; batchSize?: number },
): Promise<SimulationReport> {
  const { config } = input;
  const policy = config.identityPolicy;
  const events: SimulatedEvent[] = [];
  for (let after = 0; ;) {
    const rows = await listEventsForSimulation(ctx.pool, after, input.batchSize ?? 1000);
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    for (const event of rows) {
      const mapping = identityMapping(config.workflows, event);
      if (!mapping) continue;
      const bindings = {
        event: {
          connector: event.connector,
          type: event.type,
          external_id: event.external_id,
          occurred_at: event.occurred_at.toISOString(),
        },
      };
      const record = await mapRecord(mapping, event.type, event.payload, bindings).catch(() => undefined);
      const options = normalizeOptionsFor(policy, event.connector, config.defaultRegion ?? ctx.defaultRegion);
      const identities = record
        ? normalizeIdentities(recordIdentities(record), options).filter((identity) => !isBlocked(identity, policy))
        : [];
      events.push({ id: event.id, identities, currentCustomer: event.current });
    }
  }
  return compareResolutions(events, await resolveInMemory(events, policy));
}
