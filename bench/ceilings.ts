import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { askHelper, forkHelper, stopProcess } from './children.js';
import type { BenchEvent } from './events.js';
import { runLoad } from './load.js';
import { sampleProcesses, type ProcessUsage } from './proc-stats.js';

/** Requests (or jobs, rows) per second one ceiling reached, with what it cost. */
export interface Ceiling {
  name: string;
  perSecond: number;
  count: number;
  seconds: number;
  unit: string;
  processes?: ProcessUsage[];
}

export interface Ceilings {
  /** (a) Express + Shopify HMAC check. */
  verify: Ceiling;
  /** (b) (a) + one pooled nodemailer email per order to the SMTP sink. */
  verifyEmail: Ceiling;
  /** A no-op Express POST route. */
  noopPost: Ceiling;
  /** A no-op BullMQ job, one worker process (this one), concurrency as crmflow's. */
  bullmqNoop: Ceiling;
  /** Multi-row `INSERT … ON CONFLICT DO UPDATE` of 100 rows, 4 connections. */
  pgUpsertRows: Ceiling;
}

const round = (n: number) => Math.round(n);

/** One of the ceiling servers (see ceiling-server.ts) under the closed-loop load generator. */
export async function httpCeiling(
  name: string,
  mode: 'noop' | 'verify' | 'verify-email',
  orders: BenchEvent[],
  env: { shopifySecret: string; smtpUrl: string; smtpSink: import('node:child_process').ChildProcess },
  concurrency: number,
): Promise<Ceiling> {
  const { child, port } = await forkHelper('./ceiling-server.ts', [mode], {
    BENCH_SHOPIFY_SECRET: env.shopifySecret,
    BENCH_SMTP_URL: env.smtpUrl,
  });
  try {
    const baseUrl = `http://127.0.0.1:${port}`;
    // Warm-up: JIT, keep-alive sockets, the SMTP pool.
    await runLoad({ baseUrl, deliveries: orders.slice(0, Math.min(500, orders.length)), concurrency });
    await askHelper(env.smtpSink, { type: 'reset' }, 'count').catch(() => 0);
    const sampler = sampleProcesses([
      { name: 'server', pid: child.pid! },
      { name: 'smtp-sink', pid: env.smtpSink.pid! },
    ]);
    const result = await runLoad({ baseUrl, deliveries: orders, concurrency, timeoutMs: 120_000 });
    const usage = sampler.stop();
    const ok = Array.from(result.status).filter((status) => status === 202).length;
    if (ok !== orders.length)
      process.stderr.write(`  ceiling ${name}: ${orders.length - ok} requests not answered 202\n`);
    const seconds = (result.finishedAt - result.startedAt) / 1000;
    return {
      name,
      perSecond: round(ok / seconds),
      count: ok,
      seconds: Math.round(seconds * 100) / 100,
      unit: 'requests/s',
      processes: usage.processes,
    };
  } finally {
    await stopProcess(child, 5000);
  }
}

/** No-op jobs through BullMQ on the bench's Redis: enqueued in bulk first, then drained by one Worker. */
export async function bullmqCeiling(
  redisUrl: string,
  prefix: string,
  jobs: number,
  concurrency: number,
): Promise<Ceiling> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  try {
    for (let start = 0; start < jobs; start += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, jobs - start) }, (_, i) => ({
          name: 'noop',
          data: { i: start + i },
          opts: { removeOnComplete: true },
        })),
      );
    }
    let completed = 0;
    const started = performance.now();
    const finished = new Promise<void>((resolve) => {
      const worker = new Worker('noop', async () => {}, {
        connection: new Redis(redisUrl, { maxRetriesPerRequest: null }),
        prefix,
        concurrency,
      });
      worker.on('completed', () => {
        if (++completed === jobs) {
          resolve();
          void worker.close().then(() => worker.disconnect());
        }
      });
      setTimeout(() => {
        resolve();
        void worker.close(true).then(() => worker.disconnect());
      }, 120_000).unref();
    });
    await finished;
    const seconds = (performance.now() - started) / 1000;
    return {
      name: 'BullMQ no-op job',
      perSecond: round(completed / seconds),
      count: completed,
      seconds: Math.round(seconds * 100) / 100,
      unit: 'jobs/s',
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    connection.disconnect();
  }
}

/** Multi-row upserts (100 rows a statement, a third of them existing keys) from 4 connections for about `seconds`. */
export async function pgUpsertCeiling(databaseUrl: string, seconds = 4): Promise<Ceiling> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  try {
    await pool.query(
      'CREATE TABLE IF NOT EXISTS bench_upserts (id bigint PRIMARY KEY, name text NOT NULL, n int NOT NULL, data jsonb, updated_at timestamptz NOT NULL DEFAULT now())',
    );
    let rows = 0;
    let next = 0;
    const deadline = performance.now() + seconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < deadline) {
          // Sorted, so concurrent statements lock existing rows in the same order.
          const ids = [
            ...new Set(
              Array.from({ length: 100 }, (_, i) =>
                i % 3 === 0 ? Math.floor(Math.random() * Math.max(1, next)) : next++,
              ),
            ),
          ].sort((a, b) => a - b);
          const ok = await pool
            .query(
              `INSERT INTO bench_upserts (id, name, n, data) SELECT id, 'person ' || id, 1, jsonb_build_object('id', id) FROM unnest($1::bigint[]) AS t(id)
             ON CONFLICT (id) DO UPDATE SET n = bench_upserts.n + 1, updated_at = now()`,
              [ids],
            )
            .then(
              () => true,
              (error: { code?: string }) => {
                if (error.code !== '40P01') throw error;
                return false;
              },
            );
          if (ok) rows += ids.length;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return {
      name: 'PostgreSQL multi-row upsert',
      perSecond: round(rows / elapsed),
      count: rows,
      seconds: Math.round(elapsed * 100) / 100,
      unit: 'rows/s',
    };
  } finally {
    await pool.query('DROP TABLE IF EXISTS bench_upserts').catch(() => {});
    await pool.end();
  }
}
