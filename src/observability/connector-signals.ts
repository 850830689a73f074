import type { Redis } from 'ioredis';

/**
 * Per-connector trouble signals for the dashboard's connector health: signature failures per minute and the last
 * error. Kept in Redis, not Postgres: every process sees them, and a flood of forged webhooks costs one INCR each
 * instead of a database write. They expire by themselves (failures after 2 h, the last error after 7 days).
 */
export interface ConnectorSignals {
  /** A webhook refused for its signature (fire and forget: a Redis outage must not change the answer). */
  signatureFailure: (connector: string) => void;
  /** The connector's latest error: a refused or unreadable webhook, a failed pull, a failed enrichment. */
  error: (connector: string, message: string) => void;
  read: (connectors: string[], now?: number) => Promise<Map<string, ConnectorSignalSummary>>;
}

export interface ConnectorSignalSummary {
  signatureFailuresLastHour: number;
  lastError: { at: string; message: string } | null;
}

const minute = (ms: number) => Math.floor(ms / 60_000);

export function connectorSignals(redis: Redis, prefix: string): ConnectorSignals {
  const failureKey = (connector: string, at: number) => `${prefix}:signals:signature:${connector}:${at}`;
  const errorKey = (connector: string) => `${prefix}:signals:error:${connector}`;
  const ignore = () => {};
  return {
    signatureFailure: (connector) => {
      const key = failureKey(connector, minute(Date.now()));
      redis.multi().incr(key).expire(key, 7200).exec().catch(ignore);
    },
    error: (connector, message) => {
      redis
        .set(
          errorKey(connector),
          JSON.stringify({ at: new Date().toISOString(), message: message.slice(0, 500) }),
          'EX',
          7 * 86_400,
        )
        .catch(ignore);
    },
    read: async (connectors, now = Date.now()) => {
      const minutes = Array.from({ length: 60 }, (_, index) => minute(now) - index);
      const keys = connectors.flatMap((connector) => [
        errorKey(connector),
        ...minutes.map((at) => failureKey(connector, at)),
      ]);
      const values = keys.length === 0 ? [] : await redis.mget(keys);
      const stride = 1 + minutes.length;
      return new Map(
        connectors.map((connector, index) => {
          const [lastError, ...failures] = values.slice(index * stride, (index + 1) * stride);
          return [
            connector,
            {
              signatureFailuresLastHour: failures.reduce((sum, value) => sum + Number(value ?? 0), 0),
              lastError: lastError ? JSON.parse(lastError) : null,
            },
          ];
        }),
      );
    },
  };
}
