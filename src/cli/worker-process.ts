import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';

export interface WorkerProcess {
  /** Resolves once the first child has started its worker. */
  ready: Promise<void>;
  /** SIGTERM to the child (it finishes in-flight runs within its shutdown timeout), SIGKILL past `graceMs`. */
  stop: () => Promise<void>;
  /** Tells the running child the API's latest acknowledgement p95 (see ack-guard); dropped while none runs. */
  steer: (ackP95: number | undefined) => void;
}

const FIRST_RESTART_MS = 1000;
const LONGEST_RESTART_MS = 30_000;
/** A child that ran this long before dying is restarted at once again, not after a grown delay. */
const STABLE_MS = 60_000;

/**
 * `crmflow start`'s worker as a child process: the same entry point and Node flags run `crmflow worker`, so workflow
 * runs never hold the event loop that acknowledges webhooks, and the kernel can schedule the two apart (the child takes
 * `CRMFLOW_WORKER_NICE`). Its output goes to the parent's. It is restarted when it dies (after 1 s, doubling up to
 * 30 s while it keeps dying), stopped when the parent stops, and stops itself when the parent dies (the IPC channel
 * closes: see `serve`).
 */
export function startWorkerProcess(options: {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  graceMs: number;
}): WorkerProcess {
  const { env, logger, graceMs } = options;
  let child: ChildProcess | undefined;
  let stopping = false;
  let delay = FIRST_RESTART_MS;
  let markReady: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const spawnChild = () => {
    const startedAt = Date.now();
    const current = fork(process.argv[1]!, ['worker'], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = current;
    current.on('message', (message: { ready?: boolean }) => {
      if (message.ready) markReady();
    });
    current.once('exit', (code, signal) => {
      if (stopping) return;
      delay = Date.now() - startedAt > STABLE_MS ? FIRST_RESTART_MS : delay;
      logger.error({ code, signal, restartInMs: delay }, 'the worker process exited; restarting it');
      setTimeout(() => !stopping && spawnChild(), delay).unref();
      delay = Math.min(LONGEST_RESTART_MS, delay * 2);
    });
  };
  spawnChild();

  return {
    ready,
    steer: (ackP95) => {
      if (child?.connected) child.send({ ackP95: ackP95 ?? null });
    },
    stop: async () => {
      stopping = true;
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
