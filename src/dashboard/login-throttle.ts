import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface LoginThrottleOptions {
  /** Failed sign-ins one user name may have from one address per window before it is refused (429). Default 10. */
  limit?: number;
  /** Window in ms, counted from the first failure. Default 15 minutes. */
  windowMs?: number;
  /**
   * Told when Redis does not answer. Sign-ins then go on unthrottled (and failures are each audited) rather than
   * locking everyone out of the dashboard while Redis is away.
   */
  onError?: (error: Error) => void;
}

export interface LoginThrottle {
  /** True when `user` from `ip` has failed `limit` times in the window: even the right password waits. */
  blocked: (user: string, ip: string) => Promise<boolean>;
  /**
   * Counts a failure of `user` from `ip`; answers how many failures `actor` (the audited name) has had in the window
   * from any address, so the audit log can summarise them instead of storing each.
   */
  fail: (user: string, ip: string, actor: string) => Promise<number>;
  /** Forgets the failures of `user` from `ip` (a successful sign-in). */
  succeed: (user: string, ip: string) => Promise<void>;
}

/**
 * Failed sign-ins counted in Redis per user name and client address (OWASP ASVS 2.2.1): shared by every API process,
 * so N processes do not allow N times the limit, and one person mistyping does not lock out colleagues behind the same
 * proxy, nor can an attacker lock out a user from elsewhere. Keys hold a hash of the typed name, never the text.
 */
export function createLoginThrottle(redis: Redis, prefix: string, options: LoginThrottleOptions = {}): LoginThrottle {
  const limit = options.limit ?? 10;
  const windowMs = options.windowMs ?? 15 * 60 * 1000;
  const hash = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);
  const pairKey = (user: string, ip: string) => `${prefix}:login:fail:${hash(`${user.toLowerCase()}\n${ip}`)}`;
  const actorKey = (actor: string) => `${prefix}:login:actor:${hash(actor)}`;
  const count = async (key: string) => {
    // The window starts at the first failure (SET NX), and INCR keeps its expiry.
    const results = (await redis.multi().set(key, 0, 'PX', windowMs, 'NX').incr(key).exec()) ?? [];
    return Number(results[1]?.[1] ?? 0);
  };
  const orElse = async <T>(work: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      options.onError?.(error as Error);
      return fallback;
    }
  };
  return {
    blocked: (user, ip) => orElse(async () => Number((await redis.get(pairKey(user, ip))) ?? 0) >= limit, false),
    fail: (user, ip, actor) =>
      orElse(async () => {
        await count(pairKey(user, ip));
        return count(actorKey(actor));
      }, 1),
    succeed: (user, ip) => orElse(async () => void (await redis.del(pairKey(user, ip))), undefined),
  };
}

/**
 * Whether the `n`th failure of one name in a window is written to the audit log: the 1st, 10th, 100th... so a flood
 * of guesses leaves a few summary rows (each with the count so far) in the append-only log, not one row each.
 */
export function auditsFailure(n: number): boolean {
  return n === 1 || (n >= 10 && /^10*$/.test(String(n)));
}
