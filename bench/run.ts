/**
 * `npm run bench`: crmflow's throughput and latency against this machine's ceilings. See the README, "Performance".
 *
 *   npm run bench -- [--sizes 1000,10000] [--workers 1] [--concurrency 16] [--rate 500] [--no-reply] [--segments]
 *                    [--modes max,fixed,backlog] [--backlog 10000] [--config split|start] [--profile] [--skip-ceilings]
 *                    [--clients 64] [--timeout-s 200] [--worker-nice 10] [--root ../base-checkout]
 *
 * A phase stops waiting `--timeout-s` after its first request (so the default run ends within 10 minutes even on a
 * busy machine); a phase cut short is reported with the runs it completed (`complete: false`).
 *
 * Each (size, mode) phase gets a fresh database and queue prefix, an API process and `--workers` worker processes
 * (`node bin/crmflow.js api|worker`), signed deliveries built from the vendor samples, and ends when every run has
 * finished. The processes run the compiled JavaScript, as production does: the bench builds dist/ (`npm run build`)
 * first. `--config start` runs one `node bin/crmflow.js start` instead (its defaults: the worker in a child process,
 * the shipped workflows.yaml) on Shopify orders only, the events its shipped workflow answers by email. Mode `backlog`
 * posts `--backlog` events as fast as it can, then `size` more at `--rate` while that backlog is worked off, and
 * reports the acknowledgement latency of the latter. `--root DIR` measures another checkout of crmflow (an earlier commit)
 * with this harness: its build, bin/crmflow.js, migrations and shipped workflows.yaml, its runs labelled with its
 * commit, so before and after come from the same load generator in one sitting. Writes bench/results.json (runs of
 * other configurations are kept) and bench/results.md.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { parseDocument } from 'yaml';
import { ENV_VARS } from '../src/config/env.js';
import { migrate } from '../src/store/migrate.js';
import { createPool } from '../src/store/pool.js';
import { bullmqCeiling, httpCeiling, pgUpsertCeiling, type Ceilings } from './ceilings.js';
import { askHelper, forkHelper, startCrmflowProcess, stopProcess } from './children.js';
import { summarizeProfile, type ProfileSummary } from './cpu-profile.js';
import { buildCorpus, shopifyOrders, type SigningSecrets } from './events.js';
import { latencySummary, nowMs, runLoad } from './load.js';
import { sampleProcesses, type Watched } from './proc-stats.js';
import { evaluateTargets, mergeRuns, resultsMarkdown, type Machine, type Results, type RunResult } from './report.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string', default: '500' },
    'no-reply': { type: 'boolean', default: false },
    // Three segments declared (#15), to compare the CPU per event with a run without them.
    segments: { type: 'boolean', default: false },
    modes: { type: 'string', default: 'max,fixed' },
    backlog: { type: 'string', default: '10000' },
    // split: `crmflow api` + `--workers` × `crmflow worker`; start: one `crmflow start` with the shipped workflows.yaml.
    config: { type: 'string', default: 'split' },
    profile: { type: 'boolean', default: false },
    'skip-ceilings': { type: 'boolean', default: false },
    clients: { type: 'string', default: '64' },
    'timeout-s': { type: 'string', default: '200' },
    // Workers share the machine with the API here: the setting the README recommends for that (CRMFLOW_WORKER_NICE).
    'worker-nice': { type: 'string', default: '10' },
    // CRMFLOW_ACK_TARGET_MS for crmflow (`start` steers its worker by it; 0 = off); unset: crmflow's default.
    'ack-target-ms': { type: 'string' },
    // Another checkout of crmflow to measure (a baseline commit); default: this one.
    root: { type: 'string' },
  },
});

const BENCH_DIR = fileURLToPath(new URL('./', import.meta.url));
const RESULTS_JSON = `${BENCH_DIR}results.json`;
const RESULTS_MD = `${BENCH_DIR}results.md`;
const PROFILE_DIR = `${BENCH_DIR}results/profiles`;
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const sizes = args.sizes
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const workers = Math.max(1, Number(args.workers));
const concurrency = Math.max(1, Number(args.concurrency));
const rate = Math.max(1, Number(args.rate));
const reply = !args['no-reply'];
const withSegments = args.segments;
type Mode = 'max' | 'fixed' | 'backlog';
const modes = args.modes.split(',').filter((mode): mode is Mode => ['max', 'fixed', 'backlog'].includes(mode));
const backlog = Math.max(1, Number(args.backlog));
const deployment = args.config === 'start' ? 'start' : 'split';
if (deployment === 'start' && (workers !== 1 || !reply))
  throw new Error('--config start runs one `crmflow start` with the shipped workflows.yaml (one worker, replies)');
/** The checkout measured: this one, or `--root`'s. */
const ROOT = args.root ? resolve(args.root) : fileURLToPath(new URL('../', import.meta.url));
/** Its commit, when it is not this checkout: what its runs are labelled with. */
const baseCommit = args.root
  ? execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
  : undefined;
/** The workflows.yaml `npm start` uses. */
const SHIPPED_WORKFLOWS = `${ROOT}/workflows.yaml`;
const clients = Math.max(1, Number(args.clients));
const phaseTimeoutMs = Number(args['timeout-s']) * 1000;
const workerNice = Math.min(19, Math.max(0, Number(args['worker-nice'])));
const ackTargetMs = args['ack-target-ms'] === undefined ? undefined : Math.max(0, Number(args['ack-target-ms']));

const SIGNING: SigningSecrets = {
  shopify: 'bench-shopify-secret',
  form: 'bench-form-secret',
  meta: 'bench-meta-secret',
  twilio: 'bench-twilio-token',
};

const log = (line: string) => process.stdout.write(`${line}\n`);

function othersRunning(): string[] {
  try {
    return execFileSync('pgrep', ['-fa', 'vitest'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function machine(): Omit<Machine, 'idle' | 'note'> {
  const model =
    /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ??
    cpus()[0]?.model ??
    'unknown CPU';
  return {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpu: model,
    node: process.version,
    date: new Date().toISOString(),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `crmflow_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
  return {
    url,
    drop: async () => {
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Deletes every Redis key under a BullMQ prefix (completed jobs are kept up to 10,000 by crmflow's job options). */
async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Declared with `--segments`: a value threshold, a time-based one (the sweep's probing) and one over channels. */
const BENCH_SEGMENTS = [
  { id: 'vip', when: '$customer.traits.lifetime_value >= 1000' },
  {
    id: 'lapsing',
    when: '$customer.traits.orders_count >= 2 and $daysSince($customer.traits.last_order_at) > 1.5 * $customer.traits.average_days_between_orders',
  },
  { id: 'multichannel', when: '$count($customer.traits.channels) >= 2' },
];

/** The bench workflows, without their reply steps for `--no-reply`, with three segments for `--segments`. */
function workflowsFile(withReply: boolean): string {
  const source = `${BENCH_DIR}workflows.yaml`;
  if (withReply && !withSegments) return source;
  const doc = parseDocument(readFileSync(source, 'utf8'));
  const json = doc.toJS() as { workflows: Array<{ steps: Array<{ type: string }> }>; segments?: unknown[] };
  if (!withReply)
    for (const workflow of json.workflows) workflow.steps = workflow.steps.filter((step) => step.type !== 'reply');
  if (withSegments) json.segments = BENCH_SEGMENTS;
  mkdirSync(`${BENCH_DIR}results`, { recursive: true });
  const target = `${BENCH_DIR}results/workflows${withReply ? '' : '.no-reply'}${withSegments ? '.segments' : ''}.yaml`;
  writeFileSync(target, JSON.stringify(json, null, 2)); // JSON is YAML
  return target;
}

function crmflowEnv(options: {
  databaseUrl: string;
  prefix: string;
  port: number;
  smtpUrl: string;
  config: string;
}): Record<string, string> {
  const secrets = Object.fromEntries(
    ENV_VARS.filter((spec) => spec.secret).map((spec) => [spec.name, `bench-${spec.name.toLowerCase()}`]),
  );
  return {
    ...secrets,
    NODE_ENV: 'production',
    // What production runs (bin/crmflow.js); the bench builds it first. Through tsx a process holds ~40 MB more.
    CRMFLOW_RUN_FROM: 'dist',
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: REDIS_URL,
    CRMFLOW_CONFIG: options.config,
    CRMFLOW_QUEUE_PREFIX: options.prefix,
    CRMFLOW_PUBLIC_URL: `http://127.0.0.1:${options.port}`,
    PORT: String(options.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CRMFLOW_DRAIN_MS: '0',
    CRMFLOW_SHUTDOWN_TIMEOUT_MS: '10000',
    WORKER_CONCURRENCY: String(concurrency),
    CRMFLOW_WORKER_NICE: String(workerNice),
    ...(ackTargetMs === undefined ? {} : { CRMFLOW_ACK_TARGET_MS: String(ackTargetMs) }),
    SMTP_URL: options.smtpUrl,
    SHOPIFY_WEBHOOK_SECRET: SIGNING.shopify,
    FORM_WEBHOOK_SECRET: SIGNING.form,
    META_APP_SECRET: SIGNING.meta,
    TWILIO_AUTH_TOKEN: SIGNING.twilio,
    EMAIL_MAILBOXES: 'none',
  };
}

/** The measured checkout's migrations: a baseline runs on its own schema. */
async function migrateMeasured(pool: pg.Pool): Promise<void> {
  if (!args.root) return void (await migrate(pool));
  const theirs = (await import(
    pathToFileURL(`${ROOT}/src/store/migrate.ts`).href
  )) as typeof import('../src/store/migrate.js');
  await theirs.migrate(pool);
}

async function redisPid(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('server');
  const pid = /process_id:(\d+)/.exec(info)?.[1];
  return pid && existsSync(`/proc/${pid}`) ? Number(pid) : undefined;
}

/** Inbox events not yet processed, counted through their partial index (`inbox_events_pending_idx`). */
async function pendingEvents(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT /* bench */ count(*)::int AS n FROM inbox_events WHERE status = 'pending'",
  );
  return rows[0]!.n;
}

/** The child processes of `pid`, by the parent pid in /proc/<child>/stat. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Statements the bench database's clients sent, from pg_stat_statements (the bench's own queries, marked
 * `/* bench *\/`, left out); a string saying why when the extension is not available on this server.
 */
interface StatementCounts {
  all: number;
  withoutTransactionControl: number;
  top: Array<{ calls: number; query: string }>;
}

async function statementCounter(pool: pg.Pool) {
  const unavailable = await pool
    .query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    .then(
      () => pool.query('SELECT 1 FROM pg_stat_statements LIMIT 1').then(() => undefined),
      (error: Error) => `pg_stat_statements unavailable: ${error.message}`,
    )
    .catch((error: Error) => `pg_stat_statements unavailable: ${error.message}`);
  return {
    reset: async () => {
      if (!unavailable) await pool.query('SELECT /* bench */ pg_stat_statements_reset()');
    },
    read: async (): Promise<StatementCounts | string> => {
      if (unavailable) return unavailable;
      const ours = `FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
         WHERE d.datname = current_database() AND s.query NOT LIKE '%/* bench */%'`;
      const { rows } = await pool.query<{ all: string; plain: string }>(
        `SELECT /* bench */ coalesce(sum(calls), 0) AS all,
                coalesce(sum(calls) FILTER (WHERE query !~* '^\\s*(BEGIN|COMMIT|ROLLBACK)'), 0) AS plain ${ours}`,
      );
      // Where they go: the most frequent statements, their text shortened to what tells them apart.
      const { rows: top } = await pool.query<{ calls: string; query: string }>(
        `SELECT /* bench */ sum(calls) AS calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS query ${ours}
         GROUP BY 2 ORDER BY 1 DESC LIMIT 15`,
      );
      return {
        all: Number(rows[0]!.all),
        withoutTransactionControl: Number(rows[0]!.plain),
        top: top.map((row) => ({ calls: Number(row.calls), query: row.query })),
      };
    },
  };
}

interface PhaseContext {
  smtpSink: ChildProcess;
  smtpUrl: string;
  redis: Redis;
  redisPid?: number;
  config: string;
  profile: boolean;
}

/** One (size, mode) phase: fresh database, crmflow processes, load, wait for every run, measure, tear down. */
async function runPhase(size: number, mode: Mode, context: PhaseContext): Promise<RunResult> {
  const db = await createDatabase();
  const prefix = `crmflow-bench-${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  const children: ChildProcess[] = [];
  const counters: Record<string, number> = { 'reconciler enqueued': 0 };
  const pool = createPool(db.url, { max: 2 });
  // An idle connection ended by the server (another suite's pg_terminate_backend on this shared server) is replaced on
  // the next query; unhandled, its error event would end the whole bench.
  pool.on('error', (error) => log(`    bench connection lost: ${error.message}`));
  const profileDir = `${PROFILE_DIR}/${deployment}-${reply ? 'reply' : 'no-reply'}-w${workers}-${size}-${mode}`;
  try {
    await migrateMeasured(pool);
    const statements = await statementCounter(pool);
    const env = crmflowEnv({ databaseUrl: db.url, prefix, port, smtpUrl: context.smtpUrl, config: context.config });
    const nodeArgs = context.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    if (context.profile) mkdirSync(profileDir, { recursive: true });
    // `start`: one process answering webhooks, its worker a child process (measured as the worker).
    const api = await startCrmflowProcess(ROOT, deployment === 'start' ? 'start' : 'api', env, counters, nodeArgs);
    children.push(api);
    const workerProcesses =
      deployment === 'start'
        ? []
        : await Promise.all(
            Array.from({ length: workers }, () => startCrmflowProcess(ROOT, 'worker', env, counters, nodeArgs)),
          );
    children.push(...workerProcesses);

    const total = mode === 'backlog' ? backlog + size : size;
    const corpus =
      deployment === 'start'
        ? shopifyOrders(
            buildCorpus({ size: Math.ceil(total * 2.6), secrets: SIGNING, publicUrl: env.CRMFLOW_PUBLIC_URL! }),
          ).slice(0, total)
        : buildCorpus({ size: total, secrets: SIGNING, publicUrl: env.CRMFLOW_PUBLIC_URL! });
    const indexByKey = new Map(corpus.map((event, index) => [`${event.connector}\u0000${event.externalId}`, index]));
    await askHelper(context.smtpSink, { type: 'reset' }, 'count').catch(() => 0);
    // A short warm-up outside the measurement would leave runs in the database; instead every phase starts cold alike.
    const watched: Watched[] = [
      { name: deployment === 'start' ? 'api (crmflow start)' : 'api', pid: api.pid! },
      ...(deployment === 'start'
        ? [{ name: 'worker 1 (child of crmflow start)', pid: () => childrenOf(api.pid!) }]
        : workerProcesses.map((child, i) => ({ name: `worker ${i + 1}`, pid: child.pid! }))),
      { name: 'smtp-sink', pid: context.smtpSink.pid! },
      { name: 'postgres (bench database backends)', pid: () => [...backends] },
      ...(context.redisPid ? [{ name: 'redis', pid: context.redisPid }] : []),
    ];
    // PostgreSQL backends serving this phase's database (not other databases' backends on the same server).
    const backends = new Set<number>();
    const listBackends = async () => {
      const { rows } = await pool.query<{ pid: number }>(
        'SELECT /* bench */ pid FROM pg_stat_activity WHERE datname = current_database()',
      );
      for (const row of rows) backends.add(row.pid);
    };
    await listBackends();
    const backendTimer = setInterval(() => void listBackends().catch(() => {}), 1000);
    const transactions = async () =>
      (
        await pool.query<{ n: number }>(
          'SELECT /* bench */ (xact_commit + xact_rollback)::int AS n FROM pg_stat_database WHERE datname = current_database()',
        )
      ).rows[0]!.n;
    const transactionsBefore = await transactions();
    await statements.reset();
    const sampler = sampleProcesses(watched);
    const base = { baseUrl: `http://127.0.0.1:${port}`, concurrency: clients, timeoutMs: phaseTimeoutMs };
    // Backlog mode: the backlog as fast as it goes, then the measured deliveries at a fixed rate while it is worked off.
    const backlogLoad =
      mode === 'backlog' ? await runLoad({ ...base, deliveries: corpus.slice(0, backlog) }) : undefined;
    const load = await runLoad({
      ...base,
      deliveries: mode === 'backlog' ? corpus.slice(backlog) : corpus,
      rate: mode === 'max' ? undefined : rate,
    });
    const ok = (result: typeof load) =>
      Array.from(result.status).filter((status) => status >= 200 && status < 300).length;
    const acknowledged = ok(load) + (backlogLoad ? ok(backlogLoad) : 0);
    log(
      `    posted ${total} in ${((load.finishedAt - (backlogLoad ?? load).startedAt) / 1000).toFixed(1)} s, ${acknowledged} acknowledged, ${load.errors} errors; waiting for the runs…`,
    );
    // Backlog mode measures acknowledgements while the backlog drains: the events still pending show it did.
    const pendingAtEnd = mode === 'backlog' ? await pendingEvents(pool) : undefined;
    if (pendingAtEnd !== undefined)
      log(`    ${pendingAtEnd} events still pending when the last measured post was answered`);

    const deadline = (backlogLoad ?? load).startedAt + phaseTimeoutMs;
    let lastReport = 0;
    // The progress poll counts pending events by their narrow partial index, once a second: cheap beside the load.
    for (;;) {
      const pending = await pendingEvents(pool);
      if (pending === 0 || mode === 'backlog') break;
      if (nowMs() > deadline) {
        log(`    timed out: ${pending} of ${acknowledged} events still pending`);
        break;
      }
      if (nowMs() - lastReport > 10_000) {
        lastReport = nowMs();
        log(
          `    ${acknowledged - pending} / ${acknowledged} events processed after ${((nowMs() - load.startedAt) / 1000).toFixed(0)} s`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    // Events worked off (every run they started has finished), not runs: the shipped workflows.yaml may start several
    // runs per event (until 2026-12-08 two per Shopify order, which made `start`'s rate read twice what it was).
    const finished = (
      await pool.query<{ done: number; failed: number }>(
        "SELECT /* bench */ (SELECT count(*) FROM inbox_events WHERE status <> 'pending')::int AS done, (SELECT count(*) FROM workflow_runs WHERE status = 'failed')::int AS failed",
      )
    ).rows[0]!;
    await listBackends().catch(() => {});
    clearInterval(backendTimer);
    const usage = sampler.stop();
    // Statistics reach pg_stat_database when a backend goes idle: the count settles within a moment.
    await new Promise((resolve) => setTimeout(resolve, 600));
    const pgTransactions = (await transactions()) - transactionsBefore;
    const pgStatements = await statements.read();

    const { rows: runs } = await pool.query<{ connector: string; external_id: string; finished: number }>(
      `SELECT i.connector, i.external_id, extract(epoch FROM r.finished_at) * 1000 AS finished
       FROM workflow_runs r JOIN inbox_events i ON i.id = r.inbox_event_id WHERE r.finished_at IS NOT NULL`,
    );
    const endToEnd: number[] = [];
    const startedAt = (backlogLoad ?? load).startedAt;
    let lastFinished = load.finishedAt;
    for (const run of runs) {
      const index = indexByKey.get(`${run.connector}\u0000${run.external_id}`);
      const finishedAt = Number(run.finished);
      lastFinished = Math.max(lastFinished, finishedAt);
      const offset = mode === 'backlog' ? backlog : 0;
      if (index !== undefined && index >= offset && Number.isFinite(load.ackAt[index - offset]))
        endToEnd.push(finishedAt - load.ackAt[index - offset]!);
    }
    const ack = Array.from(load.ackAt, (at, i) => at - load.dueAt[i]!);
    const seconds = (lastFinished - startedAt) / 1000;
    const { rows: counts } = await pool.query<{ customers: number; merges: number }>(
      'SELECT (SELECT count(*) FROM customers WHERE merged_into IS NULL)::int AS customers, (SELECT count(*) FROM customer_merges)::int AS merges',
    );
    const emails = await askHelper<number>(context.smtpSink, { type: 'count' }, 'count');
    const { rows: replyRows } = await pool.query<{ status: string; n: number }>(
      "SELECT coalesce(output->>'status', status) AS status, count(*)::int AS n FROM run_steps WHERE type = 'reply' GROUP BY 1",
    );

    await Promise.all(children.map((child) => stopProcess(child)));
    // Updates in place and how many were HOT (no index entry written), per table; the stopped processes flushed theirs.
    const { rows: updated } = await pool.query<{ name: string; updates: number; hot: number }>(
      `SELECT /* bench */ relname AS name, n_tup_upd::int AS updates, n_tup_hot_upd::int AS hot FROM pg_stat_user_tables
       WHERE n_tup_upd > 0 ORDER BY n_tup_upd DESC`,
    );
    let profiles: Record<string, ProfileSummary> | undefined;
    if (context.profile) {
      profiles = {};
      const names = new Map<number, string>([
        [api.pid!, 'api'],
        ...workerProcesses.map((child, i): [number, string] => [child.pid!, `worker ${i + 1}`]),
      ]);
      // CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile; thread 0 is the main thread (others: tsx's loader thread).
      for (const file of readdirSync(profileDir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name))) {
        const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(file)?.[1]);
        const name = names.get(pid);
        if (name) profiles[name] = summarizeProfile(`${profileDir}/${file}`);
      }
    }
    return {
      config: { reply, workers, concurrency, workerNice, deployment, segments: withSegments, ackTargetMs, baseCommit },
      size,
      mode,
      ...(mode === 'max' ? {} : { rate }),
      ...(mode === 'backlog' ? { backlog, pendingAtEnd } : {}),
      date: new Date().toISOString(),
      acknowledged,
      runsCompleted: finished.done,
      // Backlog mode stops at the last measured acknowledgement, by design.
      complete: mode === 'backlog' || finished.done >= total,
      runsFailed: finished.failed,
      seconds: Math.round(seconds * 100) / 100,
      endToEndPerSecond: Math.round((finished.done / seconds) * 10) / 10,
      ingestPerSecond: Math.round(acknowledged / ((load.finishedAt - startedAt) / 1000)),
      ack: latencySummary(ack),
      endToEnd: latencySummary(endToEnd),
      emails,
      replies: Object.fromEntries(replyRows.map((row) => [row.status, row.n])),
      customers: counts[0]!.customers,
      merges: counts[0]!.merges,
      pgTransactionsPerEvent: Math.round((pgTransactions / Math.max(1, acknowledged)) * 10) / 10,
      pgStatementsPerEvent:
        typeof pgStatements === 'string'
          ? pgStatements
          : {
              all: Math.round((pgStatements.all / Math.max(1, acknowledged)) * 10) / 10,
              withoutTransactionControl:
                Math.round((pgStatements.withoutTransactionControl / Math.max(1, acknowledged)) * 10) / 10,
              top: pgStatements.top.map(({ calls, query }) => ({
                perEvent: Math.round((calls / Math.max(1, acknowledged)) * 100) / 100,
                query,
              })),
            },
      reconcilerEnqueues: counters['reconciler enqueued']!,
      updatesInPlace: Object.fromEntries(updated.map((row) => [row.name, { updates: row.updates, hot: row.hot }])),
      processes: usage.processes,
      machineBusyPercent: usage.machineBusyPercent,
      ...(profiles ? { profiles } : {}),
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await pool.end().catch(() => {});
    await db.drop().catch((error: Error) => log(`    could not drop the database: ${error.message}`));
    await dropPrefix(context.redis, prefix).catch(() => {});
  }
}

async function measureCeilings(smtpSink: ChildProcess, smtpUrl: string): Promise<Ceilings> {
  const orders = shopifyOrders(buildCorpus({ size: 50_000, secrets: SIGNING, publicUrl: 'http://127.0.0.1:1' }));
  const env = { shopifySecret: SIGNING.shopify, smtpUrl, smtpSink };
  log('ceilings:');
  const verify = await httpCeiling('Express + Shopify HMAC check', 'verify', orders.slice(0, 20_000), env, clients);
  log(`  (a) ${verify.name}: ${verify.perSecond} requests/s`);
  const verifyEmail = await httpCeiling(
    '(a) + one email per order (nodemailer pooled)',
    'verify-email',
    orders.slice(0, 6_000),
    env,
    clients,
  );
  log(`  (b) ${verifyEmail.name}: ${verifyEmail.perSecond} requests/s`);
  const noopPost = await httpCeiling('Express no-op POST route', 'noop', orders.slice(0, 20_000), env, clients);
  log(`  ${noopPost.name}: ${noopPost.perSecond} requests/s`);
  const bullmqNoop = await bullmqCeiling(
    REDIS_URL,
    `crmflow-bench-${randomBytes(4).toString('hex')}`,
    20_000,
    concurrency,
  );
  log(`  ${bullmqNoop.name}: ${bullmqNoop.perSecond} jobs/s`);
  const db = await createDatabase();
  try {
    const pgUpsertRows = await pgUpsertCeiling(db.url);
    log(`  ${pgUpsertRows.name}: ${pgUpsertRows.perSecond} rows/s`);
    return { verify, verifyEmail, noopPost, bullmqNoop, pgUpsertRows };
  } finally {
    await db.drop();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const busyBefore = othersRunning();
  if (busyBefore.length > 0)
    log(`note: other test processes are running (${busyBefore.length}); figures will be lower than on an idle machine`);
  log('building dist/ (npm run build): the processes measured run the compiled JavaScript');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const { child: smtpSink, port: smtpPort } = await forkHelper('./smtp-sink.ts');
  const smtpUrl = `smtp://127.0.0.1:${smtpPort}`;
  const previous: Results | undefined = existsSync(RESULTS_JSON)
    ? (JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) as Results)
    : undefined;
  let busyDuring = busyBefore.length > 0;
  try {
    const ceilings =
      args['skip-ceilings'] && previous?.ceilings ? previous.ceilings : await measureCeilings(smtpSink, smtpUrl);
    const context: PhaseContext = {
      smtpSink,
      smtpUrl,
      redis,
      redisPid: await redisPid(redis),
      config: deployment === 'start' ? SHIPPED_WORKFLOWS : workflowsFile(reply),
      profile: false,
    };
    const current: RunResult[] = [];
    const largest = Math.max(...sizes);
    for (const size of sizes) {
      for (const mode of modes) {
        log(
          `crmflow ${deployment === 'start' ? '`start` (shipped workflows.yaml, Shopify orders)' : `${reply ? 'with' : 'without'} reply, ${workers} worker(s) × ${concurrency}${workerNice ? ` at nice ${workerNice}` : ''}`}, ${size} events, ${mode === 'max' ? 'maximum rate' : mode === 'fixed' ? `fixed ${rate}/s` : `${backlog} backlog, then fixed ${rate}/s`}:`,
        );
        const profile = args.profile && mode === 'max' && size === largest;
        const run = await runPhase(size, mode, { ...context, profile });
        run.ceilingRatio =
          Math.round(
            (run.endToEndPerSecond / (reply ? ceilings.verifyEmail.perSecond : ceilings.verify.perSecond)) * 1000,
          ) / 1000;
        busyDuring ||= othersRunning().length > 0;
        log(
          `    ${run.endToEndPerSecond} events/s end-to-end (${run.ceilingRatio} × ceiling ${reply ? 'b' : 'a'}), ack p50/p95/p99 ${run.ack.p50}/${run.ack.p95}/${run.ack.p99} ms, ` +
            `e2e p50/p99 ${run.endToEnd.p50}/${run.endToEnd.p99} ms, ${run.runsFailed} failed, ${run.emails} emails, ${run.merges} merges, reconciler re-enqueues ${run.reconcilerEnqueues}`,
        );
        for (const usage of run.processes)
          log(
            `      ${usage.name}: ${usage.cpuSeconds} CPU s (${((usage.cpuSeconds * 1000) / Math.max(1, run.acknowledged)).toFixed(2)} ms / event), peak ${usage.peakRssMb} MB`,
          );
        log(
          `      updates (HOT) per table: ${Object.entries(run.updatesInPlace ?? {})
            .map(([table, { updates, hot }]) => `${table} ${updates} (${hot})`)
            .join(', ')}`,
        );
        log(
          `      PG transactions / event ${run.pgTransactionsPerEvent}; statements / event ${typeof run.pgStatementsPerEvent === 'string' ? run.pgStatementsPerEvent : `${run.pgStatementsPerEvent?.all} (${run.pgStatementsPerEvent?.withoutTransactionControl} without BEGIN/COMMIT)`}`,
        );
        if (typeof run.pgStatementsPerEvent === 'object')
          for (const { perEvent, query } of run.pgStatementsPerEvent.top ?? []) log(`        ${perEvent} × ${query}`);
        current.push(run);
      }
    }
    const note = busyDuring
      ? 'other test suites were running on the machine during the measurement'
      : 'the machine was otherwise idle (no test suite running)';
    const results: Results = {
      machine: { ...machine(), idle: !busyDuring, note },
      ceilings,
      runs: mergeRuns(previous?.runs ?? [], current),
    };
    const targets = evaluateTargets(results);
    writeFileSync(RESULTS_JSON, `${JSON.stringify({ ...results, targets }, null, 2)}\n`);
    const markdown = resultsMarkdown(results, targets);
    writeFileSync(RESULTS_MD, markdown);
    log('');
    for (const target of targets)
      log(
        `${target.pass === undefined ? 'n/a ' : target.pass ? 'PASS' : 'MISS'}  ${target.name} [${target.config}]: ${target.measured}`,
      );
    log(`\nwrote ${RESULTS_JSON} and ${RESULTS_MD} in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    smtpSink.kill('SIGTERM');
    redis.disconnect();
  }
}

await main();
