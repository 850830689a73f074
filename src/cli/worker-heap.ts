import { setFlagsFromString } from 'node:v8';

/**
 * How far a worker process's old generation may grow past what the last full GC found live, in percent. Runs keep
 * little (≈45 MB live in `npm run bench`) but promote much short-lived garbage: objects of in-flight runs that outlive
 * two scavenges while they wait for PostgreSQL. With V8's default growing factor (up to 4×, after a first limit in the
 * hundreds of MB on a machine with much RAM) a worker's RSS rose with the events it had processed: 253–333 MB after
 * 5,000 bench events. At 50% it peaked at 196 MB with the shipped workflows, for 20 full GCs instead of 2 (≈0.06 ms of
 * pauses per event); 20% gave 183 MB for 45 of them (≈0.26 ms per event).
 */
export const WORKER_HEAP_GROWING_PERCENT = 50;

/**
 * Sets V8's heap growing factor for a process that runs workflows and serves no HTTP (V8 reads the flag at each full
 * GC, so setting it after start-up takes effect). A `--heap-growing-percent` given to node on the command line wins.
 * Returns the flag set, or undefined when the command line's stands.
 */
export function limitWorkerHeapGrowth(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return undefined;
  const flag = `--heap-growing-percent=${WORKER_HEAP_GROWING_PERCENT}`;
  setFlagsFromString(flag);
  return flag;
}
