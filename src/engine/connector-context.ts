import type { Logger } from 'pino';
import type { ConnectorContext, ConnectorDefinition } from '../connectors/define-connector.js';
import type { SecretBox } from '../config/secret-box.js';
import type { Env } from '../config/env.js';
import { createPool, type Pool } from '../store/pool.js';
import { loadTokens, saveTokens } from '../store/tokens.js';

export interface ConnectorContextOptions {
  definition: ConnectorDefinition;
  secrets: Record<string, string>;
  env: Env;
  /** Where the connector's OAuth tokens are kept (encrypted in PostgreSQL; see `storedTokens`). */
  tokens: ConnectorContext['tokens'];
  logger: Logger;
  signal: AbortSignal;
  /** Waits for a slot of a shared request budget (see rate-limiter.ts). */
  acquire: (key: string, limit: { requests: number; perSeconds: number }) => Promise<void>;
}

/** What a connector's enrich, pull and actions receive: its secrets, API base URL, persisted tokens, a logger. */
export function createConnectorContext(options: ConnectorContextOptions): ConnectorContext {
  const { definition } = options;
  const logger = options.logger.child({ connector: definition.id });
  return {
    secrets: options.secrets,
    apiUrl: (definition.api && (options.env[definition.api.env] || definition.api.defaultUrl)) || '',
    tokens: options.tokens,
    signal: options.signal,
    log: (message, fields) => logger.info(fields ?? {}, message),
    throttle: async () => {
      const limit = definition.api?.rateLimit;
      if (limit) await options.acquire(definition.id, limit);
    },
  };
}

/** A connector's OAuth tokens in PostgreSQL, sealed with CRMFLOW_SECRET_KEY. */
export function storedTokens(pool: Pool, box: SecretBox, connectorId: string): ConnectorContext['tokens'] {
  return { get: () => loadTokens(pool, box, connectorId), set: (tokens) => saveTokens(pool, box, connectorId, tokens) };
}

/**
 * The stored tokens of every connector, read over a small pool of its own (`crmflow doctor`, which runs without the
 * runtime); `close()` ends the pool.
 */
export function tokenStoreAt(
  databaseUrl: string,
  box: SecretBox,
): { tokens: (connectorId: string) => ConnectorContext['tokens']; close: () => Promise<void> } {
  const pool = createPool(databaseUrl, { max: 2, connectionTimeoutMillis: 3000 });
  return { tokens: (connectorId) => storedTokens(pool, box, connectorId), close: () => pool.end() };
}
