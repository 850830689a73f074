/**
 * The contract every connector implements: one declaration per vendor, registered once in `registry.ts`.
 * Connectors import only this file and `shared/`; the engine gives them what they need through arguments.
 */

/** A webhook request as the vendor sent it. Header names are lower-case. */
export interface WebhookRequest {
  method: string;
  headers: Readonly<Record<string, string | undefined>>;
  query: Readonly<Record<string, string | undefined>>;
  /** The exact bytes received: signatures are computed over these, never over re-serialized JSON. */
  rawBody: Buffer;
  /** The URL the vendor called, rebuilt from the configured public base URL (what vendors such as Twilio sign). */
  publicUrl: string;
}

/** One event parsed from a delivery. A batched delivery yields several. */
export interface ParsedEvent {
  /** `noun.verb_past`, e.g. `order.created`. */
  type: string;
  /** Stable across redeliveries of the same event: the inbox de-duplicates on it. */
  externalId: string;
  /** ISO 8601 time the vendor says the event happened. */
  occurredAt: string;
  payload: unknown;
}

/** A response the connector answers itself, e.g. a subscription handshake. */
export interface DirectResponse {
  status: number;
  contentType?: string;
  body: string;
}

/** The connector's secrets as configured, by the names it declares. */
export type Secrets<K extends string = string> = Readonly<Record<K, string>>;

export interface SecretSpec {
  description: string;
  /** Optional secrets may be left out of workflows.yaml. */
  optional?: boolean;
  /**
   * The environment variable the shipped workflows.yaml reads this secret from (`"${SHOPIFY_WEBHOOK_SECRET}"`). The
   * env table (`crmflow env --markdown`), `.env.example` and the README are generated from it.
   */
  env?: ConnectorEnvVar;
}

/** An environment variable a connector declares (for a secret, or the API base URL). */
export interface ConnectorEnvVar {
  name: string;
  /** What to set it to, for the env table. */
  description: string;
  /** The value used in demo mode (no `NODE_ENV=production`) when unset; required in production without one. */
  demo?: string;
  /** False for identifiers that are not secret (a company or tenant id). Default true. */
  secret?: boolean;
}

/** A header of webhook deliveries, for the OpenAPI description. */
export interface WebhookHeaderSpec {
  /** As the vendor writes it, e.g. `X-Shopify-Hmac-Sha256`. */
  name: string;
  description: string;
  /** `body` for a vendor that signs inside the posted form instead of a header (Mailgun's `signature` field). */
  in?: 'body';
}

export interface WebhookSpec<S extends Secrets> {
  /**
   * Checks the vendor's signature over `rawBody`, timing-safe. Required; the only opt-out is `unsigned`.
   * Returns false (answered 401, nothing stored) or true.
   */
  verify?: (request: WebhookRequest, secrets: S) => boolean;
  /** Why this connector accepts unsigned webhooks. Set instead of `verify`, never with it. */
  unsigned?: string;
  /** The header that carries the signature `verify` checks, and how it is computed. Required with `verify`. */
  signature?: WebhookHeaderSpec;
  /** Other headers of deliveries (topic, event id), for the OpenAPI description. */
  headers?: WebhookHeaderSpec[];
  /**
   * Answers vendor handshakes (GET subscription checks, unsigned pings, signed intent-to-receive checks) instead of
   * parsing. Called first, before `verify`: a handshake that must be signed checks the signature itself. Return
   * undefined for an ordinary delivery. GET requests reach only this.
   */
  handshake?: (request: WebhookRequest, secrets: S) => DirectResponse | undefined;
  /** The answer once a delivery is stored, for vendors that want a particular one (TwiML, an empty body); default 202 JSON. */
  acknowledge?: DirectResponse;
  /** Turns a verified delivery into events; throws `BadRequestError` for a body it cannot read. */
  parse: (request: WebhookRequest, secrets: S) => ParsedEvent[];
}

export interface EventSpec {
  summary: string;
  /** Default JSONata mapping from the event payload to the unified record (see `docs` in README). */
  mapping: string;
  /** A real payload of this event, used by tests and `crmflow map`. */
  sample: unknown;
}

/** What pull resources and actions receive from the engine. */
export interface ConnectorContext<S extends Secrets = Secrets> {
  secrets: S;
  /** Vendor API base URL: the operator's `<VENDOR>_API_URL` if set, else the connector's `apiUrl` default. */
  apiUrl: string;
  /** OAuth tokens (refresh-token rotation) persisted by the engine, encrypted at rest; undefined until first saved. */
  tokens: {
    get: () => Promise<Record<string, string> | undefined>;
    set: (tokens: Record<string, string>) => Promise<void>;
  };
  signal: AbortSignal;
  log: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Resolves when the connector may make one more API request under its declared `api.rateLimit`, counted across
   * every crmflow process. `contextClient` calls it before each request.
   */
  throttle: () => Promise<void>;
}

/** One page of a pull. The engine stores the page's events, then the cursor: a crash between pages resumes there. */
export interface PullPage {
  events: ParsedEvent[];
  /** Cursor for the next call; null when the resource is exhausted for now (the next poll starts from `resumeCursor`). */
  nextCursor: unknown | null;
  /** Where the next poll starts once this run is exhausted (e.g. the newest updated_at seen). */
  resumeCursor?: unknown;
}

export interface PullResource<S extends Secrets = Secrets> {
  summary: string;
  /** `cursor` is null on the very first pull; `since` bounds a first backfill. */
  list: (
    context: ConnectorContext<S>,
    cursor: unknown | null,
    options: { since?: Date; pageSize: number },
  ) => Promise<PullPage>;
}

export interface ActionSpec<S extends Secrets = Secrets> {
  summary: string;
  /** JSON Schema of the action input. */
  input: Record<string, unknown>;
  /**
   * Performs the action once per `idempotencyKey`: pass it to the vendor where the vendor supports one.
   * Returns the vendor's id for what was created.
   */
  run: (
    context: ConnectorContext<S>,
    input: Record<string, unknown>,
    idempotencyKey: string,
  ) => Promise<{ providerId: string | null }>;
}

/** A messaging channel the connector delivers on, used by `reply` (e.g. `sms` through Twilio's send_sms). */
export interface ChannelSpec {
  /** The identity kind that addresses a customer on this channel: `phone`, `messenger_psid`... */
  identity: string;
  /** The action that sends, and its input for one text to one recipient (the identity's value). */
  action: string;
  input: (
    recipient: string,
    text: string,
    trigger: { type: string; payload: unknown } | undefined,
  ) => Record<string, unknown>;
  /**
   * What the vendor would refuse, checked at send time: the reason (the reply is then skipped with it), or undefined.
   * E.g. Twilio: no sender number, a body over 1600 characters.
   */
  refuses?: (input: Record<string, unknown>, secrets: Secrets) => string | undefined;
  /**
   * A vendor rule that allows free-form text only within `hours` of the customer's last inbound message on the
   * channel (Meta's customer-service window); `rule` names it in skip reasons.
   */
  replyWindow?: { hours: number; rule: string };
  /** The action input for an approved template, the only message allowed outside `replyWindow`; absent: none. */
  templateInput?: (
    recipient: string,
    template: ReplyTemplate,
    trigger: { type: string; payload: unknown } | undefined,
  ) => Record<string, unknown>;
}

/** A vendor-approved message template, by name and language code (e.g. WhatsApp's `hello_world`, `en_US`). */
export interface ReplyTemplate {
  name: string;
  language: string;
}

/** An inbound message as consent and messaging-window rules see it. */
export interface InboundMessage {
  /** `sms`, `whatsapp`, `messenger`, `instagram`, `email`. */
  channel: string;
  /** The sender, as the value of the channel's identity (E.164 phone, `<account id>:<id>`); the engine normalizes it. */
  address: string;
  text: string | null;
  /**
   * Why the message was sent by a machine rather than a person (`Auto-Submitted: auto-replied`, a bounce, a mailing
   * list: RFC 3834); crmflow never answers such a message automatically. Undefined for a person's message.
   */
  automated?: string;
}

export interface ConnectorDefinition<K extends string = string> {
  /** Lower-case single word; also the webhook path `/webhooks/<id>`. */
  id: string;
  /**
   * What kind of system it is: `social`, `ecommerce`, `telephony`, `accounting`, `forms`, `email` ship today; any other
   * lower-case word (e.g. `crm` for a HubSpot connector) is fine. Shown in docs and the dashboard; the engine does not branch on it.
   */
  family: string;
  summary: string;
  /** The secrets under `connectors.<id>.secrets` in workflows.yaml; their values are never logged or returned. */
  secrets: Record<K, SecretSpec>;
  webhook?: WebhookSpec<Secrets<K>>;
  /** Every event type the connector emits, keyed by type. */
  events: Record<string, EventSpec>;
  /**
   * Default vendor API base URL, the environment variable that overrides it (e.g. `SHOPIFY_API_URL`), and the request
   * budget all crmflow processes share for this connector (the vendor's documented limit).
   */
  api?: {
    defaultUrl: string;
    env: string;
    /** What `env` is for, for the env table; default "<Connector> API base URL." */
    envDescription?: string;
    rateLimit?: { requests: number; perSeconds: number };
  };
  /**
   * For thin webhooks that carry only ids (QuickBooks, Xero): fetches the full objects and returns the events to
   * store. Runs in the worker, not on the webhook path.
   */
  enrich?: (context: ConnectorContext<Secrets<K>>, event: ParsedEvent) => Promise<ParsedEvent[]>;
  pull?: Record<string, PullResource<Secrets<K>>>;
  actions?: Record<string, ActionSpec<Secrets<K>>>;
  /**
   * Confirms the API credentials with one harmless vendor call (`crmflow doctor`); resolves to what the vendor said
   * (e.g. the account name), throws `VendorAuthError` when the credentials are refused.
   */
  check?: (context: ConnectorContext<Secrets<K>>) => Promise<string>;
  /**
   * A connection the vendor pushes on (IMAP IDLE), kept open by worker processes: `start` calls `changed()` whenever
   * the pull resource `resource` may have something new, and the engine pulls it from its stored cursor, as it also
   * does every `pollSeconds` in case a push was missed (or the vendor cannot push). Resolves to a function that stops.
   */
  watch?: {
    resource: string;
    pollSeconds: (secrets: Secrets<K>) => number;
    /** How far back the very first pull of the resource reads (a pull with no stored cursor). */
    backfillMs: (secrets: Secrets<K>) => number;
    start: (context: ConnectorContext<Secrets<K>>, changed: () => void) => Promise<() => Promise<void>>;
  };
  /** What is wrong with secrets the schema cannot judge (a malformed list), by secret name: reported at load. */
  checkSecrets?: (secrets: Partial<Secrets<K>>) => Partial<Record<K, string>>;
  /** Channels `reply` can answer on through this connector's actions. */
  channels?: Record<string, ChannelSpec>;
  /** The channel an inbound event came on, for `reply` with `channel: same`. */
  channelOf?: (event: { type: string; payload: unknown }) => string | undefined;
  /**
   * The customer message an inbound event carries, if any: the engine records its time (messaging windows) and acts on
   * opt-out keywords (STOP, START...) before any workflow runs.
   */
  inboundMessage?: (event: { type: string; payload: unknown }) => InboundMessage | undefined;
}

export function defineConnector<K extends string>(definition: ConnectorDefinition<K>): ConnectorDefinition<K> {
  if (definition.webhook && !definition.webhook.verify === !definition.webhook.unsigned) {
    throw new Error(`connector ${definition.id}: a webhook needs exactly one of verify and unsigned`);
  }
  if (definition.webhook?.verify && !definition.webhook.signature)
    throw new Error(`connector ${definition.id}: a verified webhook declares its signature header`);
  if (!/^[a-z]+$/.test(definition.family))
    throw new Error(`connector ${definition.id}: family must be one lower-case word`);
  return definition;
}

/** A request body the connector cannot read: answered 400 with this message. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}
