export interface ConcurrencyGovernorOptions {
  /** The configured concurrency (`WORKER_CONCURRENCY`): the most the governor gives. */
  max: number;
  /** The acknowledgement time (p95, ms) above which the worker gives way (`CRMFLOW_ACK_TARGET_MS`). */
  targetMs: number;
}

/**
 * Jobs a worker sharing the machine with the API may run at once, from how fast the API has just acknowledged
 * webhooks: halved while the p95 is over the target, one more while it is under half of it or no webhook came
 * (additive increase, multiplicative decrease, as TCP does for the network). A backlog is then worked off with what
 * acknowledging leaves, never less than one job at a time, so it always drains.
 */
export function createConcurrencyGovernor(options: ConcurrencyGovernorOptions): (ackP95: number | undefined) => number {
  let current = options.max;
  return (ackP95) => {
    if (ackP95 !== undefined && ackP95 > options.targetMs) current = Math.max(1, Math.floor(current / 2));
    else if (ackP95 === undefined || ackP95 < options.targetMs / 2) current = Math.min(options.max, current + 1);
    return current;
  };
}
