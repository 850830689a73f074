/**
 * Start-up time and memory of `crmflow api` and `crmflow worker`, from the TypeScript sources through tsx and from the
 * compiled dist/ (`npm run build` first): one process at a time, each started `--runs` times against a migrated
 * database. Time: spawn until `/healthz` (api) or the metrics port (worker) answers. RSS: VmRSS when ready.
 *   npx tsx bench/startup.ts [--runs 5]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ENV_VARS } from '../src/config/env.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const BASE = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function once(
  role: 'api' | 'worker',
  from: 'src' | 'dist',
  env: Record<string, string>,
): Promise<{ ms: number; rssMb: number }> {
  const port = await freePort();
  const url = role === 'api' ? `http://127.0.0.1:${port}/healthz` : `http://127.0.0.1:${port}/metrics`;
  const started = performance.now();
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/crmflow.js', import.meta.url)), role], {
    env: { ...process.env, ...env, CRMFLOW_RUN_FROM: from, PORT: String(port), CRMFLOW_METRICS_PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (;;) {
    const ok = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`${role} from ${from} exited ${child.exitCode}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const result = { ms: performance.now() - started, rssMb: rss(child.pid!) };
  await new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')));
  return result;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const database = `crmflow_startup_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: `${BASE}/postgres` });
await admin.connect();
await admin.query(`CREATE DATABASE ${database}`);
try {
  const env: Record<string, string> = {
    ...Object.fromEntries(
      ENV_VARS.filter((spec) => spec.secret).map((spec) => [spec.name, `bench-${spec.name.toLowerCase()}`]),
    ),
    NODE_ENV: 'production',
    DATABASE_URL: `${BASE}/${database}`,
    REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    CRMFLOW_QUEUE_PREFIX: `startup-${randomBytes(4).toString('hex')}`,
    CRMFLOW_CONFIG: fileURLToPath(new URL('../workflows.yaml', import.meta.url)),
    CRMFLOW_METRICS_TOKEN: '',
    HOST: '127.0.0.1',
    SMTP_URL: 'smtp://127.0.0.1:9', // never reached: nothing is sent while measuring start-up
    LOG_LEVEL: 'error',
    CRMFLOW_DRAIN_MS: '0',
    CI: 'true',
  };
  await once('api', 'src', env); // migrates the database: not measured
  for (const role of ['api', 'worker'] as const) {
    for (const from of ['src', 'dist'] as const) {
      const runs = [];
      for (let i = 0; i < Number(values.runs); i++) runs.push(await once(role, from, env));
      process.stdout.write(
        `${role.padEnd(6)} from ${from.padEnd(4)}: ready in ${median(runs.map((run) => run.ms)).toFixed(0)} ms, RSS ${median(runs.map((run) => run.rssMb)).toFixed(0)} MB (median of ${runs.length})\n`,
      );
    }
  }
} finally {
  await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
  await admin.end();
}
