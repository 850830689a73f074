import { existsSync } from 'node:fs';

/**
 * Every environment variable crmflow reads, in one list. `.env.example` and the README's
 * configuration reference are checked against it by tests, so they cannot drift.
 */
export interface EnvVarSpec {
  name: string;
  description: string;
  /** Used when the variable is unset, in every mode. */
  default?: string;
  /**
   * Secrets only: the value used in demo mode (no `NODE_ENV=production`) when unset, with a loud
   * warning. In production an unset secret is a startup error that names it. A secret without one is optional.
   */
  demo?: string;
  secret?: boolean;
}

export const ENV_VARS: readonly EnvVarSpec[] = [
  { name: 'NODE_ENV', description: '`production` turns every missing secret into a startup error; anything else is demo mode.' },
  { name: 'DATABASE_URL', description: 'PostgreSQL connection URL. Unset: an embedded PostgreSQL is started with its data under `CRMFLOW_DATA_DIR`.' },
  { name: 'REDIS_URL', description: 'Redis connection URL for the BullMQ queues. If nothing answers at the default, a `redis-server` on PATH is started.', default: 'redis://127.0.0.1:6379' },
  { name: 'PORT', description: 'HTTP port of the API, webhooks and dashboard.', default: '3000' },
  { name: 'HOST', description: 'Address the HTTP server listens on.', default: '0.0.0.0' },
  { name: 'CRMFLOW_CONFIG', description: 'Path of the workflows file.', default: './workflows.yaml' },
  { name: 'CRMFLOW_EMBEDDED_PG_PORT', description: 'Port of the embedded PostgreSQL (demo mode), away from 5432 so it never meets a system server.', default: '54329' },
  { name: 'CRMFLOW_DATA_DIR', description: 'Folder for embedded PostgreSQL and Redis data (demo mode).', default: './.crmflow' },
  { name: 'CRMFLOW_PUBLIC_URL', description: 'Public base URL of this server as vendors see it (printed webhook URLs; Twilio signs it).' },
  { name: 'CRMFLOW_API_TOKEN', description: 'Bearer token for `/api/*`.', secret: true, demo: 'demo-api-token' },
  { name: 'CRMFLOW_SECRET_KEY', description: 'Key that encrypts connector OAuth tokens at rest and signs dashboard sessions and the unsubscribe links of reply emails. Changing it forgets stored tokens (re-authorize), signs everyone out and voids links already sent.', secret: true, demo: 'demo-secret-key-change-me' },
  {
    name: 'CRMFLOW_USERS',
    description:
      'Dashboard users, comma-separated `name:role:hash` (role `viewer`, `support` or `admin`; hash from the one-line command in the README, Dashboard). Unset in demo mode: user `admin`, password `demo-admin-password`; unset in production: only the API token signs in.',
  },
  { name: 'CRMFLOW_METRICS_TOKEN', description: 'Bearer token for `GET /metrics` (Prometheus). Unset: metrics are served to loopback clients only.', secret: true },
  { name: 'CRMFLOW_QUEUE_PREFIX', description: 'BullMQ key prefix; use a hash tag such as `{crmflow}` on Redis Cluster.', default: 'crmflow' },
  { name: 'CRMFLOW_DEFAULT_REGION', description: 'Region (ISO 3166 alpha-2) for phone numbers written without a country code.', default: 'US' },
  { name: 'WORKER_CONCURRENCY', description: 'Jobs one worker process runs at once.', default: '16' },
  { name: 'CRMFLOW_WORKER_NICE', description: 'CPU priority (nice, 0–19) a `crmflow worker` process takes. On a machine it shares with `crmflow api`, 10 or more keeps webhook acknowledgements fast while a backlog is worked off.', default: '0' },
  { name: 'CRMFLOW_PG_POOL_MAX', description: 'PostgreSQL connections per process (keep processes × this under the server’s max_connections).', default: '20' },
  { name: 'CRMFLOW_LOCK_MS', description: 'BullMQ job lock duration; a job whose worker died is recovered as stalled after about this long.', default: '30000' },
  { name: 'CRMFLOW_DRAIN_MS', description: 'On SIGTERM: how long webhooks get 503 with Retry-After (and /readyz 503) before the HTTP server closes, so a load balancer can stop sending.', default: '2000' },
  { name: 'CRMFLOW_SHUTDOWN_TIMEOUT_MS', description: 'On SIGTERM: how long in-flight runs may take to finish before the worker stops anyway (unfinished jobs are then recovered by another worker).', default: '25000' },
  { name: 'CRMFLOW_JOB_ATTEMPTS', description: 'Attempts of a job (a run whose step fails with a transient error, e.g. SMTP down) before its run stays failed for a manual retry.', default: '10' },
  { name: 'CRMFLOW_JOB_BACKOFF_MS', description: 'First retry delay of a failed job; doubled on each further attempt, with jitter.', default: '1000' },
  { name: 'CRMFLOW_EVENT_CHAIN_LIMIT', description: 'Loop guard of `event` triggers: a run that would be started by a chain of this many engine events (or that re-enters a workflow already in its chain) is recorded as failed ("event chain limit") instead.', default: '5' },
  { name: 'SMTP_URL', description: 'SMTP server for email replies, e.g. `smtp://user:pass@mail.example.com:587`. Unset in demo mode: emails go to the local outbox (`GET /api/messages`).' },
  { name: 'SMTP_FROM', description: 'From address of email replies.', default: 'crmflow <crmflow@localhost>' },
  { name: 'CRMFLOW_PII_FIELDS', description: 'Field names treated as PII, comma-separated (e.g. `email,phone,to,billing_address`): redacted in logs and masked on the dashboard.' },
  { name: 'LOG_LEVEL', description: 'pino log level (trace, debug, info, warn, error).', default: 'info' },
  { name: 'SHOPIFY_WEBHOOK_SECRET', description: 'Shopify app client secret that signs webhooks (`X-Shopify-Hmac-Sha256`).', secret: true, demo: 'demo-shopify-secret' },
  { name: 'FORM_WEBHOOK_SECRET', description: 'Shared secret your website uses to sign lead-form posts (`X-Crmflow-Signature`).', secret: true, demo: 'demo-form-secret' },
  { name: 'SHOPIFY_ACCESS_TOKEN', description: 'Shopify Admin API access token (read_orders, read_customers), for pulls.', secret: true, demo: 'demo-shopify-access-token' },
  { name: 'SHOPIFY_API_URL', description: 'Your shop for Admin API pulls, e.g. https://your-shop.myshopify.com.' },
  { name: 'WOOCOMMERCE_CONSUMER_KEY', description: 'WooCommerce REST API consumer key (read), for pulls.', secret: true, demo: 'ck_demo' },
  { name: 'WOOCOMMERCE_CONSUMER_SECRET', description: 'WooCommerce REST API consumer secret, for pulls.', secret: true, demo: 'cs_demo' },
  { name: 'WOOCOMMERCE_API_URL', description: "Your shop's REST base for pulls, e.g. https://shop.example.com/wp-json/wc/v3." },
  { name: 'WOOCOMMERCE_WEBHOOK_SECRET', description: 'Secret of your WooCommerce webhooks (`X-WC-Webhook-Signature`).', secret: true, demo: 'demo-woocommerce-secret' },
  { name: 'META_APP_SECRET', description: 'App Secret of your Meta app; signs Messenger, Instagram and WhatsApp webhooks (`X-Hub-Signature-256`).', secret: true, demo: 'demo-meta-app-secret' },
  { name: 'META_VERIFY_TOKEN', description: 'Any string, also typed into the Meta dashboard as the webhook Verify Token.', secret: true, demo: 'demo-meta-verify-token' },
  { name: 'META_ACCESS_TOKEN', description: 'Page access token or WhatsApp system-user token for replies through the Graph API.', secret: true, demo: 'demo-meta-access-token' },
  { name: 'TWILIO_ACCOUNT_SID', description: 'Twilio Account SID (AC...).', secret: true, demo: 'ACdemo00000000000000000000000000000' },
  { name: 'QUICKBOOKS_VERIFIER_TOKEN', description: 'QuickBooks webhook Verifier Token (`intuit-signature`).', secret: true, demo: 'demo-quickbooks-verifier' },
  { name: 'QUICKBOOKS_CLIENT_ID', description: 'QuickBooks app OAuth2 client id.', secret: true, demo: 'demo-quickbooks-client-id' },
  { name: 'QUICKBOOKS_CLIENT_SECRET', description: 'QuickBooks app OAuth2 client secret.', secret: true, demo: 'demo-quickbooks-client-secret' },
  { name: 'QUICKBOOKS_REFRESH_TOKEN', description: 'Refresh token from authorizing the company; rotated tokens are then stored encrypted. Set a new one to re-authorize.', secret: true, demo: 'demo-quickbooks-refresh-token' },
  { name: 'QUICKBOOKS_REALM_ID', description: 'QuickBooks company (realm) id, for the `changes` pull (secret `realm_id`).' },
  { name: 'QUICKBOOKS_API_URL', description: 'QuickBooks Accounting API base URL (sandbox: https://sandbox-quickbooks.api.intuit.com).', default: 'https://quickbooks.api.intuit.com' },
  { name: 'XERO_WEBHOOK_KEY', description: 'Xero webhooks signing key (`x-xero-signature`).', secret: true, demo: 'demo-xero-webhook-key' },
  { name: 'XERO_CLIENT_ID', description: 'Xero app OAuth2 client id.', secret: true, demo: 'demo-xero-client-id' },
  { name: 'XERO_CLIENT_SECRET', description: 'Xero app OAuth2 client secret.', secret: true, demo: 'demo-xero-client-secret' },
  { name: 'XERO_REFRESH_TOKEN', description: 'Xero refresh token (offline_access); rotated tokens are then stored encrypted.', secret: true, demo: 'demo-xero-refresh-token' },
  { name: 'XERO_TENANT_ID', description: 'Xero organisation (tenant) id, for the `contacts`/`invoices` pulls (secret `tenant_id`).' },
  { name: 'XERO_API_URL', description: 'Xero API base URL.', default: 'https://api.xero.com' },
  { name: 'META_GRAPH_URL', description: 'Meta Graph API base URL.', default: 'https://graph.facebook.com' },
  { name: 'TWILIO_API_URL', description: 'Twilio REST API base URL.', default: 'https://api.twilio.com' },
  { name: 'TWILIO_FROM_NUMBER', description: 'Your Twilio number that SMS replies are sent from (E.164).', secret: true, demo: '+15005550006' },
  {
    name: 'EMAIL_MAILBOXES',
    description:
      'IMAP mailboxes the `email` connector reads, comma-separated `name=imaps://user:password@host:993` (URL-encoded user and password; `?agent=<id>` for an agent’s own mailbox). `none`: no mailbox.',
    secret: true,
    demo: 'none',
  },
  { name: 'MAILGUN_WEBHOOK_SIGNING_KEY', description: 'Mailgun HTTP webhook signing key: signs inbound-route posts to `/webhooks/mailgun`.', secret: true, demo: 'demo-mailgun-signing-key' },
  { name: 'TWILIO_AUTH_TOKEN', description: 'Twilio auth token: signs webhooks (`X-Twilio-Signature`, over `CRMFLOW_PUBLIC_URL`) and authenticates API calls.', secret: true, demo: 'demo-twilio-token' },
];

const specByName = new Map(ENV_VARS.map((spec) => [spec.name, spec]));

export function envSpec(name: string): EnvVarSpec | undefined {
  return specByName.get(name);
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads `.env` from the working directory if present; variables already set win. */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

export function isProduction(env: Env): boolean {
  return env.NODE_ENV === 'production';
}

/** A variable's value, falling back to its declared default. */
export function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  return specByName.get(name)?.default;
}

export function envInt(env: Env, name: string): number {
  const raw = envValue(env, name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

/**
 * Resolves a secret: its value, else (demo mode only) its demo value, recorded in `warnings`.
 * Returns undefined when neither exists.
 */
export function resolveSecret(env: Env, name: string, warnings: string[]): string | undefined {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  const demo = specByName.get(name)?.demo;
  if (demo === undefined || isProduction(env)) return undefined;
  warnings.push(`${name} is not set: using the DEMO value "${demo}". Set it (or NODE_ENV=production to forbid demo values) before real use.`);
  return demo;
}

/** The README's configuration reference table (between the `env:start` / `env:end` markers), kept equal by a test. */
export function envReferenceMarkdown(): string {
  const rows = ENV_VARS.map((spec) => {
    const value = spec.secret ? (spec.demo === undefined ? 'secret; optional' : `secret; demo: \`${spec.demo}\``) : spec.default !== undefined ? `\`${spec.default}\`` : '—';
    return `| \`${spec.name}\` | ${value} | ${spec.description.replace(/\|/g, '\\|')} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The text of `.env.example`: every variable with its default or demo value. */
export function envExampleText(): string {
  const lines = ['# crmflow configuration. Copy to .env and change; every variable is optional in demo mode.', ''];
  for (const spec of ENV_VARS) {
    lines.push(`# ${spec.description.replace(/`/g, '')}`);
    const value = spec.demo ?? spec.default ?? '';
    lines.push(`${value === '' ? '# ' : ''}${spec.name}=${value}`);
    lines.push('');
  }
  return lines.join('\n');
}
