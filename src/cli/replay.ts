import type { Crmflow } from '../runtime.js';
import { jobIds } from '../engine/queues.js';
import { recordAudit } from '../store/audit.js';
import { cliActor, parseSince } from './backfill.js';

export interface ReplayOptions {
  since?: string;
  workflow?: string;
  /** Only events whose run of `workflow` (or of any workflow) has this status. */
  status?: string;
  dryRun?: boolean;
  now?: () => number;
}

/**
 * `crmflow replay`: runs stored events through the current workflows again, as new runs (the earlier runs stay as
 * they were). Replies are sent again by the new runs: narrow with --workflow and --status.
 */
export async function replay(app: Crmflow, options: ReplayOptions): Promise<{ events: number; name: string }> {
  const now = (options.now ?? Date.now)();
  if (options.workflow && !app.config.workflows.some((workflow) => workflow.id === options.workflow)) {
    throw new Error(`no workflow "${options.workflow}" in the workflows file`);
  }
  const since = parseSince(options.since ?? '24h', now);
  const { rows } = await app.pool.query<{ id: number }>(
    `SELECT DISTINCT i.id FROM inbox_events i
     LEFT JOIN workflow_runs r ON r.inbox_event_id = i.id AND ($2::text IS NULL OR r.workflow = $2)
     WHERE i.received_at >= $1 AND ($3::text IS NULL OR r.status = $3)
     ORDER BY i.id`,
    [since, options.workflow ?? null, options.status ?? null],
  );
  const name = `replay-${now}`;
  if (!options.dryRun) {
    await recordAudit(app.pool, { actor: cliActor(), role: 'admin', action: 'events.replay', target: options.workflow ? `workflow:${options.workflow}` : null, details: { since: since.toISOString(), status: options.status ?? null, events: rows.length, replay: name } });
  }
  if (!options.dryRun && rows.length > 0) {
    await app.queue.addBulk(
      rows.map(({ id }) => ({
        name: 'replay',
        data: { kind: 'replay' as const, inboxId: id, replay: name, ...(options.workflow ? { workflow: options.workflow } : {}) },
        opts: { jobId: jobIds.replay(id, name) },
      })),
    );
  }
  return { events: rows.length, name };
}
