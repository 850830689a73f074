import nock from 'nock';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type {
  ConnectorContext,
  ConnectorDefinition,
  Secrets,
  WebhookRequest,
} from '../../src/connectors/define-connector.js';
import { recordErrors, validateRecord } from '../../src/engine/steps/record-schema.js';
import { compileExpression } from '../../src/workflows/expression.js';
import { fixtureBytes } from './sign.js';

/**
 * Registers nock hooks for the enclosing file or `describe`: real network off (localhost stays reachable),
 * interceptors cleared after each test and, unless `checkPending` is false, a test fails when one of its
 * interceptors was never called.
 */
export function useNock({ checkPending = true }: { checkPending?: boolean } = {}): void {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    if (checkPending) expect(pending).toEqual([]);
  });
  afterAll(() => nock.enableNetConnect());
}

/** What a {@link memoryConnectorContext} has persisted through `context.tokens.set` (or was seeded with). */
export interface StoredTokens {
  tokens?: Record<string, string>;
}

/**
 * A ConnectorContext whose token storage lives in memory: `saved` seeds it, `stored.tokens` shows what the
 * connector persisted, `onSet` sees every write before it is stored.
 */
export function memoryConnectorContext<S extends Secrets>(options: {
  secrets: S;
  apiUrl: string;
  saved?: Record<string, string>;
  onSet?: (tokens: Record<string, string>) => void;
}): { context: ConnectorContext<S>; stored: StoredTokens } {
  const stored: StoredTokens = { tokens: options.saved };
  const context: ConnectorContext<S> = {
    secrets: options.secrets,
    apiUrl: options.apiUrl,
    throttle: async () => {},
    tokens: {
      get: async () => stored.tokens,
      set: async (tokens) => {
        options.onSet?.(tokens);
        stored.tokens = tokens;
      },
    },
    signal: new AbortController().signal,
    log: () => undefined,
  };
  return { context, stored };
}

/** The `Authorization` header value for HTTP basic auth. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A webhook delivery as the HTTP layer hands it to a connector, posted to `https://crm.example.com/webhooks/<connector>` unless `publicUrl` says otherwise. */
export function webhookRequest(
  connector: string,
  body: Buffer | string,
  headers: Record<string, string | undefined> = {},
  {
    method = 'POST',
    publicUrl = `https://crm.example.com/webhooks/${connector}`,
  }: { method?: string; publicUrl?: string } = {},
): WebhookRequest {
  return { method, headers, query: {}, rawBody: Buffer.from(body), publicUrl };
}

/** A vendor sample (tests/fixtures/vendors), parsed as JSON. */
export function fixtureJson(vendor: string, file: string): any {
  return JSON.parse(fixtureBytes(vendor, file).toString('utf8'));
}

/**
 * Runs a connector's default mapping for `type` over `payload` (the event type's sample by default), checks the
 * record against the record schema and returns it as stored: JSON, without JSONata's sequence markers.
 */
export async function mapToRecord(
  connector: ConnectorDefinition,
  type: string,
  externalId: string,
  payload: unknown = connector.events[type]!.sample,
  occurredAt = '2025-01-01T00:00:00.000Z',
): Promise<Record<string, unknown>> {
  const event = { connector: connector.id, type, external_id: externalId, occurred_at: occurredAt };
  const result = await compileExpression(connector.events[type]!.mapping).evaluate(payload, { event });
  const record = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
  expect(validateRecord(record), recordErrors()).toBe(true);
  return record;
}
