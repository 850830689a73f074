import type { Request } from 'express';
import type { Actor } from '../../operations/context.js';
import { InvalidInputError } from '../../operations/errors.js';

/** A non-negative integer query or path parameter; `fallback` when absent. */
export function intParam(value: unknown, name: string, fallback?: number): number | undefined {
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0)
    throw new InvalidInputError(`${name} must be a non-negative integer`);
  return number;
}

/** The `id` path parameter. */
export function idParam(req: Request, name = 'id'): number {
  return intParam(req.params[name], name)!;
}

/** `limit` of a list: default 50, at most 500. */
export function limitParam(value: unknown): number {
  return Math.min(intParam(value, 'limit', 50)!, 500);
}

/** The paging and customer filter every list route takes: `customer_id`, `before`, `limit`. */
export function listQuery(query: Record<string, unknown>): { customerId?: number; before?: number; limit: number } {
  return {
    customerId: intParam(query.customer_id, 'customer_id'),
    before: intParam(query.before, 'before'),
    limit: limitParam(query.limit),
  };
}

/** A non-empty string parameter, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The API token is one actor with admin rights. */
export function apiActor(req: Request): Actor {
  return { name: 'api-token', role: 'admin', ip: req.ip ?? null, via: 'api' };
}

/** A keyset page: the rows under `key` and the id to ask for the next page with (null on the last). */
export function page<T extends { id: number }>(
  key: string,
  rows: T[],
  present: (row: T) => unknown = (row) => row,
): Record<string, unknown> {
  return { [key]: rows.map(present), next_before: rows.length > 0 ? rows.at(-1)!.id : null };
}

const snake = (key: string) => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/**
 * A store row with camelCase keys as the API answers it: snake_case keys, like the customer record and the webhooks.
 * Shallow on purpose: payloads, triggers and step inputs are vendor or user data and keep their own keys.
 */
export function snakeKeys(row: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [snake(key), value]));
}
