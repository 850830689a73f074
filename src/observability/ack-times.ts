/** Most acknowledgement times kept between two reads; past it, the oldest are overwritten (a flood needs no more). */
const CAPACITY = 4096;

/**
 * How long this process took to acknowledge webhooks (request in → 2xx out, in ms) since the last `takeP95`: the
 * signal `crmflow start` uses to keep its own worker from starving the webhook path (see concurrency-governor).
 */
export interface AckTimes {
  record: (ms: number) => void;
  /** The 95th percentile of the times recorded since the last call, undefined when none were; then forgets them. */
  takeP95: () => number | undefined;
}

export function createAckTimes(): AckTimes {
  // A ring: a process whose times nobody reads (`crmflow api` on its own) pays one store per acknowledgement.
  const samples = new Float64Array(CAPACITY);
  let recorded = 0;
  return {
    record: (ms) => {
      samples[recorded++ % CAPACITY] = ms;
    },
    takeP95: () => {
      if (recorded === 0) return undefined;
      const sorted = samples.slice(0, Math.min(recorded, CAPACITY)).sort();
      recorded = 0;
      return sorted[Math.ceil(sorted.length * 0.95) - 1];
    },
  };
}

/** This process's webhook acknowledgement times (one HTTP server per process). */
export const webhookAckTimes = createAckTimes();
