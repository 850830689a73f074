import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's one Prometheus registry: crmflow's metrics below plus prom-client's default Node process metrics
 * (`process_*`, `nodejs_*`). Each process counts only what it did itself: a worker process without the api role has
 * no `/metrics`, so its counters are only visible where worker and API run together (`crmflow start`).
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** The BullMQ states `crmflow_queue_depth` reports, read from Redis on each scrape. */
export const QUEUE_STATES = [
  'waiting',
  'active',
  'completed',
  'failed',
  'delayed',
  'prioritized',
  'waiting-children',
] as const;

export const queueDepth = new Gauge({
  name: 'crmflow_queue_depth',
  help: 'Jobs in the BullMQ events queue by state, read from Redis when scraped.',
  labelNames: ['state'] as const,
  registers: [registry],
});

export const runsStarted = new Counter({
  name: 'crmflow_runs_started_total',
  help: 'Workflow run attempts started (a retried run counts once per attempt).',
  labelNames: ['workflow'] as const,
  registers: [registry],
});

export const runsFinished = new Counter({
  name: 'crmflow_runs_finished_total',
  help: 'Workflow run attempts finished, by outcome (succeeded, filtered, failed, waiting).',
  labelNames: ['workflow', 'status'] as const,
  registers: [registry],
});

export const runDuration = new Histogram({
  name: 'crmflow_run_duration_seconds',
  help: 'Duration of a workflow run attempt, by outcome.',
  labelNames: ['workflow', 'status'] as const,
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  registers: [registry],
});

export const webhooksReceived = new Counter({
  name: 'crmflow_webhooks_received_total',
  help: 'Webhook requests by connector (`unknown` for ids that are not configured) and the HTTP status answered.',
  labelNames: ['connector', 'status'] as const,
  registers: [registry],
});

export const outboundMessages = new Counter({
  name: 'crmflow_outbound_messages_total',
  help: 'Outbound replies by channel and outcome (sent, failed, skipped, uncertain; duplicate = already handled, not sent again).',
  labelNames: ['channel', 'status'] as const,
  registers: [registry],
});

export const pullLag = new Gauge({
  name: 'crmflow_pull_lag_seconds',
  help: "Seconds between the newest pulled event's occurred_at and the end of the last pull that read events.",
  labelNames: ['connector', 'resource'] as const,
  registers: [registry],
});

export const pulledEvents = new Counter({
  name: 'crmflow_pulled_events_total',
  help: 'Events read by pulls (before de-duplication in the inbox).',
  labelNames: ['connector', 'resource'] as const,
  registers: [registry],
});

export const identityMerges = new Counter({
  name: 'crmflow_identity_merges_total',
  help: 'Customers merged into another by identity resolution.',
  registers: [registry],
});

export const runRecordsPruned = new Counter({
  name: 'crmflow_run_records_pruned_total',
  help: 'Records removed by run retention: `runs` that lost their step records and payload, `steps` deleted, stored `events` whose payload went.',
  labelNames: ['what'] as const,
  registers: [registry],
});

/** Starts timing a run attempt; call the result with the outcome. */
export function observeRun(workflow: string): (status: string) => void {
  runsStarted.inc({ workflow });
  const end = runDuration.startTimer({ workflow });
  return (status) => {
    runsFinished.inc({ workflow, status });
    end({ status });
  };
}

/**
 * Counts an outbound message's outcome and returns the result unchanged. `repeat`: the message had already been
 * handled by an earlier attempt (nothing was sent now), counted as `duplicate` unless it just became `uncertain`.
 */
export function countOutbound<T extends { status: string }>(channel: string, result: T, repeat = false): T {
  const status = repeat && result.status !== 'uncertain' ? 'duplicate' : result.status;
  outboundMessages.inc({ channel, status });
  return result;
}

/** KPI figures for teams that alert from Grafana; set on each scrape of the API (cached a minute), absent when unknown. */
export const reportLeads = new Gauge({
  name: 'crmflow_report_leads',
  help: 'Customers whose first lead event happened in the window (today: since local midnight in reports.time_zone).',
  labelNames: ['window'] as const,
  registers: [registry],
});

export const reportConversionRate = new Gauge({
  name: 'crmflow_report_lead_conversion_rate',
  help: 'Leads of the window won since, ÷ leads of the window (absent when there were no leads).',
  labelNames: ['window'] as const,
  registers: [registry],
});

export const reportSpeedToLead = new Gauge({
  name: 'crmflow_report_speed_to_lead_median_minutes',
  help: 'Median minutes from a lead event to the first contact by a person, leads of the window (absent when nobody was contacted).',
  labelNames: ['window'] as const,
  registers: [registry],
});

/**
 * The registry's text exposition, with the queue depth read from `queue` first. A Redis that does not answer within
 * `timeoutMs` leaves the queue series out (an absent series, never a stale one) rather than failing the scrape.
 */
export async function scrape(queue: Queue, timeoutMs = 2000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const counts = await Promise.race([
      queue.getJobCounts(...QUEUE_STATES),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('queue counts timed out')), timeoutMs);
      }),
    ]);
    for (const state of QUEUE_STATES) queueDepth.set({ state }, counts[state] ?? 0);
  } catch {
    queueDepth.reset();
  } finally {
    clearTimeout(timer);
  }
  return registry.metrics();
}
