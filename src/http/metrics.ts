import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import { safeEqual } from '../connectors/shared/hmac.js';
import { registry, reportConversionRate, reportLeads, reportSpeedToLead, scrape } from '../observability/metrics.js';
import type { KpiGauges } from '../operations/reports.js';
import { sendError } from './errors.js';

export interface MetricsRouteOptions {
  queue: Queue;
  /** `CRMFLOW_METRICS_TOKEN`: when set, scrapes need `Authorization: Bearer <token>`; unset, only loopback clients. */
  token?: string;
  /** The KPI gauges' figures (computed at most once a minute); absent: not exposed. */
  kpiGauges?: () => Promise<KpiGauges>;
}

const GAUGE_TTL_MS = 60_000;

/** Sets the KPI gauges from figures at most a minute old; an unknown figure removes its series instead of reading 0. */
function kpiGaugeRefresher(read: () => Promise<KpiGauges>): () => Promise<void> {
  let last: { at: number; figures: Promise<KpiGauges> } | undefined;
  return async () => {
    if (!last || Date.now() - last.at > GAUGE_TTL_MS) last = { at: Date.now(), figures: read() };
    const figures = await last.figures.catch(() => undefined);
    if (!figures) {
      last = undefined;
      for (const gauge of [reportLeads, reportConversionRate, reportSpeedToLead]) gauge.reset();
      return;
    }
    reportLeads.set({ window: 'today' }, figures.leadsToday);
    const set = (gauge: typeof reportConversionRate, value: number | null) =>
      value === null ? gauge.remove({ window: '30d' }) : gauge.set({ window: '30d' }, value);
    set(reportConversionRate, figures.conversionRate30d);
    set(reportSpeedToLead, figures.speedToLeadMedian30d);
  };
}

/** 127.0.0.0/8 and ::1, also written as IPv4-mapped IPv6 (`::ffff:127.0.0.1`). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * `GET /metrics` in the Prometheus text format. Without a token, the client address is `req.ip`, which behind a
 * proxy on this host (`trust proxy: loopback`) is the one the proxy forwards: proxied scrapes are not taken as local.
 */
export function metricsRoute(options: MetricsRouteOptions) {
  const token = options.token || undefined;
  const refreshKpis = options.kpiGauges ? kpiGaugeRefresher(options.kpiGauges) : undefined;
  return async (req: Request, res: Response): Promise<void> => {
    if (token) {
      const header = req.headers.authorization ?? '';
      if (!safeEqual(token, header.startsWith('Bearer ') ? header.slice(7) : undefined)) {
        return sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <CRMFLOW_METRICS_TOKEN>', {
          'WWW-Authenticate': 'Bearer',
        });
      }
    } else if (!isLoopback(req.ip)) {
      return sendError(
        res,
        403,
        'forbidden',
        'metrics are served to loopback clients only; set CRMFLOW_METRICS_TOKEN to scrape from elsewhere',
      );
    }
    await refreshKpis?.();
    const text = await scrape(options.queue);
    res.set('Content-Type', registry.contentType).send(text);
  };
}

/**
 * A process without the API (`crmflow worker`) serving only `GET /metrics`, so Prometheus scrapes every worker's run,
 * reply, pull and merge counters. Same access rule as the API's route; `trust proxy` as in the app.
 */
export async function serveMetrics(options: MetricsRouteOptions & { port: number; host: string }): Promise<Server> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.get('/metrics', metricsRoute(options));
  app.use((_req, res) => sendError(res, 404, 'not_found', 'this worker serves only GET /metrics'));
  return new Promise((resolve, reject) => {
    const server = app.listen(options.port, options.host, () => resolve(server)).on('error', reject);
  });
}
