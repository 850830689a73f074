import { Agent, request } from 'node:http';

/** A delivery the load generator posts: pre-built and pre-signed, so nothing but I/O happens while timing. */
export interface Delivery {
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** Per delivery: when it was meant to go, when its answer came (epoch ms, fractional), and the status. */
export interface LoadResult {
  startedAt: number;
  finishedAt: number;
  /** Epoch ms at which each request was due (fixed rate) or sent (max rate). */
  dueAt: Float64Array;
  /** Epoch ms of each answer; NaN when the request failed. */
  ackAt: Float64Array;
  status: Uint16Array;
  errors: number;
  /** Deliveries not answered before the deadline. */
  unanswered: number;
}

export interface LoadOptions {
  /** `http://127.0.0.1:PORT` (loopback only). */
  baseUrl: string;
  deliveries: Delivery[];
  /** Events per second (open loop, fixed arrival rate); omit for maximum rate (closed loop). */
  rate?: number;
  /** Requests in flight in the closed loop; sockets of the keep-alive agent. Default 64. */
  concurrency?: number;
  /** Stop waiting for answers after this long. Default 10 minutes. */
  timeoutMs?: number;
}

/** Wall-clock ms with sub-millisecond resolution, comparable with PostgreSQL's `now()` on the same machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/**
 * Posts every delivery once over keep-alive connections. With `rate`, requests leave on schedule whatever the server
 * does (open loop: latency is counted from when a request was due, so a slow server cannot hide its queueing); without,
 * `concurrency` requests are kept in flight (closed loop: the server's maximum rate).
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const url = new URL(options.baseUrl);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
    throw new Error(`the load generator only posts to loopback, not ${url.hostname}`);
  const total = options.deliveries.length;
  const concurrency = options.concurrency ?? 64;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.rate ? Math.max(256, concurrency) : concurrency,
    scheduling: 'lifo',
  });
  const dueAt = new Float64Array(total);
  const ackAt = new Float64Array(total).fill(Number.NaN);
  const status = new Uint16Array(total);
  let errors = 0;
  let done = 0;
  const port = Number(url.port);

  const send = (index: number, onDone: () => void) => {
    const delivery = options.deliveries[index]!;
    const req = request(
      {
        agent,
        host: url.hostname,
        port,
        method: 'POST',
        path: delivery.path,
        headers: { ...delivery.headers, 'content-length': String(delivery.body.length) },
      },
      (res) => {
        status[index] = res.statusCode ?? 0;
        res.on('data', () => {});
        res.on('end', () => {
          ackAt[index] = nowMs();
          onDone();
        });
      },
    );
    req.on('error', () => {
      errors++;
      onDone();
    });
    req.end(delivery.body);
  };

  const startedAt = nowMs();
  const deadline = startedAt + (options.timeoutMs ?? 600_000);
  await new Promise<void>((resolve) => {
    const finish = () => {
      done++;
      if (done === total) resolve();
    };
    const watchdog = setInterval(() => {
      if (nowMs() > deadline) resolve();
    }, 500);
    watchdog.unref();
    if (total === 0) return resolve();
    if (options.rate) {
      const interval = 1000 / options.rate;
      let next = 0;
      const tick = () => {
        const now = nowMs();
        while (next < total && startedAt + next * interval <= now) {
          dueAt[next] = startedAt + next * interval;
          send(next++, finish);
        }
        if (next < total && now < deadline)
          setTimeout(tick, Math.max(0, Math.min(1, startedAt + next * interval - now)));
      };
      tick();
    } else {
      let next = 0;
      const pump = () => {
        if (next >= total || nowMs() > deadline) return;
        const index = next++;
        dueAt[index] = nowMs();
        send(index, () => {
          finish();
          pump();
        });
      };
      for (let i = 0; i < Math.min(concurrency, total); i++) pump();
    }
  });
  const finishedAt = nowMs();
  agent.destroy();
  return { startedAt, finishedAt, dueAt, ackAt, status, errors, unanswered: total - done };
}

/** The q-quantile (0..1) of the finite values, nearest rank. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Array.from(values)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function latencySummary(values: ArrayLike<number>): LatencySummary {
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    p50: round(quantile(values, 0.5)),
    p95: round(quantile(values, 0.95)),
    p99: round(quantile(values, 0.99)),
    max: round(quantile(values, 1)),
  };
}
