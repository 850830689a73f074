import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parseArgs } from 'node:util';
import { connectors } from '../connectors/registry.js';
import { RedisUnavailableError } from '../config/bootstrap.js';
import { envExampleText, envInt, envValue, envReferenceMarkdown, loadDotEnv } from '../config/env.js';
import { createLogger } from '../config/logger.js';
import { webhookAckTimes } from '../observability/ack-times.js';
import { startCrmflow, type Roles } from '../runtime.js';
import { compileExpression } from '../workflows/expression.js';
import { ConfigError, loadConfigFile } from '../workflows/load.js';
import { runMappingCases } from '../workflows/mapping-cases.js';
import { editorSchema } from '../workflows/schema.js';
import { backfill } from './backfill.js';
import { doctor } from './doctor.js';
import { errorMessage } from './error-message.js';
import { runHandOver } from './hand-over.js';
import { simulateIdentity } from '../operations/identity.js';
import { formatSimulation } from './identity-simulate.js';
import { replay } from './replay.js';
import { runsPrune, RUNS_PRUNE_USAGE } from './runs-prune.js';
import { limitWorkerHeapGrowth } from './worker-heap.js';
import { startWorkerProcess } from './worker-process.js';
import { steerWorker, STEER_EVERY_MS } from './ack-guard.js';

/** The CPU priority of `crmflow start`'s child worker unless CRMFLOW_WORKER_NICE says otherwise: it shares the API's machine. */
const START_WORKER_NICE = 10;

const USAGE = `crmflow — CRM integration and workflow automation

Usage:
  crmflow start                 API, a worker and the scheduler (the worker in a child process)
  crmflow api                   HTTP only (webhooks, API)
  crmflow worker                a worker process (run as many as you like, on any machine)
  crmflow validate [file]       check workflows.yaml; prints file:line:col for every problem
  crmflow doctor                check configuration, PostgreSQL, Redis, SMTP and connector credentials
  crmflow backfill CONNECTOR RESOURCE [--since 30d|DATE] [--page-size N]
                                pull history into crmflow with a progress bar (workers process it)
  crmflow replay [--since 24h|DATE] [--workflow ID] [--status failed] [--dry-run]
                                run stored events through the current workflows again, as new runs
  crmflow runs prune [--older-than 90d] [--dry-run]
                                remove step records and stored payloads of runs finished before then (the
                                run rows stay); default CRMFLOW_RUN_RETENTION_DAYS, as the daily job does
  crmflow hand-over AGENT (--to AGENT | --pool POOL) | --list
                                move an agent's customers, open tasks and pending SLAs (audited); --list
                                shows owners who are no longer declared agents
  crmflow identity simulate [--config other.yaml] [--json]
                                replay stored events against another identity: section in memory (writes
                                nothing) and report how many customers would merge, split or stay
  crmflow test [file]           run the mapping tests: every connector's cases and the file's mapping_tests
  crmflow map --expr EXPR --input FILE
  crmflow map --connector ID --event TYPE [--input FILE]
                                evaluate a mapping (default: the connector's, on its sample)
  crmflow schema                print the JSON Schema of workflows.yaml
  crmflow env [--markdown]      print every environment variable (.env.example, or the README table)
`;

/**
 * Runs the roles asked for. `start` (`all`) runs the worker and scheduler in a child process by default
 * (`CRMFLOW_START_WORKER=process`), the API in this one; `inline` keeps them in this process's event loop.
 */
async function serve(roles: Roles, options: { all?: boolean } = {}): Promise<void> {
  const logger = createLogger();
  const childWorker = options.all === true && envValue(process.env, 'CRMFLOW_START_WORKER') !== 'inline';
  const own: Roles = childWorker ? { api: true, worker: false, scheduler: false } : roles;
  if (own.worker && !own.api) {
    limitWorkerHeapGrowth();
    // Before the worker exists: its first jobs already yield to the API, and threads started later inherit the value.
    const nice = Math.min(19, envInt(process.env, 'CRMFLOW_WORKER_NICE'));
    if (nice > 0) lowerPriority(nice);
  }
  let app;
  try {
    app = await startCrmflow({ env: process.env, roles: own, logger });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof RedisUnavailableError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const worker = childWorker
    ? startWorkerProcess({
        // The child reaches the same PostgreSQL and Redis (the embedded ones this process started, if it did).
        env: {
          ...process.env,
          DATABASE_URL: app.databaseUrl,
          REDIS_URL: app.redisUrl,
          CRMFLOW_WORKER_NICE: process.env.CRMFLOW_WORKER_NICE ?? String(START_WORKER_NICE),
        },
        logger,
        graceMs: envInt(process.env, 'CRMFLOW_SHUTDOWN_TIMEOUT_MS') + 5000,
      })
    : undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: shutting down`);
    // The child worker first: its runs finish while this process's PostgreSQL (embedded) still serves them.
    await worker?.stop();
    await app.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  await worker?.ready;
  if (app.url) {
    const lines = [
      `crmflow is running: dashboard ${app.url}/, API ${app.url}/api (Bearer CRMFLOW_API_TOKEN), health ${app.url}/readyz`,
      'Webhook URLs:',
    ];
    for (const id of app.config.connectors.keys()) lines.push(`  ${id.padEnd(12)} ${app.url}/webhooks/${id}`);
    logger.info(lines.join('\n'));
  }
  if (own.worker) logger.info({ workflows: app.config.workflows.map((workflow) => workflow.id) }, 'worker started');
  // `start`: the worker runs as many jobs at once as acknowledging webhooks on the same machine leaves room for. This
  // process's own worker is steered by its own acknowledgements (inline) or by the parent's, sent over IPC (child).
  const ackTargetMs = envInt(process.env, 'CRMFLOW_ACK_TARGET_MS');
  const steered = options.all === true || process.send !== undefined;
  const steerOwn = app.worker && steered && ackTargetMs > 0 ? steerWorker(app.worker, ackTargetMs) : undefined;
  if (options.all === true && ackTargetMs > 0) {
    const steer = worker ? worker.steer : steerOwn;
    if (steer) setInterval(() => steer(webhookAckTimes.takeP95()), STEER_EVERY_MS).unref();
  }
  if (process.send) {
    // A child of `crmflow start`: say it is ready, and stop when the parent is gone (its IPC channel closes).
    process.send({ ready: true });
    process.on('disconnect', () => void stop('parent process gone'));
    if (steerOwn)
      process.on('message', (message: { ackP95?: number | null } | null) => {
        if (message?.ackP95 !== undefined) steerOwn(message.ackP95 ?? undefined);
      });
  }
}

/**
 * Takes `nice` for the whole process. On Linux each thread has its own nice value and `setPriority()` sets only the
 * calling thread's: V8's garbage-collector threads and libuv's pool, started before this, would keep competing with
 * the API at nice 0 (measured: a worker collecting more often doubled the API's ack p99 while a backlog drained).
 * Threads started later inherit the main thread's.
 */
function lowerPriority(nice: number): void {
  setPriority(nice);
  let threads: string[] = [];
  try {
    threads = readdirSync('/proc/self/task');
  } catch {
    return; // not Linux: there the process's priority is the threads' priority
  }
  for (const thread of threads) {
    try {
      setPriority(Number(thread), nice);
    } catch {
      // a thread that ended meanwhile
    }
  }
}

function validate(file: string): void {
  try {
    const config = loadConfigFile(file, { env: process.env });
    process.stdout.write(`${file}: ok (${config.workflows.length} workflows, ${config.connectors.size} connectors)\n`);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      `${error.message}\n${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} in ${file}\n`,
    );
    process.exit(1);
  }
}

async function test(file: string): Promise<void> {
  let results;
  try {
    results = await runMappingCases({ configPath: file, env: process.env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(
      `${error.message}\n${error.issues.length} problem${error.issues.length === 1 ? '' : 's'} in ${file}\n`,
    );
    process.exit(1);
  }
  const lines: string[] = [];
  for (const result of results) {
    if (result.ok) lines.push(`ok   ${result.name}`);
    else
      lines.push(
        `FAIL ${result.name}  (${result.source})`,
        ...result.differences.map((difference) => `       ${difference}`),
      );
  }
  const failed = results.filter((result) => !result.ok).length;
  lines.push('', `${results.length - failed} passed, ${failed} failed`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (failed > 0) process.exit(1);
}

async function map(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      expr: { type: 'string' },
      input: { type: 'string' },
      connector: { type: 'string' },
      event: { type: 'string' },
    },
  });
  let source = values.expr;
  let input: unknown = values.input === undefined ? undefined : JSON.parse(readFileSync(values.input, 'utf8'));
  if (source === undefined) {
    if (values.connector === undefined)
      throw new Error('give --expr, or --connector and --event naming a known connector event');
    const connector = connectors.get(values.connector);
    if (!connector)
      throw new Error(`unknown connector "${values.connector}"; known: ${[...connectors.keys()].join(', ')}`);
    const event = connector.events[values.event ?? ''];
    const known = `${connector.id} events: ${Object.keys(connector.events).join(', ')}`;
    if (!event)
      throw new Error(
        values.event === undefined
          ? `give --event; ${known}`
          : `connector ${connector.id} has no event "${values.event}"; ${known}`,
      );
    source = event.mapping;
    input ??= event.sample;
  }
  if (input === undefined) throw new Error('give --input FILE (a JSON payload)');
  const event = {
    connector: values.connector ?? 'cli',
    type: values.event ?? 'cli.test',
    external_id: 'cli',
    occurred_at: new Date().toISOString(),
  };
  const result = await compileExpression(source).evaluate(input, { event });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Connects to PostgreSQL and Redis (embedded defaults as for `start`) without serving or working. */
async function connect() {
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  return {
    app: await startCrmflow({ env: process.env, roles: { api: false, worker: false, scheduler: false }, logger }),
    logger,
  };
}

async function runDoctor(): Promise<void> {
  const findings = await doctor(process.env, createLogger({ level: 'silent' }));
  for (const finding of findings) process.stdout.write(`${finding.ok ? 'ok  ' : 'FAIL'} ${finding.line}\n`);
  const failed = findings.filter((finding) => !finding.ok).length;
  process.stdout.write(
    failed === 0 ? 'everything checks out\n' : `${failed} problem${failed === 1 ? '' : 's'} found\n`,
  );
  process.exit(failed === 0 ? 0 : 1);
}

async function runBackfill(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { since: { type: 'string' }, 'page-size': { type: 'string' } },
  });
  const [connector, resource] = positionals;
  if (!connector || !resource)
    throw new Error('usage: crmflow backfill CONNECTOR RESOURCE [--since 30d|DATE] [--page-size N]');
  const { app, logger } = await connect();
  try {
    await backfill(app, {
      connector,
      resource,
      since: values.since,
      pageSize: values['page-size'] ? Number(values['page-size']) : undefined,
      out: process.stderr,
      logger,
    });
  } finally {
    await app.close();
  }
}

async function runReplay(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      since: { type: 'string' },
      workflow: { type: 'string' },
      status: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  const { app } = await connect();
  try {
    const result = await replay(app, {
      since: values.since,
      workflow: values.workflow,
      status: values.status,
      dryRun: values['dry-run'],
    });
    process.stdout.write(
      `${values['dry-run'] ? 'would replay' : `replaying (${result.name})`} ${result.events} stored events\n`,
    );
  } finally {
    await app.close();
  }
}

async function runRunsPrune(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { 'older-than': { type: 'string' }, 'dry-run': { type: 'boolean' } },
  });
  if (positionals[0] !== 'prune') throw new Error(RUNS_PRUNE_USAGE);
  const { app } = await connect();
  try {
    const line = await runsPrune(app, { olderThan: values['older-than'], dryRun: values['dry-run'], env: process.env });
    process.stdout.write(`${line}\n`);
  } finally {
    await app.close();
  }
}

async function runIdentity(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { config: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (positionals[0] !== 'simulate') throw new Error('usage: crmflow identity simulate [--config other.yaml] [--json]');
  const tried = loadConfigFile(values.config ?? envValue(process.env, 'CRMFLOW_CONFIG')!, { env: process.env });
  const { app } = await connect();
  try {
    const report = await simulateIdentity(app.operations, { config: tried });
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : formatSimulation(report)}\n`);
  } finally {
    await app.close();
  }
}

async function main(argv: string[]): Promise<void> {
  loadDotEnv();
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return serve({ api: true, worker: true, scheduler: true }, { all: true });
    case 'api':
      return serve({ api: true, worker: false, scheduler: false });
    case 'worker':
      return serve({ api: false, worker: true, scheduler: true });
    case 'doctor':
      return runDoctor();
    case 'backfill':
      return runBackfill(rest);
    case 'replay':
      return runReplay(rest);
    case 'identity':
      return runIdentity(rest);
    case 'runs':
      return runRunsPrune(rest);
    case 'hand-over':
      return connect().then(({ app }) => runHandOver(app, rest, process.stdout).finally(() => app.close()));
    case 'validate':
      return validate(rest[0] ?? envValue(process.env, 'CRMFLOW_CONFIG')!);
    case 'test':
      return test(rest[0] ?? envValue(process.env, 'CRMFLOW_CONFIG')!);
    case 'map':
      return map(rest);
    case 'env':
      process.stdout.write(rest.includes('--markdown') ? `${envReferenceMarkdown()}\n` : envExampleText());
      return;
    case 'schema':
      process.stdout.write(`${JSON.stringify(editorSchema(), null, 2)}\n`);
      return;
    default:
      process.stdout.write(USAGE);
      if (command !== undefined && command !== 'help' && command !== '--help') process.exit(2);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`crmflow: ${errorMessage(error)}\n`);
  process.exit(1);
});
