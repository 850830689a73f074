import { hostname, userInfo } from 'node:os';
import { recordAudit } from './audit.js';
import { withTransaction, type Pool } from './pool.js';

/** The workflows a process runs: each id with its version (a hash of its configuration). */
export type WorkflowVersions = Record<string, string>;

/**
 * crmflow applies an edited workflows.yaml when its processes restart. The first process to start with a new set of
 * workflow versions records that as a `config.reload` in the audit log — who (the OS user and host that started it),
 * when, and which workflows were added, changed or removed — so a configuration change is as traceable as a retry.
 * Processes starting with versions already recorded add nothing (serialised by an advisory lock).
 */
export async function auditConfigVersions(pool: Pool, file: string, versions: WorkflowVersions): Promise<boolean> {
  return withTransaction(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('crmflow:config.reload'))");
    const { rows } = await client.query<{ details: { workflows?: WorkflowVersions } }>(
      "SELECT details FROM audit_log WHERE action = 'config.reload' ORDER BY id DESC LIMIT 1",
    );
    const before = rows[0]?.details.workflows ?? {};
    const ids = [...new Set([...Object.keys(before), ...Object.keys(versions)])].sort();
    const added = ids.filter((id) => !(id in before));
    const removed = ids.filter((id) => !(id in versions));
    const changed = ids.filter((id) => id in before && id in versions && before[id] !== versions[id]);
    if (rows.length > 0 && added.length + removed.length + changed.length === 0) return false;
    await recordAudit(client, {
      actor: `${userInfo().username}@${hostname()}`,
      role: 'admin',
      action: 'config.reload',
      target: `file:${file}`,
      details: { added, changed, removed, workflows: versions },
    });
    return true;
  });
}
