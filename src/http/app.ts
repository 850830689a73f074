import express, { type Express } from 'express';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { feedbackRouter } from '../dashboard/pages/feedback.js';
import { unsubscribeRouter } from '../dashboard/pages/unsubscribe.js';
import { dashboardRouter, type DashboardOptions } from '../dashboard/routes.js';
import { connectorSignals } from '../observability/connector-signals.js';
import type { OperationContext } from '../operations/context.js';
import type { PersonContactServices } from '../operations/person-contact.js';
import { apiRouter } from './api.js';
import { errorHandler, sendError } from './errors.js';
import { metricsRoute } from './metrics.js';
import { kpiGauges } from '../operations/reports.js';
import { openApiDocument } from './openapi.js';
import { refuseUnstorableQuery } from './query-guard.js';
import { hideSecrets } from './hide-secrets.js';
import { createSecretRedactor } from '../config/secret-redactor.js';
import { securityHeaders } from '../dashboard/security-headers.js';
import { countWebhookResponses, webhookRouter } from './webhooks.js';

/** The operation context every entrance acts through, and the HTTP server's own settings. */
export interface AppOptions extends OperationContext {
  redis: Redis;
  apiToken: string;
  publicUrl: string;
  logger: Logger;
  /** The outbound path and timeline for agents' own messages and logged calls (API and dashboard). */
  contacts?: PersonContactServices;
  /** Bearer token for `GET /metrics`; default `process.env.CRMFLOW_METRICS_TOKEN`; unset or empty: loopback clients only. */
  metricsToken?: string;
  /** True once shutdown began: webhooks get 503 with Retry-After so vendors redeliver to another instance. */
  isDraining?: () => boolean;
  /** The support-staff dashboard at `/` (its users and session key); absent: no dashboard. */
  dashboard?: Pick<DashboardOptions, 'users' | 'secretKey' | 'demoUser' | 'piiFields' | 'checkConfigFile'>;
  /** The key that signs the unsubscribe and rating links (CRMFLOW_SECRET_KEY); absent: every such link is refused. */
  unsubscribeKey?: string;
  /**
   * Proxies whose `X-Forwarded-For`/`-Proto` are believed, as Express `trust proxy` values (CRMFLOW_TRUSTED_PROXIES).
   * Default loopback only.
   */
  trustedProxies?: string[];
}

export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustedProxies ?? ['loopback']);
  app.use(securityHeaders());
  app.use(refuseUnstorableQuery());
  app.use(hideSecrets(createSecretRedactor(options.config.secretValues)));
  // Kept in the queue's Redis namespace, so every process of one installation shares them.
  const signals = connectorSignals(options.redis, options.queue.opts.prefix ?? 'bull');
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const check = async (work: () => Promise<unknown>) =>
      Promise.race([
        work().then(() => 'ok'),
        new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 2000)),
      ]).catch((error: Error) => error.message);
    if (options.isDraining?.()) return void res.status(503).json({ status: 'shutting down' });
    const [postgres, redis] = await Promise.all([
      check(() => options.pool.query('SELECT 1')),
      check(() => options.redis.ping()),
    ]);
    res.status(postgres === 'ok' && redis === 'ok' ? 200 : 503).json({ postgres, redis });
  });
  app.use('/webhooks', countWebhookResponses(options.config));
  app.use('/webhooks', (_req, res, next) => {
    if (!options.isDraining?.()) return next();
    sendError(res, 503, 'shutting_down', 'this instance is shutting down; retry later', {
      'Retry-After': '5',
      Connection: 'close',
    });
  });
  app.use('/webhooks', webhookRouter({ ...options, signals }));
  // Before the token check: the API description is public and holds no secrets.
  app.get('/api/openapi.json', (_req, res) => void res.json(openApiDocument));
  app.use('/api', apiRouter(options));
  // Public by design: the signed token in the link is the credential.
  app.use('/unsubscribe', unsubscribeRouter({ ctx: options, secretKey: options.unsubscribeKey }));
  app.use('/feedback', feedbackRouter({ ctx: options, secretKey: options.unsubscribeKey }));
  app.get(
    '/metrics',
    metricsRoute({
      queue: options.queue,
      token: options.metricsToken ?? process.env.CRMFLOW_METRICS_TOKEN,
      kpiGauges: () => kpiGauges(options),
    }),
  );
  if (options.dashboard) app.use(dashboardRouter({ ...options, ...options.dashboard, signals }));
  app.use((_req, res) => sendError(res, 404, 'not_found', 'no such route'));
  app.use(errorHandler(options.logger));
  return app;
}
