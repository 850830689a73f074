import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ConnectorContext } from './connectors/define-connector.js';
import { redisAnswers, startEmbeddedPostgres, startLocalRedis, type Embedded } from './config/bootstrap.js';
import {
  demoSummary,
  envInt,
  envValue,
  isProduction,
  resolveSecret,
  runRetentionDays,
  type Env,
} from './config/env.js';
import { createSecretBox } from './config/secret-box.js';
import { unsubscribeToken } from './customers/consent.js';
import { createConnectorContext, storedTokens } from './engine/connector-context.js';
import { createRateLimiter } from './engine/rate-limiter.js';
import { hideInLogs, piiFields } from './config/logger.js';
import { createEventsQueue, producerConnection, workerConnection, type JobData } from './engine/queues.js';
import { startConnectorWatches } from './engine/connector-watch.js';
import { createCaseServices } from './engine/case-services.js';
import { startReconciler } from './engine/reconciler.js';
import { createCustomerRefresher } from './engine/customer-refresh.js';
import { engineEventPublisher, listenedEventTypes } from './engine/event-dispatch.js';
import { startSegmentUpkeep } from './engine/segment-sweep.js';
import { startScheduler } from './engine/scheduler.js';
import { createOutbound } from './engine/outbound.js';
import type { OperationContext, Pool } from './operations/context.js';
import { connectorSignals } from './observability/connector-signals.js';
import { createStepServices } from './engine/services.js';
import { formerOwners } from './operations/hand-over.js';
import { serveMetrics } from './http/metrics.js';
import { startWorker } from './engine/worker.js';
import { dashboardUsersFromEnv, DEMO_USER } from './dashboard/auth.js';
import { outboxTransport, smtpTransport } from './mail/mailer.js';
import { createPool, prepareDatabase } from './engine/database.js';
import { configFileCheck } from './workflows/file-check.js';
import { loadConfigFile, type LoadedConfig } from './workflows/load.js';

export interface Roles {
  /** HTTP: webhooks, API. */
  api: boolean;
  /** BullMQ worker running workflows. */
  worker: boolean;
  /** Cron triggers (safe in every process: one job per tick). */
  scheduler: boolean;
}

export interface StartOptions {
  env: Env;
  roles: Roles;
  logger: Logger;
  /** Reconciler timing, shortened by tests. */
  reconciler?: { intervalMs?: number; graceMs?: number };
  /** The clock of time-based steps (business hours, waits, SLAs); default the system clock. Tests inject other dates. */
  now?: () => Date;
}

export interface Crmflow {
  config: LoadedConfig;
  pool: Pool;
  /** The PostgreSQL and Redis this process uses (the embedded ones when it started them), for a child worker. */
  databaseUrl: string;
  redisUrl: string;
  queue: Queue<JobData>;
  /** Base URL of the HTTP server when the api role runs. */
  url?: string;
  /** Where a worker without the api role serves `GET /metrics` (`CRMFLOW_METRICS_PORT`); undefined when it does not. */
  metricsUrl?: string;
  worker?: Worker<JobData>;
  reconcile: () => Promise<number>;
  /** Segment upkeep in engine processes: the time-based sweep (also run every minute) and the start-up backfill. */
  segments?: { sweep: () => Promise<number>; backfill: Promise<void> };
  /** The context a connector's pulls and actions run with (secrets, API URL, tokens, shared rate limit). */
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** What the operations layer needs (the CLI's commands call operations with it). */
  operations: OperationContext;
  close: () => Promise<void>;
}

/** Starts the roles asked for, against the configured (or embedded) PostgreSQL and Redis. */
export async function startCrmflow(options: StartOptions): Promise<Crmflow> {
  const { env, logger } = options;
  const closers: Array<() => Promise<unknown> | unknown> = [];
  let draining = false;
  const close = async () => {
    for (const closer of closers.reverse())
      await Promise.resolve(closer()).catch((error: Error) => logger.warn({ err: error }, 'while closing'));
  };
  try {
    const config = loadConfigFile(envValue(env, 'CRMFLOW_CONFIG')!, { env });
    const checkConfigFile = configFileCheck(envValue(env, 'CRMFLOW_CONFIG')!, { env });
    hideInLogs(logger, config.secretValues);
    const demoSecrets = [...config.demoSecrets];
    const apiToken = resolveSecret(env, 'CRMFLOW_API_TOKEN', demoSecrets);
    if (!apiToken) throw new Error('CRMFLOW_API_TOKEN is not set (required in production)');
    const secretKey = resolveSecret(env, 'CRMFLOW_SECRET_KEY', demoSecrets);
    if (!secretKey) throw new Error('CRMFLOW_SECRET_KEY is not set (required in production)');
    const box = createSecretBox(secretKey);
    const dashboard = options.roles.api ? dashboardUsersFromEnv(env) : undefined;
    const demo = demoSummary(demoSecrets, dashboard?.demo ? `${DEMO_USER.name} / ${DEMO_USER.password}` : undefined);
    if (demo) logger.warn(demo);

    const dataDir = envValue(env, 'CRMFLOW_DATA_DIR')!;
    let databaseUrl = env.DATABASE_URL;
    if (!databaseUrl) {
      if (isProduction(env)) throw new Error('DATABASE_URL is not set (required in production)');
      const embedded: Embedded = await startEmbeddedPostgres(dataDir, envInt(env, 'CRMFLOW_EMBEDDED_PG_PORT'), logger);
      closers.push(embedded.stop);
      databaseUrl = embedded.url;
      logger.info({ dataDir }, 'using the embedded PostgreSQL (set DATABASE_URL to use your own)');
    }
    const redisUrl = envValue(env, 'REDIS_URL')!;
    if (!env.REDIS_URL && !(await redisAnswers(redisUrl))) {
      const local = await startLocalRedis(redisUrl, dataDir, logger);
      closers.push(local.stop);
    }

    const pool = createPool(databaseUrl, { max: envInt(env, 'CRMFLOW_PG_POOL_MAX') });
    closers.push(() => pool.end());
    await prepareDatabase(pool, config, logger);
    for (const former of await formerOwners({ pool, config })) {
      logger.warn(
        { agent_id: former.agent_id, customers: former.customers, open_tasks: former.open_tasks },
        `agent ${former.agent_id} is no longer in ${config.file} but owns ${former.customers} customers and ${former.open_tasks} open tasks: hand them over (crmflow hand-over ${former.agent_id} --to AGENT|--pool POOL, or the dashboard's Hand-over page)`,
      );
    }

    const prefix = envValue(env, 'CRMFLOW_QUEUE_PREFIX')!;
    const producer = producerConnection(redisUrl);
    closers.push(() => producer.disconnect());
    const queue = createEventsQueue(producer, prefix, {
      attempts: envInt(env, 'CRMFLOW_JOB_ATTEMPTS'),
      backoffMs: envInt(env, 'CRMFLOW_JOB_BACKOFF_MS'),
    });
    closers.push(() => queue.close());

    const smtpUrl = env.SMTP_URL;
    const repliesByEmail = config.workflows.some((workflow) =>
      workflow.steps.some(
        (step) => step.definition.type === 'reply' && ['email', 'same'].includes(String(step.config.channel)),
      ),
    );
    if (!smtpUrl && isProduction(env) && repliesByEmail) {
      throw new Error('SMTP_URL is not set but workflows send email replies (required in production)');
    }
    const email = smtpUrl ? smtpTransport(smtpUrl) : outboxTransport(logger);
    closers.push(() => email.close());
    const defaultRegion = envValue(env, 'CRMFLOW_DEFAULT_REGION')!;
    const acquire = createRateLimiter(producer, prefix, logger);
    const connectorContext = (connectorId: string, signal: AbortSignal) => {
      const connector = config.connectors.get(connectorId)!;
      const tokens = storedTokens(pool, box, connectorId);
      return createConnectorContext({
        definition: connector.definition,
        secrets: connector.secrets,
        env,
        tokens,
        logger,
        signal,
        acquire,
      });
    };
    const publicUrl = env.CRMFLOW_PUBLIC_URL || `http://localhost:${envInt(env, 'PORT')}`;
    const unsubscribeUrl = (address: string) =>
      `${publicUrl.replace(/\/+$/, '')}/unsubscribe/${unsubscribeToken(secretKey, address)}`;
    const httpAllowHosts = (env.CRMFLOW_HTTP_ALLOW_HOSTS ?? '').split(',').filter((host) => host.trim() !== '');
    const feedback = { publicUrl, secretKey };
    const serviceOptions = {
      pool,
      config,
      email,
      emailFrom: envValue(env, 'SMTP_FROM')!,
      defaultRegion,
      connectorContext,
      queue,
      logger,
      now: options.now,
      unsubscribeUrl,
      feedback,
      httpAllowHosts,
    };
    const services = createStepServices(serviceOptions);
    const cases = createCaseServices({ ...serviceOptions, now: services.now });
    const operations: OperationContext = {
      pool,
      queue,
      config,
      defaultRegion,
      logger,
      connectorContext,
      now: options.now,
      resendMessage: createOutbound(serviceOptions).resend,
      cases,
    };

    let worker: Worker<JobData> | undefined;
    if (options.roles.worker) {
      const connection: Redis = workerConnection(redisUrl);
      worker = startWorker({
        pool,
        connection,
        prefix,
        config,
        services,
        logger,
        concurrency: envInt(env, 'WORKER_CONCURRENCY'),
        lockDurationMs: envInt(env, 'CRMFLOW_LOCK_MS'),
        queue,
        connectorContext,
        signals: connectorSignals(producer, prefix),
        eventChainLimit: envInt(env, 'CRMFLOW_EVENT_CHAIN_LIMIT'),
        cases,
      });
      closers.push(() => connection.disconnect());
      const deadline = envInt(env, 'CRMFLOW_SHUTDOWN_TIMEOUT_MS');
      // In-flight runs finish; past the deadline the worker lets go and their jobs are recovered as stalled elsewhere.
      closers.push(async () => {
        const finished = await Promise.race([
          worker!.close().then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), deadline).unref()),
        ]);
        if (!finished) {
          logger.warn({ deadline }, 'runs still in flight at the shutdown deadline; another worker will recover them');
          await worker!.close(true);
        }
      });
    }
    if (options.roles.worker)
      closers.push(
        await startConnectorWatches({
          pool,
          queue,
          config,
          logger,
          connectorContext,
          signals: connectorSignals(producer, prefix),
        }),
      );
    if (options.roles.scheduler) {
      const scheduler = await startScheduler(config, queue, logger, runRetentionDays(env));
      closers.push(scheduler.stop);
    }
    // Periodic passes in engine processes only: an API process under a webhook flood keeps its CPU for acknowledging.
    const engine = options.roles.worker || options.roles.scheduler;
    const reconciler = startReconciler(pool, queue, producer, logger, {
      ...options.reconciler,
      ...(engine ? {} : { intervalMs: 0 }),
      now: services.now,
      cases,
    });
    closers.push(reconciler.stop);
    const refresher = createCustomerRefresher({
      pool,
      config,
      now: services.now,
      listenedEvents: listenedEventTypes(config),
      logger,
    });
    const segments = engine
      ? startSegmentUpkeep({
          pool,
          config,
          logger,
          now: services.now,
          publish: engineEventPublisher({ queue, logger }),
          refresher,
        })
      : undefined;
    if (segments) closers.push(async () => (segments.stop(), segments.backfill));

    let url: string | undefined;
    if (options.roles.api) {
      const port = envInt(env, 'PORT');
      const host = envValue(env, 'HOST')!;
      const { users, demo: demoUser, warnings } = dashboard!;
      if (!demoUser) for (const warning of warnings) logger.warn(warning);
      // The HTTP app (Express, the dashboard, Bull Board, the OpenAPI document) loads only in processes that serve it:
      // a worker process does without its ~5 MB of heap.
      const { createApp } = await import('./http/app.js');
      const app = createApp({
        ...operations,
        redis: producer,
        apiToken,
        publicUrl,
        logger,
        isDraining: () => draining,
        metricsToken: env.CRMFLOW_METRICS_TOKEN,
        unsubscribeKey: secretKey,
        trustedProxies: envValue(env, 'CRMFLOW_TRUSTED_PROXIES')!
          .split(',')
          .map((proxy) => proxy.trim())
          .filter(Boolean),
        contacts: services,
        dashboard: { users, secretKey, demoUser, piiFields: piiFields(env.CRMFLOW_PII_FIELDS), checkConfigFile },
      });
      const server: Server = await new Promise((resolve, reject) => {
        const listening = app.listen(port, host, () => resolve(listening)).on('error', reject);
      });
      const drainMs = envInt(env, 'CRMFLOW_DRAIN_MS');
      closers.push(async () => {
        // Answer 503 (webhooks with Retry-After, /readyz) while load balancers notice, then stop listening.
        draining = true;
        await new Promise((resolve) => setTimeout(resolve, drainMs));
        await new Promise((resolve) => {
          server.close(resolve);
          server.closeIdleConnections();
        });
      });
      const address = server.address() as AddressInfo;
      url = `http://${host === '0.0.0.0' ? 'localhost' : host}:${address.port}`;
    }
    let metricsUrl: string | undefined;
    if (options.roles.worker && !options.roles.api && envInt(env, 'CRMFLOW_METRICS_PORT') > 0) {
      // The run, reply, pull and merge counters live in the worker process: it serves them itself, on its own port.
      const port = envInt(env, 'CRMFLOW_METRICS_PORT');
      const host = envValue(env, 'HOST')!;
      const server = await serveMetrics({ queue, token: env.CRMFLOW_METRICS_TOKEN, port, host }).catch(
        (error: NodeJS.ErrnoException) => {
          // A second worker on the same host without its own port still works; only its metrics are not served.
          if (error.code !== 'EADDRINUSE') throw error;
          logger.warn(
            `metrics port ${port} is taken: this worker's metrics are not served (give each worker on a host its own CRMFLOW_METRICS_PORT)`,
          );
        },
      );
      if (server) {
        closers.push(() => new Promise((resolve) => server.close(resolve)));
        metricsUrl = `http://${host === '0.0.0.0' ? 'localhost' : host}:${(server.address() as AddressInfo).port}/metrics`;
      }
    }
    return {
      config,
      pool,
      databaseUrl,
      redisUrl,
      queue,
      url,
      metricsUrl,
      worker,
      reconcile: reconciler.runOnce,
      segments,
      connectorContext,
      operations,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
