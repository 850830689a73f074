import type { Request, Response } from 'express';
import type { OperationContext } from '../operations/context.js';
import { findRun, listRuns, runStatuses, type RunFilter, type RunRow } from '../operations/runs.js';

/** What one viewer's stream sends: new runs matching its filter, and changes of the runs it shows. */
export interface RunSubscription {
  /** Who opened it (a session's nonce, or the API token): the per-session cap counts by this. */
  owner: string;
  /** The runs page's filter: new runs are sent only when they match it. Null: send no new runs, only watched ones. */
  filter: Omit<RunFilter, 'before' | 'after' | 'limit'> | null;
  /** New runs are those with an id above this. */
  after: number;
  /** Runs the viewer shows, with the status and attempts it shows: a run is sent again when either changes. */
  watch: Map<number, string>;
  /** Renders a run for the viewer (the HTML of its table row). */
  render: (run: RunRow) => string;
}

export interface RunStreamHubOptions {
  ctx: OperationContext;
  /** How often the runs table is read, once for all streams. Default 1000 ms. */
  intervalMs?: number;
  /** Streams one session may hold open; opening another ends its oldest. Default 8. */
  maxPerSession?: number;
  /** Streams open at once in this process; beyond, a new one is answered 503. Default 200. */
  maxTotal?: number;
  /** True once the server shuts down: streams end so the HTTP server can close. */
  isDraining?: () => boolean;
}

export interface RunStreamHub {
  /** `GET /events`: answers with a server-sent event stream for `subscription` (or 503 when the hub is full). */
  open: (req: Request, res: Response, subscription: RunSubscription) => void;
  /** Streams open now. */
  size: () => number;
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

interface Stream extends RunSubscription {
  res: Response;
  lastWrite: number;
}

/**
 * Live updates of the runs pages, shared by every viewer: one poll a second reads new runs once per distinct filter
 * and the status of all watched runs in one query, then sends each stream what concerns it as `run` events
 * `{id, status, attempts, html}`. The database cost does not grow with the number of open streams, and the streams
 * are capped per session and in total, so one session cannot open thousands.
 */
export function createRunStreamHub(options: RunStreamHubOptions): RunStreamHub {
  const intervalMs = options.intervalMs ?? 1000;
  const maxPerSession = options.maxPerSession ?? 8;
  const maxTotal = options.maxTotal ?? 200;
  const streams = new Set<Stream>();

  const send = (stream: Stream, run: RunRow) => {
    stream.watch.set(run.id, `${run.status}:${run.attempts}`);
    stream.res.write(
      `event: run\ndata: ${JSON.stringify({ id: run.id, status: run.status, attempts: run.attempts, html: stream.render(run) })}\n\n`,
    );
    stream.lastWrite = Date.now();
  };

  const tick = async () => {
    const groups = new Map<string, Stream[]>();
    for (const stream of streams) {
      if (!stream.filter) continue;
      // Runs created from now on are inside any period: `since` does not split the viewers of one page.
      const { since: _since, ...filter } = stream.filter;
      const key = JSON.stringify(filter);
      groups.set(key, [...(groups.get(key) ?? []), stream]);
    }
    for (const members of groups.values()) {
      const after = Math.min(...members.map((stream) => stream.after));
      const { since: _since, ...filter } = members[0]!.filter!;
      const fresh = (await listRuns(options.ctx, { ...filter, after, limit: 50 })).reverse();
      for (const stream of members) {
        for (const run of fresh) {
          if (run.id <= stream.after) continue;
          stream.after = run.id;
          send(stream, run);
        }
      }
    }
    const watched = new Set([...streams].flatMap((stream) => [...stream.watch.keys()]));
    const current = await runStatuses(options.ctx, [...watched]);
    const runs = new Map<number, RunRow | undefined>();
    for (const row of current) {
      const state = `${row.status}:${row.attempts}`;
      const viewers = [...streams].filter((stream) => stream.watch.has(row.id) && stream.watch.get(row.id) !== state);
      if (viewers.length === 0) continue;
      if (!runs.has(row.id)) runs.set(row.id, await findRun(options.ctx, row.id));
      const run = runs.get(row.id);
      if (run) for (const stream of viewers) send(stream, run);
    }
    for (const stream of streams) {
      while (stream.watch.size > MAX_WATCHED) stream.watch.delete(Math.min(...stream.watch.keys()));
      if (Date.now() - stream.lastWrite > HEARTBEAT_MS) {
        stream.res.write(': ping\n\n');
        stream.lastWrite = Date.now();
      }
    }
  };

  /** One poll loop at most: `active` is true from scheduling a tick until the loop stops for lack of streams. */
  let active = false;
  const loop = async () => {
    if (streams.size === 0) return void (active = false);
    if (options.isDraining?.()) {
      for (const stream of streams) stream.res.end();
      streams.clear();
      return void (active = false);
    }
    try {
      await tick();
    } catch {
      // The database was away for a moment: try again on the next tick.
    }
    if (streams.size === 0) active = false;
    else setTimeout(loop, intervalMs);
  };

  const close = (stream: Stream) => {
    if (!streams.delete(stream)) return;
    stream.res.end();
  };

  return {
    size: () => streams.size,
    open(req, res, subscription) {
      const own = [...streams].filter((stream) => stream.owner === subscription.owner);
      // The session's oldest streams give way (a reloaded tab whose old connection has not closed yet, or abuse).
      for (const stream of own.slice(0, Math.max(0, own.length - maxPerSession + 1))) close(stream);
      if (streams.size >= maxTotal) {
        res
          .status(503)
          .set({ 'Retry-After': '30', 'Cache-Control': 'no-store' })
          .type('text/plain')
          .send('too many live-update streams are open; reload later');
        return;
      }
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
        // The connection cannot be reused after a stream anyway; closing it lets the server shut down.
        Connection: 'close',
      });
      res.flushHeaders();
      res.write('retry: 3000\n\n');
      const stream: Stream = { ...subscription, res, lastWrite: Date.now() };
      streams.add(stream);
      req.on('close', () => close(stream));
      if (!active) {
        active = true;
        setTimeout(loop, 0);
      }
    },
  };
}
