import type { ConnectorContext } from '../define-connector.js';
import { RetrySignal } from './retry-signal.js';
import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';

/** The vendor rejected our credentials (401/403): retrying will not help until an admin fixes them. */
export class VendorAuthError extends Error {
  override name = 'VendorAuthError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * The vendor refused the request itself (a 4xx other than 401, 403 and 429: a bad number, a closed conversation):
 * the same request will be refused again, so the run fails at once instead of being retried.
 */
export class VendorRefusedError extends RetrySignal {
  override name = 'VendorRefusedError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, false);
  }
}

/** The vendor kept failing (5xx, 429, network) after every retry. `retryAfterMs` is the vendor's last hint. */
export class VendorUnavailableError extends RetrySignal {
  override name = 'VendorUnavailableError';
  constructor(message: string, retryAfterMs?: number) {
    super(message, true, retryAfterMs);
  }
}

/**
 * A request with side effects (a send) failed in a way that leaves open whether the vendor acted on it: a timeout or a
 * dropped connection after the request went out. Retrying could act twice, so it is not retried; the caller records
 * the outcome as unknown.
 */
export class VendorOutcomeUnknownError extends Error {
  override name = 'VendorOutcomeUnknownError';
}

/** Network errors raised before a request can have reached the vendor: safe to retry even a send. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface RequestOptions {
  /**
   * The request acts (sends a message) and the vendor has no idempotency key for it. A vendor answer (429, 5xx) is
   * still retried — the vendor said it did not act — but a timeout or reset after sending throws
   * `VendorOutcomeUnknownError` at once.
   */
  sideEffect?: boolean;
}

export interface VendorClientOptions {
  baseURL: string;
  headers?: Record<string, string>;
  /** Attempts per request, including the first. Default 4. */
  attempts?: number;
  /** First backoff in ms, doubled each retry, with full jitter. Default 500. */
  baseDelayMs?: number;
  /** Longest wait honoured for a `Retry-After`. Default 60000. */
  maxRetryAfterMs?: number;
  /** Per-request timeout. Default 30000. */
  timeoutMs?: number;
  /** Waits for the connector's shared request budget before every attempt (see `ConnectorContext.throttle`). */
  throttle?: () => Promise<void>;
}

/** Milliseconds from a `Retry-After` header (seconds or an HTTP date); undefined if absent or unreadable. */
export function retryAfterMs(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new Error('aborted'))), { once: true });
  });

/**
 * One request helper for every connector: honours 429 `Retry-After`, retries 5xx and network errors with exponential
 * backoff and jitter, and turns 401/403 into `VendorAuthError` at once (no retry loop on bad credentials).
 */
export function createVendorClient(options: VendorClientOptions) {
  const http: AxiosInstance = axios.create({
    baseURL: options.baseURL,
    headers: options.headers,
    timeout: options.timeoutMs ?? 30_000,
  });
  const attempts = options.attempts ?? 4;
  const baseDelay = options.baseDelayMs ?? 500;
  const maxRetryAfter = options.maxRetryAfterMs ?? 60_000;

  async function request<T = unknown>(
    config: AxiosRequestConfig,
    requestOptions: RequestOptions = {},
  ): Promise<AxiosResponse<T>> {
    let lastError: Error | undefined;
    let hint: number | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await options.throttle?.();
        return await http.request<T>(config);
      } catch (error) {
        const response = (error as AxiosError).response;
        const status = response?.status;
        const what = `${(config.method ?? 'GET').toUpperCase()} ${config.url}`;
        if (status === 401 || status === 403)
          throw new VendorAuthError(`${what}: ${status} — check the connector's credentials`, status);
        const retryable = status === undefined || status === 429 || status >= 500;
        if (!retryable)
          throw new VendorRefusedError(
            `${what}: ${status} ${JSON.stringify(response?.data ?? '').slice(0, 300)}`,
            status,
          );
        const code = (error as AxiosError).code ?? '';
        if (requestOptions.sideEffect && status === undefined && !NOT_SENT_CODES.has(code)) {
          throw new VendorOutcomeUnknownError(
            `${what}: ${code || (error as Error).message} after the request was sent; the vendor may have acted on it`,
          );
        }
        lastError = new Error(`${what}: ${status ?? (error as Error).message}`);
        hint = retryAfterMs(response?.headers?.['retry-after']);
        if (attempt === attempts) break;
        const backoff = Math.random() * baseDelay * 2 ** (attempt - 1);
        await sleep(Math.min(hint ?? backoff, maxRetryAfter), config.signal as AbortSignal | undefined);
      }
    }
    throw new VendorUnavailableError(`${lastError?.message} after ${attempts} attempts`, hint);
  }

  return { request, axios: http };
}

export type VendorClient = ReturnType<typeof createVendorClient>;

/** A vendor client for a connector's context: its API base URL (unless given) and its shared rate limit. */
export function contextClient(context: ConnectorContext, options: Partial<VendorClientOptions> = {}): VendorClient {
  return createVendorClient({ baseURL: context.apiUrl, ...options, throttle: context.throttle });
}

/** The `rel="next"` URL of an RFC 8288 `Link` header (Shopify, WooCommerce pagination), if any. */
export function nextLink(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1];
  }
  return undefined;
}
