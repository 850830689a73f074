import { createHash } from 'node:crypto';
import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint columns (ids, counts) come back as JS numbers: ours stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface PoolOptions {
  /** Maximum connections in this process. Default 20. */
  max?: number;
  /** Fail a connection attempt after this many ms, so an unreachable database answers 503 quickly. Default 5000. */
  connectionTimeoutMillis?: number;
}

/** At most this many distinct statement texts are prepared; beyond it queries are parsed as usual. */
const MAX_PREPARED_TEXTS = 1000;
const statementNames = new Map<string, string>();

/** The prepared-statement name for a query text (the same on every connection), or undefined past the cap. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED_TEXTS) {
    name = `cf_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * A client that prepares every parameterized query once per connection, so PostgreSQL parses and plans the engine's
 * hot statements once instead of on each of the ~20 statements per event (measured in `npm run bench`). Queries
 * without parameters (BEGIN, COMMIT, migrations with several statements) run as before.
 */
class PreparingClient extends pg.Client {
  override query(...args: unknown[]): never {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && (args.length === 2 || typeof args[2] === 'function')) {
      const name = statementName(text);
      if (name) return (super.query as (...rest: unknown[]) => never)({ name, text, values }, ...args.slice(2));
    }
    return (super.query as (...rest: unknown[]) => never)(...args);
  }
}

export function createPool(databaseUrl: string, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString: databaseUrl,
    max: options.max ?? 20,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out one between two queries (inside a transaction): its next query fails instead, and the pool
  // discards it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export interface TransactionOptions {
  /**
   * `false`: COMMIT returns before its WAL record is flushed to disk. Only for a change whose effects reach no one
   * before a later, flushed commit of the same work (which flushes this one's record too): a database crash in
   * between loses both, as if neither ran, and the work is retried. Saves the flush wait, held under every lock the
   * transaction took. Default `true`.
   */
  synchronousCommit?: boolean;
}

/** Runs `work` in a transaction on one client; rolls back on any error. */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(options.synchronousCommit === false ? 'BEGIN; SET LOCAL synchronous_commit = off' : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

const RETRYABLE_TX_CODES = new Set(['40001', '40P01']); // serialization failure, deadlock detected
const TRANSACTION_ATTEMPTS = 8;

/** `withTransaction`, retried when PostgreSQL aborts it for a serialization failure or deadlock. */
export async function withRetriedTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTransaction(pool, work, options);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (attempt >= TRANSACTION_ATTEMPTS || code === undefined || !RETRYABLE_TX_CODES.has(code)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}
