import type { Logger } from 'pino';
import { auditConfigVersions } from '../store/config-audit.js';
import { migrate } from '../store/migrate.js';
import { createPool, type Pool } from '../store/pool.js';
import type { LoadedConfig } from '../workflows/load.js';

export { createPool };

/**
 * Brings the database up to date for this process: applies pending migrations, then records a workflows file whose
 * workflows changed since the last start (`config.reload` in the audit log; another process starting with the same
 * file records nothing).
 */
export async function prepareDatabase(pool: Pool, config: LoadedConfig, logger: Pick<Logger, 'info'>): Promise<void> {
  const applied = await migrate(pool);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  if (
    await auditConfigVersions(
      pool,
      config.file,
      Object.fromEntries(config.workflows.map((workflow) => [workflow.id, workflow.version])),
    )
  ) {
    logger.info({ file: config.file }, 'new workflows configuration recorded in the audit log (config.reload)');
  }
}
