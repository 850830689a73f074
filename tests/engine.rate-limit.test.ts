import pino from 'pino';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/engine/rate-limiter.js';
import { REDIS_URL, testPrefix } from './helpers/crmflow.js';

describe('shared vendor rate limits', () => {
  const connections = [new Redis(REDIS_URL), new Redis(REDIS_URL), new Redis(REDIS_URL)];
  afterAll(() => connections.forEach((redis) => redis.disconnect()));

  it('grants at most the budget per window across processes', async () => {
    // Three "processes" (own connections) share one budget of 4 requests per second.
    const prefix = testPrefix();
    const limiters = connections.map((redis) => createRateLimiter(redis, prefix, pino({ level: 'silent' })));
    const grantedAt: number[] = [];
    // Start just after a window opens, so recording a grant's second never straddles a boundary.
    await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000)));
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        await limiters[i % limiters.length]!('shopify', { requests: 4, perSeconds: 1 });
        grantedAt.push(Math.floor(Date.now() / 1000));
      }),
    );
    const perWindow = new Map<number, number>();
    for (const window of grantedAt) perWindow.set(window, (perWindow.get(window) ?? 0) + 1);
    expect(grantedAt).toHaveLength(12);
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(4);
    expect(perWindow.size).toBeGreaterThanOrEqual(3);
  });

  it('goes ahead when Redis cannot be reached', async () => {
    const unreachable = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    unreachable.on('error', () => {});
    const acquire = createRateLimiter(unreachable, testPrefix(), pino({ level: 'silent' }));
    await expect(acquire('xero', { requests: 1, perSeconds: 60 })).resolves.toBeUndefined();
    await expect(acquire('xero', { requests: 1, perSeconds: 60 })).resolves.toBeUndefined();
  });
});
