import { configuredCandidates } from '../customers/assignment-order.js';
import { getSla, leadContactedSince, settleSla, slaReassignmentKey } from '../store/slas.js';
import type { RunDependencies } from './run-workflow.js';

/**
 * Checks a lead assignment's SLA when it is due (the `sla` job). Contacted by a person since the assignment (a message
 * an agent sent, a call an agent made or took; never an automated reply): met. Otherwise another eligible agent of the pool
 * (never the same one), or the escalation target, gets the lead, with the reason in the assignment history and on the
 * timeline. Safe to run twice: the SLA is settled once, the reassignment is keyed by the SLA, the timeline entry too.
 */
export async function checkSla(assignmentId: number, deps: RunDependencies): Promise<void> {
  const { pool, services, logger } = deps;
  const sla = await getSla(pool, assignmentId);
  if (!sla || sla.status !== 'pending') return;
  if (sla.reassignedTo === null) {
    if (await leadContactedSince(pool, sla.customerId, sla.assignedAt)) {
      await settleSla(pool, assignmentId, 'met', { owner: sla.agentId });
      return;
    }
    const customer = await services.loadCustomer(sla.customerId);
    if (customer.owner_agent_id !== sla.agentId) {
      await settleSla(pool, assignmentId, 'superseded', { owner: customer.owner_agent_id });
      return;
    }
  }
  const { action } = sla;
  const members = action.agent !== undefined ? [action.agent] : (services.pools.get(action.pool ?? '')?.agents ?? []);
  const reason = `${action.then === 'escalate' ? 'escalated' : 'reassigned'}: ${sla.agentId} made no contact within ${action.within}`;
  const result = await services.assignLead({
    customerId: sla.customerId,
    pool: action.pool ?? `agent:${action.agent}`,
    strategy: action.strategy,
    candidates: configuredCandidates(members, services.agents, services.now()),
    exclude: [sla.agentId],
    idempotencyKey: slaReassignmentKey(assignmentId),
    sticky: false,
    reason,
    replaces: assignmentId,
  });
  if (result.agentId === undefined) {
    logger.warn(
      { assignment_id: assignmentId, customer_id: sla.customerId },
      'SLA missed but no other agent can take the lead',
    );
    await settleSla(pool, assignmentId, 'no_agent', {
      owner: sla.agentId,
      reason: `${reason}; no other agent available`,
    });
    return;
  }
  await services.upsertTimeline({
    customerId: result.customerId,
    source: 'crmflow',
    externalId: `sla/${assignmentId}`,
    type: 'lead.reassigned',
    occurredAt: services.now(),
    summary: `Lead ${reason}; now owned by ${result.agentId}`,
    data: { from: sla.agentId, to: result.agentId, reason, assignment_id: assignmentId },
  });
  await settleSla(pool, assignmentId, action.then === 'escalate' ? 'escalated' : 'reassigned', {
    from: sla.agentId,
    to: result.agentId,
    reason,
  });
  logger.info({ assignment_id: assignmentId, from: sla.agentId, to: result.agentId }, 'lead reassigned: SLA missed');
}
