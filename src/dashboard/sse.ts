import type { Request, Response } from 'express';
import type { OperationContext } from '../operations/context.js';
import { findRun, listRuns, runStatuses, type RunFilter, type RunRow } from '../operations/runs.js';

export interface RunStreamOptions {
  ctx: OperationContext;
  /** The runs page's filter: new runs are sent only when they match it. Null: send no new runs, only watched ones. */
  filter: Omit<RunFilter, 'before' | 'after' | 'limit'> | null;
  /** New runs are those with an id above this. */
  after: number;
  /** Runs the viewer shows, with the status and attempts it shows: a run is sent again when either changes. */
  watch: Map<number, string>;
  /** Renders a run for the viewer (the HTML of its table row). */
  render: (run: RunRow) => string;
  /** How often the runs table is read. Default 1000 ms. */
  intervalMs?: number;
  /** True once the server shuts down: the stream ends so the HTTP server can close. */
  isDraining?: () => boolean;
}

const MAX_WATCHED = 300;
const HEARTBEAT_MS = 15_000;

/** Parses `watch=12:failed:1,13:running:2` (run id, status, attempts). */
export function parseWatch(value: unknown): Map<number, string> {
  const watch = new Map<number, string>();
  if (typeof value !== 'string') return watch;
  for (const item of value.split(',').slice(0, MAX_WATCHED)) {
    const [id, status, attempts] = item.split(':');
    if (id && /^\d+$/.test(id)) watch.set(Number(id), `${status ?? ''}:${attempts ?? ''}`);
  }
  return watch;
}

/**
 * `GET /events`: a server-sent event stream of runs. Every second it reads the runs above the last one sent (that
 * match the filter) and the current status of the watched runs, and sends each new or changed run as a `run` event
 * `{id, status, attempts, html}`. One indexed query each per viewer per second.
 */
export function streamRuns(req: Request, res: Response, options: RunStreamOptions): void {
  const intervalMs = options.intervalMs ?? 1000;
  let after = options.after;
  const watch = options.watch;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastWrite = Date.now();

  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Accel-Buffering': 'no',
    // The connection cannot be reused after a stream anyway; closing it lets the server shut down.
    Connection: 'close',
  });
  res.flushHeaders();
  res.write('retry: 3000\n\n');

  const send = (run: RunRow) => {
    watch.set(run.id, `${run.status}:${run.attempts}`);
    res.write(`event: run\ndata: ${JSON.stringify({ id: run.id, status: run.status, attempts: run.attempts, html: options.render(run) })}\n\n`);
    lastWrite = Date.now();
  };

  const tick = async () => {
    if (options.filter) {
      const fresh = await listRuns(options.ctx, { ...options.filter, after, limit: 50 });
      for (const run of fresh.reverse()) {
        after = Math.max(after, run.id);
        send(run);
      }
    }
    const changed = (await runStatuses(options.ctx, [...watch.keys()])).filter((row) => watch.get(row.id) !== `${row.status}:${row.attempts}`);
    for (const row of changed) {
      const run = await findRun(options.ctx, row.id);
      if (run) send(run);
    }
    while (watch.size > MAX_WATCHED) watch.delete(Math.min(...watch.keys()));
    if (Date.now() - lastWrite > HEARTBEAT_MS) {
      res.write(': ping\n\n');
      lastWrite = Date.now();
    }
  };

  const loop = async () => {
    if (closed) return;
    if (options.isDraining?.()) return void res.end();
    try {
      await tick();
    } catch {
      // The database was away for a moment: try again on the next tick.
    }
    if (!closed) timer = setTimeout(loop, intervalMs);
  };
  req.on('close', () => {
    closed = true;
    clearTimeout(timer);
  });
  void loop();
}
