import type { Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { ConnectorContext } from '../connectors/define-connector.js';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import type { Pool } from '../store/pool.js';
import type { LoadedConfig } from '../workflows/load.js';
import { runPull } from './pull.js';
import type { JobData } from './queues.js';

export interface ConnectorWatchOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  logger: Logger;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** Where a failing pull is shown (the dashboard's connector health). */
  signals?: ConnectorSignals;
}

const PAGE_SIZE = 50;

/**
 * Keeps the push connections of configured connectors that declare `watch` (IMAP IDLE) and pulls their resource
 * whenever one reports something new, and every `pollSeconds` in any case. Pulls of one resource never overlap in
 * this process (a change during a pull pulls again after it) nor across processes (runPull's lock). Returns a stop
 * function that closes the connections and waits for a pull in flight.
 */
export async function startConnectorWatches(options: ConnectorWatchOptions): Promise<() => Promise<void>> {
  const stops: Array<() => Promise<void>> = [];
  for (const { definition } of options.config.connectors.values()) {
    const watch = definition.watch;
    if (!watch || !definition.pull?.[watch.resource]) continue;
    const log = options.logger.child({ connector: definition.id });
    const abort = new AbortController();
    const context = options.connectorContext(definition.id, abort.signal);
    let running: Promise<void> | undefined;
    let again = false;
    const pull = (): void => {
      if (abort.signal.aborted) return;
      if (running) {
        again = true;
        return;
      }
      again = false;
      running = runPull(
        {
          connector: definition,
          resource: watch.resource,
          cursorKey: watch.resource,
          since: new Date(Date.now() - watch.backfillMs(context.secrets)),
          pageSize: PAGE_SIZE,
        },
        options.connectorContext(definition.id, abort.signal),
        { pool: options.pool, queue: options.queue, logger: log },
      )
        .then(() => undefined)
        .catch((error: Error) => {
          log.warn({ err: error }, `pull of ${watch.resource} failed; the next change or poll tries again`);
          options.signals?.error(definition.id, `pull of ${watch.resource} failed: ${error.message}`);
        })
        .finally(() => {
          running = undefined;
          if (again) pull();
        });
    };
    const stopWatch = await watch.start(context, pull);
    const timer = setInterval(pull, watch.pollSeconds(context.secrets) * 1000);
    stops.push(async () => {
      abort.abort();
      clearInterval(timer);
      await stopWatch();
      await running;
    });
  }
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}
