import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { BadRequestError, type WebhookRequest } from '../connectors/define-connector.js';
import type { Queue } from 'bullmq';
import { unstorableReason } from '../connectors/shared/storable.js';
import { createInboxWriter, isDataError, type InboxEventInput } from '../engine/inbox-writer.js';
import { ingest } from '../engine/ingest.js';
import type { JobData } from '../engine/queues.js';
import type { ConnectorSignals } from '../observability/connector-signals.js';
import { webhookAckTimes } from '../observability/ack-times.js';
import { webhooksReceived } from '../observability/metrics.js';
import type { Pool } from '../operations/context.js';
import type { LoadedConfig } from '../workflows/load.js';
import { sendError } from './errors.js';

export interface WebhookRouteOptions {
  pool: Pool;
  queue: Queue<JobData>;
  config: LoadedConfig;
  publicUrl: string;
  logger: Logger;
  /** Where refused deliveries are counted for the dashboard's connector health. */
  signals: ConnectorSignals;
  /** Region for phone numbers without a country code (CRMFLOW_DEFAULT_REGION) when a delivery's identities are recorded. */
  defaultRegion?: string;
  /** Longest wait for Redis before acknowledging anyway (the event is stored; the reconciler enqueues it). */
  enqueueTimeoutMs?: number;
}

export const WEBHOOK_BODY_LIMIT = '1mb';

/**
 * Counts every answer under `/webhooks`, errors included (413s come from the error handler); unconfigured ids as
 * `unknown`. Times the acknowledgements (see ack-times).
 */
export function countWebhookResponses(config: Pick<LoadedConfig, 'connectors'>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = req.path.split('/')[1] ?? '';
    const started = performance.now();
    res.on('finish', () => {
      webhooksReceived.inc({ connector: config.connectors.has(id) ? id : 'unknown', status: String(res.statusCode) });
      if (res.statusCode < 300) webhookAckTimes.record(performance.now() - started);
    });
    next();
  };
}

/**
 * `/webhooks/:connector`: verify the signature on the raw body, store the events in the inbox, enqueue, then 2xx.
 * Never a 2xx for an event that is not stored.
 */
export function webhookRouter(options: WebhookRouteOptions): Router {
  const router = Router();
  const store = createInboxWriter(options.pool);
  // A Content-Encoding (gzip, deflate, br) is HTTP transport: it is removed before the signature check, since a sender
  // that compresses signs the payload, not the compressed bytes (none of the supported vendors compresses its
  // deliveries). The size limit counts the decoded bytes, so a compression bomb is a 413; other encodings are a 415.
  const body = express.raw({ type: () => true, limit: WEBHOOK_BODY_LIMIT, inflate: true });
  router.all('/:connector', body, async (req: Request, res: Response) => {
    const id = String(req.params.connector);
    const configured = options.config.connectors.get(id);
    if (!configured) return sendError(res, 404, 'unknown_connector', `no connector "${id}" is configured`);
    const { definition, secrets } = configured;
    const region = options.config.identityPolicy.regions?.[id] ?? options.config.defaultRegion ?? options.defaultRegion;
    const webhook = definition.webhook;
    if (!webhook) return sendError(res, 404, 'no_webhooks', `connector ${id} does not receive webhooks`);

    const request: WebhookRequest = {
      method: req.method,
      headers: req.headers as Record<string, string | undefined>,
      query: req.query as Record<string, string | undefined>,
      rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      publicUrl: new URL(req.originalUrl, options.publicUrl).toString(),
    };
    const answer = webhook.handshake?.(request, secrets);
    if (answer)
      return void res
        .status(answer.status)
        .type(answer.contentType ?? 'text/plain')
        .send(answer.body);
    if (req.method !== 'POST') return sendError(res, 405, 'method_not_allowed', 'webhooks are delivered with POST');
    if (webhook.verify && !webhook.verify(request, secrets)) {
      options.logger.warn({ connector: id }, 'webhook rejected: bad signature');
      options.signals.signatureFailure(id);
      options.signals.error(id, `webhook refused: missing or invalid signature (from ${req.ip ?? 'unknown'})`);
      return sendError(res, 401, 'bad_signature', `missing or invalid ${id} signature`);
    }

    let events: InboxEventInput[];
    try {
      events = webhook.parse(request, secrets).map((event) => {
        const occurredAt = new Date(event.occurredAt);
        if (Number.isNaN(occurredAt.getTime()))
          throw new BadRequestError(`unreadable event time "${event.occurredAt}"`);
        const unstorable = unstorableReason({ type: event.type, id: event.externalId, payload: event.payload });
        if (unstorable) throw new BadRequestError(`the event cannot be stored: ${unstorable}`);
        return {
          connector: id,
          type: event.type,
          externalId: event.externalId,
          occurredAt,
          payload: event.payload,
          region,
        };
      });
    } catch (error) {
      if (error instanceof BadRequestError) {
        options.signals.error(id, `webhook refused: ${error.message}`);
        return sendError(res, 400, 'bad_request', error.message);
      }
      throw error;
    }

    let stored: number[];
    try {
      stored = await ingest(options, () => store(events), { connector: id });
    } catch (error) {
      if (isDataError(error)) {
        // The database refused this delivery's own values (the writer retried it alone): a retry would fail the same way.
        options.signals.error(id, `webhook refused: the database cannot store it (${(error as Error).message})`);
        return sendError(res, 400, 'unstorable', `the event cannot be stored: ${(error as Error).message}`);
      }
      options.logger.error({ connector: id, err: error }, 'webhook not stored: database unavailable');
      return sendError(res, 503, 'unavailable', 'the event could not be stored; retry later', { 'Retry-After': '5' });
    }
    if (webhook.acknowledge)
      return void res
        .status(webhook.acknowledge.status)
        .type(webhook.acknowledge.contentType ?? 'text/plain')
        .send(webhook.acknowledge.body);
    res.status(202).json({
      received: events.length,
      stored: stored.length,
      duplicates: events.length - stored.length,
      inbox_ids: stored,
    });
  });
  return router;
}
