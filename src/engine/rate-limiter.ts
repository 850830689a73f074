import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RateLimit {
  requests: number;
  perSeconds: number;
}

/**
 * A request budget shared by every crmflow process through Redis: fixed windows of `perSeconds`, at most `requests`
 * grants in each. A caller over budget waits for the next window. If Redis cannot be reached the call goes ahead (the
 * vendor client still honours 429 and Retry-After), so an outage of the limiter never stops work.
 */
export function createRateLimiter(redis: Redis, prefix: string, logger: Logger) {
  return async function acquire(key: string, limit: RateLimit): Promise<void> {
    const windowMs = limit.perSeconds * 1000;
    for (;;) {
      const now = Date.now();
      const window = Math.floor(now / windowMs);
      const redisKey = `${prefix}:ratelimit:${key}:${window}`;
      let granted: number;
      try {
        const results = await redis
          .multi()
          .incr(redisKey)
          .pexpire(redisKey, windowMs * 2)
          .exec();
        granted = Number(results?.[0]?.[1]);
      } catch (error) {
        logger.warn({ err: error, key }, 'rate limiter unavailable; going ahead');
        return;
      }
      if (granted <= limit.requests) return;
      await new Promise((resolve) => setTimeout(resolve, (window + 1) * windowMs - now + Math.random() * 50));
    }
  };
}
