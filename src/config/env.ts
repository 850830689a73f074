import { existsSync } from 'node:fs';
import type { ConnectorDefinition } from '../connectors/define-connector.js';
import { connectors } from '../connectors/registry.js';

/**
 * Every environment variable crmflow reads: its own (below) and those its connectors declare (a secret's `env`, the
 * API URL's `api.env`). `.env.example`, `crmflow env --markdown` and the README's configuration reference are generated
 * from this list and checked by tests, so they cannot drift.
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

/** crmflow's own variables (the connectors' follow, from the registry). */
const CORE_ENV_VARS: readonly EnvVarSpec[] = [
  {
    name: 'NODE_ENV',
    description: '`production` turns every missing secret into a startup error; anything else is demo mode.',
  },
  {
    name: 'DATABASE_URL',
    description:
      'PostgreSQL connection URL. Unset: an embedded PostgreSQL is started with its data under `CRMFLOW_DATA_DIR`.',
  },
  {
    name: 'REDIS_URL',
    description:
      'Redis connection URL for the BullMQ queues. If nothing answers at the default, a `redis-server` on PATH is started.',
    default: 'redis://127.0.0.1:6379',
  },
  { name: 'PORT', description: 'HTTP port of the API, webhooks and dashboard.', default: '3000' },
  { name: 'HOST', description: 'Address the HTTP server listens on.', default: '0.0.0.0' },
  {
    name: 'CRMFLOW_RUN_FROM',
    description:
      '`dist` runs the compiled JavaScript (`npm run build`), `src` the TypeScript sources through tsx. Unset: `dist` in production when it is built, else `src`.',
  },
  { name: 'CRMFLOW_CONFIG', description: 'Path of the workflows file.', default: './workflows.yaml' },
  {
    name: 'CRMFLOW_EMBEDDED_PG_PORT',
    description: 'Port of the embedded PostgreSQL (demo mode), away from 5432 so it never meets a system server.',
    default: '54329',
  },
  {
    name: 'CRMFLOW_DATA_DIR',
    description: 'Folder for embedded PostgreSQL and Redis data (demo mode).',
    default: './.crmflow',
  },
  {
    name: 'CRMFLOW_PUBLIC_URL',
    description: 'Public base URL of this server as vendors see it (printed webhook URLs; Twilio signs it).',
  },
  { name: 'CRMFLOW_API_TOKEN', description: 'Bearer token for `/api/*`.', secret: true, demo: 'demo-api-token' },
  {
    name: 'CRMFLOW_SECRET_KEY',
    description:
      'Key that encrypts connector OAuth tokens at rest and signs dashboard sessions and the unsubscribe links of reply emails. Changing it forgets stored tokens (re-authorize), signs everyone out and voids links already sent.',
    secret: true,
    demo: 'demo-secret-key-change-me',
  },
  {
    name: 'CRMFLOW_USERS',
    description:
      'Dashboard users, comma-separated `name:role:hash` (role `viewer`, `support` or `admin`; hash from the one-line command in the README, Dashboard). Unset in demo mode: user `admin`, password `demo-admin-password`; unset in production: only the API token signs in.',
  },
  {
    name: 'CRMFLOW_METRICS_PORT',
    description:
      'Port where a `crmflow worker` process (no API in it) serves `GET /metrics` for Prometheus, with the same token or loopback rule; 0 turns it off.',
    default: '9464',
  },
  {
    name: 'CRMFLOW_METRICS_TOKEN',
    description: 'Bearer token for `GET /metrics` (Prometheus). Unset: metrics are served to loopback clients only.',
    secret: true,
  },
  {
    name: 'CRMFLOW_QUEUE_PREFIX',
    description: 'BullMQ key prefix; use a hash tag such as `{crmflow}` on Redis Cluster.',
    default: 'crmflow',
  },
  {
    name: 'CRMFLOW_DEFAULT_REGION',
    description: 'Region (ISO 3166 alpha-2) for phone numbers written without a country code.',
    default: 'US',
  },
  { name: 'WORKER_CONCURRENCY', description: 'Jobs one worker process runs at once.', default: '16' },
  {
    name: 'CRMFLOW_WORKER_NICE',
    description:
      'CPU priority (nice, 0–19) a `crmflow worker` process takes. On a machine it shares with `crmflow api`, 10 or more keeps webhook acknowledgements fast while a backlog is worked off. `crmflow start`’s child worker takes 10 when this is unset.',
    default: '0',
  },
  {
    name: 'CRMFLOW_START_WORKER',
    description:
      '`process`: `crmflow start` runs its worker and scheduler in a child process (restarted if it dies), so runs never delay webhook acknowledgements; `inline`: in the API’s own process.',
    default: 'process',
  },
  {
    name: 'CRMFLOW_ACK_TARGET_MS',
    description:
      '`crmflow start`: the webhook acknowledgement time (p95, ms) its worker keeps: while the API answers slower, the worker halves the jobs it runs at once (down to one), and takes one more every 250 ms while it answers in under half of it. 0: the worker always runs WORKER_CONCURRENCY jobs.',
    default: '20',
  },
  {
    name: 'CRMFLOW_PG_POOL_MAX',
    description: 'PostgreSQL connections per process (keep processes × this under the server’s max_connections).',
    default: '20',
  },
  {
    name: 'CRMFLOW_LOCK_MS',
    description: 'BullMQ job lock duration; a job whose worker died is recovered as stalled after about this long.',
    default: '30000',
  },
  {
    name: 'CRMFLOW_DRAIN_MS',
    description:
      'On SIGTERM: how long webhooks get 503 with Retry-After (and /readyz 503) before the HTTP server closes, so a load balancer can stop sending.',
    default: '2000',
  },
  {
    name: 'CRMFLOW_SHUTDOWN_TIMEOUT_MS',
    description:
      'On SIGTERM: how long in-flight runs may take to finish before the worker stops anyway (unfinished jobs are then recovered by another worker).',
    default: '25000',
  },
  {
    name: 'CRMFLOW_JOB_ATTEMPTS',
    description:
      'Attempts of a job (a run whose step fails with a transient error, e.g. SMTP down) before its run stays failed for a manual retry.',
    default: '10',
  },
  {
    name: 'CRMFLOW_JOB_BACKOFF_MS',
    description: 'First retry delay of a failed job; doubled on each further attempt, with jitter.',
    default: '1000',
  },
  {
    name: 'CRMFLOW_EVENT_CHAIN_LIMIT',
    description:
      'Loop guard of `event` triggers: a run that would be started by a chain of this many engine events (or that re-enters a workflow already in its chain) is recorded as failed ("event chain limit") instead.',
    default: '5',
  },
  {
    name: 'CRMFLOW_RUN_RETENTION_DAYS',
    description:
      'Days a finished run keeps its step records and stored payloads (then the event’s, once none of its runs needs it); the run rows stay. Pruned daily at 03:00 UTC; `0` or `off` keeps everything forever.',
    default: '90',
  },
  {
    name: 'SMTP_URL',
    description:
      'SMTP server for email replies, e.g. `smtp://user:pass@mail.example.com:587`. Unset in demo mode: emails go to the local outbox (`GET /api/messages`).',
  },
  { name: 'SMTP_FROM', description: 'From address of email replies.', default: 'crmflow <crmflow@localhost>' },
  {
    name: 'CRMFLOW_PII_FIELDS',
    description:
      'Field names treated as PII, comma-separated (e.g. `email,phone,to,billing_address`): redacted in logs and masked on the dashboard.',
  },
  {
    name: 'CRMFLOW_HTTP_ALLOW_HOSTS',
    description:
      'Hosts the `http` step may call although they resolve to a loopback, private, link-local or cloud-metadata address, comma-separated `name` or `name:port` (e.g. `crm.internal,127.0.0.1:8080`). Unset: such addresses are refused.',
  },
  {
    name: 'CRMFLOW_TRUSTED_PROXIES',
    description:
      'Proxies whose `X-Forwarded-For`/`X-Forwarded-Proto` are believed (client address, https), as Express `trust proxy` values: `loopback`, addresses or CIDR ranges, comma-separated. Behind the compose file’s host proxy set the Docker network, e.g. `loopback,172.16.0.0/12`.',
    default: 'loopback',
  },
  { name: 'LOG_LEVEL', description: 'pino log level (trace, debug, info, warn, error).', default: 'info' },
];

/** The variables one connector declares: its secrets' (in declaration order), then its API base URL's. */
export function connectorEnvVars(connector: ConnectorDefinition): EnvVarSpec[] {
  const vars: EnvVarSpec[] = Object.values(connector.secrets).flatMap((secret) =>
    secret.env
      ? [
          {
            name: secret.env.name,
            description: secret.env.description,
            ...(secret.env.secret === false
              ? {}
              : { secret: true, ...(secret.env.demo === undefined ? {} : { demo: secret.env.demo }) }),
          },
        ]
      : [],
  );
  if (connector.api) {
    const { env, defaultUrl, envDescription } = connector.api;
    vars.push({
      name: env,
      description: envDescription ?? `${connector.id} API base URL.`,
      ...(defaultUrl ? { default: defaultUrl } : {}),
    });
  }
  return vars;
}

/** crmflow's variables followed by those of `definitions` (the registry's, or a list with one more in tests). */
export function envVarsFor(definitions: Iterable<ConnectorDefinition>): EnvVarSpec[] {
  return [...CORE_ENV_VARS, ...[...definitions].flatMap(connectorEnvVars)];
}

export const ENV_VARS: readonly EnvVarSpec[] = envVarsFor(connectors.values());

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

/** `CRMFLOW_RUN_RETENTION_DAYS`: undefined when retention is off (`0` or `off`). */
export function runRetentionDays(env: Env): number | undefined {
  if (envValue(env, 'CRMFLOW_RUN_RETENTION_DAYS')!.trim().toLowerCase() === 'off') return undefined;
  return envInt(env, 'CRMFLOW_RUN_RETENTION_DAYS') || undefined;
}

/**
 * Resolves a secret: its value, else (demo mode only) its demo value, its name then recorded in `demoUsed`.
 * Returns undefined when neither exists.
 */
export function resolveSecret(env: Env, name: string, demoUsed: string[]): string | undefined {
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  const demo = specByName.get(name)?.demo;
  if (demo === undefined || isProduction(env)) return undefined;
  if (!demoUsed.includes(name)) demoUsed.push(name);
  return demo;
}

/**
 * One line about every demo value in use (and the demo dashboard user, when there is one), for the log of every command:
 * one warning per variable buried what the command itself printed. Undefined when nothing runs on demo values.
 */
export function demoSummary(names: readonly string[], demoUser?: string): string | undefined {
  if (names.length === 0 && !demoUser) return undefined;
  const secrets =
    names.length === 1
      ? `${names[0]} is not set: using its DEMO value`
      : `${names.length} secrets are not set: using their DEMO values (${names.join(', ')})`;
  const parts = [
    ...(names.length > 0 ? [secrets] : []),
    ...(demoUser ? [`the dashboard has the DEMO user ${demoUser}`] : []),
  ];
  return `demo mode: ${parts.join('; ')}. Set them before real use (NODE_ENV=production forbids demo values; \`crmflow env\` lists every variable).`;
}

/** The README's configuration reference table (between the `env:start` / `env:end` markers), kept equal by a test. */
export function envReferenceMarkdown(vars: readonly EnvVarSpec[] = ENV_VARS): string {
  const rows = vars.map((spec) => {
    const value = spec.secret
      ? spec.demo === undefined
        ? 'secret; optional'
        : `secret; demo: \`${spec.demo}\``
      : spec.default !== undefined
        ? `\`${spec.default}\``
        : '—';
    return `| \`${spec.name}\` | ${value} | ${spec.description.replace(/\|/g, '\\|')} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The text of `.env.example`: every variable with its default or demo value. */
export function envExampleText(vars: readonly EnvVarSpec[] = ENV_VARS): string {
  const lines = ['# crmflow configuration. Copy to .env and change; every variable is optional in demo mode.', ''];
  for (const spec of vars) {
    lines.push(`# ${spec.description.replace(/`/g, '')}`);
    const value = spec.demo ?? spec.default ?? '';
    lines.push(`${value === '' ? '# ' : ''}${spec.name}=${value}`);
    lines.push('');
  }
  return lines.join('\n');
}
