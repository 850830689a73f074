import { UnrecoverableError } from 'bullmq';
import type { ParsedEvent } from '../../connectors/define-connector.js';
import { VendorAuthError } from '../../connectors/shared/vendor-http.js';
import { getInboxEvent, setInboxStatus } from '../../store/inbox.js';
import { ensureRunToStart } from '../../store/runs.js';
import type { CompiledWorkflow } from '../../workflows/load.js';
import { applyInboundMessage } from '../reply-policy/inbound.js';
import { willRetry, type RunOutcome } from '../run-workflow.js';
import type { TriggerEvent } from '../steps/define-step.js';
import type { JobContext, JobHandler } from './context.js';

/**
 * Thin webhooks (ids only) are completed over the vendor API before any workflow sees them. Bad credentials fail
 * the event for good (an admin must act); anything else is retried with the job.
 */
async function enrich(
  context: JobContext,
  connectorId: string,
  stored: ParsedEvent,
): Promise<{ events: ParsedEvent[]; enriched: boolean }> {
  const enrichEvent = context.config.connectors.get(connectorId)?.definition.enrich;
  if (!enrichEvent) return { events: [stored], enriched: false };
  try {
    return {
      events: await enrichEvent(context.connectorContext(connectorId, AbortSignal.timeout(60_000)), stored),
      enriched: true,
    };
  } catch (error) {
    context.signals.error(
      connectorId,
      `fetching ${stored.type} ${stored.externalId} failed: ${(error as Error).message}`,
    );
    if (error instanceof VendorAuthError) throw new UnrecoverableError(`${connectorId}: ${error.message}`);
    throw error;
  }
}

/** Webhook triggers take their connector's events however they arrived; poll triggers take what their pull read. */
async function triggerMatches(
  workflow: CompiledWorkflow,
  connector: string,
  origin: string,
  parsed: ParsedEvent,
  event: TriggerEvent,
): Promise<boolean> {
  const trigger = workflow.trigger;
  if (trigger.kind === 'poll') return trigger.connector.id === connector && origin === `pull:${trigger.resource}`;
  if (trigger.kind !== 'webhook' || trigger.connector.id !== connector || !trigger.eventTypes.includes(parsed.type))
    return false;
  return !trigger.when || (await trigger.when.evaluate(parsed.payload, { event })) === true;
}

/**
 * Runs the workflows an inbox event triggers. A replay runs them again as new runs (trigger key suffixed with the
 * replay's name), optionally only one workflow, and leaves the event's status alone.
 */
async function processEvent(
  context: JobContext,
  inboxId: number,
  replay?: { name: string; workflow?: string },
): Promise<void> {
  const inbox = await getInboxEvent(context.pool, inboxId);
  if (!inbox || (!replay && inbox.status !== 'pending')) return;
  if (inbox.payloadPrunedAt)
    throw new UnrecoverableError(`event ${inboxId}'s payload was removed by retention; it cannot be replayed`);
  const stored: ParsedEvent = {
    type: inbox.type,
    externalId: inbox.externalId,
    occurredAt: inbox.occurredAt.toISOString(),
    payload: inbox.payload,
  };
  const { events, enriched } = await enrich(context, inbox.connector, stored);
  const outcomes: RunOutcome[] = [];
  let settled = false;
  for (const [index, parsed] of events.entries()) {
    const event: TriggerEvent = {
      connector: inbox.connector,
      type: parsed.type,
      external_id: parsed.externalId,
      occurred_at: parsed.occurredAt,
    };
    // Opt-outs and messaging windows take effect before any reply to this very message is considered.
    const connector = context.config.connectors.get(inbox.connector)?.definition;
    if (connector) await applyInboundMessage(context.pool, connector, parsed, context.services.defaultRegion);
    const triggered: CompiledWorkflow[] = [];
    for (const workflow of context.config.workflows) {
      if (replay?.workflow && workflow.id !== replay.workflow) continue;
      if (workflow.enabled && (await triggerMatches(workflow, inbox.connector, inbox.origin, parsed, event)))
        triggered.push(workflow);
    }
    for (const [position, workflow] of triggered.entries()) {
      const { run, started } = await ensureRunToStart(context.pool, {
        workflow: workflow.id,
        workflowVersion: workflow.version,
        triggerKey: `inbox:${inbox.id}${index === 0 ? '' : `#${index}`}${replay ? `@${replay.name}` : ''}`,
        inboxEventId: inbox.id,
        trigger: { ...event },
        payload: enriched ? parsed.payload : undefined,
      });
      // The event's last run marks the event processed with its own end (one write fewer), unless a run before it
      // failed in a way that is retried: the event then stays pending until the job's next attempt.
      const last = index === events.length - 1 && position === triggered.length - 1;
      const settles = last && !replay && !outcomes.some(willRetry) ? inbox.id : undefined;
      const outcome = await context.execute(run, workflow, event, run.payload ?? parsed.payload, {
        started,
        settlesInbox: settles,
      });
      settled = outcome.settledInbox === true;
      outcomes.push(outcome);
    }
  }
  context.settle(outcomes);
  if (!replay && !settled) await setInboxStatus(context.pool, inbox.id, 'processed');
}

/** `event`: a stored webhook or pulled event, run through the workflows it triggers. */
export const handleEvent: JobHandler<'event'> = (data, context) => processEvent(context, data.inboxId);

/** `replay`: a stored event run again through the current workflows as new runs (see the replay operations). */
export const handleReplay: JobHandler<'replay'> = (data, context) =>
  processEvent(context, data.inboxId, { name: data.replay, workflow: data.workflow });
