import nodemailer from 'nodemailer';
import pg from 'pg';
import type { Logger } from 'pino';
import { VendorAuthError } from '../connectors/shared/vendor-http.js';
import { redisAnswers } from '../config/bootstrap.js';
import { ENV_VARS, envValue, isProduction, type Env } from '../config/env.js';
import { createSecretBox } from '../config/secret-box.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { createConnectorContext, tokenStoreAt } from '../engine/connector-context.js';
import { ConfigError, formatIssue, loadConfigFile, type LoadedConfig } from '../workflows/load.js';

const DEMO_VALUES = new Set(ENV_VARS.flatMap((spec) => (spec.demo ? [spec.demo] : [])));

export interface Finding {
  ok: boolean;
  /** One readable line: what was checked, what was found and, when wrong, how to fix it. */
  line: string;
}

/** A URL with its password masked, for messages. */
function masked(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

const reason = (error: unknown) => {
  const { code, message } = error as { code?: string; message?: string };
  return code && !String(message).includes(code) ? `${code} ${message ?? ''}`.trim() : (message ?? String(error));
};

async function checkPostgres(env: Env): Promise<Finding> {
  const url = env.DATABASE_URL;
  if (!url)
    return {
      ok: true,
      line: `PostgreSQL: embedded (demo mode), data in ${envValue(env, 'CRMFLOW_DATA_DIR')}; set DATABASE_URL for your own server`,
    };
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string }>('SHOW server_version');
    return { ok: true, line: `PostgreSQL ${rows[0]!.version} at ${masked(url)}` };
  } catch (error) {
    return {
      ok: false,
      line: `PostgreSQL at ${masked(url)}: ${reason(error)} — check DATABASE_URL (host, port, user, password, database) and that the server runs`,
    };
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(env: Env): Promise<Finding> {
  const url = envValue(env, 'REDIS_URL')!;
  if (await redisAnswers(url, 2000)) return { ok: true, line: `Redis at ${masked(url)}` };
  return {
    ok: false,
    line: `Redis at ${masked(url)}: nothing answers — start it (docker compose up -d redis, or redis-server) or fix REDIS_URL`,
  };
}

async function checkSmtp(env: Env): Promise<Finding> {
  if (!env.SMTP_URL) {
    return {
      ok: !isProduction(env),
      line: isProduction(env)
        ? 'SMTP: SMTP_URL is not set — email replies cannot be sent'
        : 'SMTP: not set; email replies go to the demo outbox (GET /api/messages)',
    };
  }
  const transport = nodemailer.createTransport(env.SMTP_URL);
  try {
    await transport.verify();
    return { ok: true, line: `SMTP at ${masked(env.SMTP_URL)}` };
  } catch (error) {
    return {
      ok: false,
      line: `SMTP at ${masked(env.SMTP_URL)}: ${reason(error)} — check SMTP_URL (host, port, user, password)`,
    };
  } finally {
    transport.close();
  }
}

async function checkConnectors(config: LoadedConfig, env: Env, logger: Logger): Promise<Finding[]> {
  const findings: Finding[] = [];
  // Stored OAuth tokens are read when the database is reachable; otherwise the check uses the configured secrets.
  const stored = env.DATABASE_URL
    ? tokenStoreAt(env.DATABASE_URL, createSecretBox(env.CRMFLOW_SECRET_KEY ?? ''))
    : undefined;
  const noTokens: ConnectorContext['tokens'] = { get: async () => undefined, set: async () => {} };
  try {
    for (const [id, { definition, secrets, demoSecrets }] of config.connectors) {
      if (demoSecrets.length > 0 || Object.values(secrets).some((value) => DEMO_VALUES.has(value))) {
        findings.push({ ok: true, line: `connector ${id}: not checked, it uses demo credentials` });
        continue;
      }
      if (!definition.check) {
        findings.push({
          ok: true,
          line: `connector ${id}: webhook secrets configured (${definition.id} has no API credential check)`,
        });
        continue;
      }
      const context = createConnectorContext({
        definition,
        secrets,
        env,
        tokens: stored?.tokens(id) ?? noTokens,
        logger,
        signal: AbortSignal.timeout(10_000),
        acquire: async () => {},
      });
      try {
        findings.push({ ok: true, line: `connector ${id}: ${await definition.check(context)}` });
      } catch (error) {
        const fix =
          error instanceof VendorAuthError
            ? `the credentials were refused — check connectors.${id}.secrets in the workflows file and their environment variables`
            : 'check the API URL and the network';
        findings.push({ ok: false, line: `connector ${id}: ${reason(error)} — ${fix}` });
      }
    }
  } finally {
    await stored?.close();
  }
  return findings;
}

/**
 * Which reply channels reach customers and which go to the local demo outbox: email without SMTP_URL, and the channels of
 * connectors whose secrets are demo values (see `outbound.ts`).
 */
export function checkChannels(config: LoadedConfig, env: Env): Finding {
  const demo = new Map<string, string>();
  const live: string[] = [];
  if (!env.SMTP_URL) demo.set('email', 'SMTP_URL');
  else live.push('email');
  for (const { definition, demoSecrets } of config.connectors.values()) {
    for (const channel of Object.keys(definition.channels ?? {})) {
      if (demoSecrets.length > 0) demo.set(channel, demoSecrets.join(', '));
      else live.push(channel);
    }
  }
  const delivered = live.length > 0 ? `; delivered: ${live.join(', ')}` : '';
  if (demo.size === 0) return { ok: true, line: `channels: delivered: ${live.join(', ')}` };
  const names = [...demo.keys()].join(', ');
  const fixes = [...new Set(demo.values())].join('; ');
  return {
    ok: !isProduction(env),
    line: `channels in demo: ${names} go to the local outbox (GET /api/messages), not to customers${delivered} — to deliver, set ${fixes}`,
  };
}

/** Checks configuration, PostgreSQL, Redis, SMTP and each connector's credentials; one line each. */
export async function doctor(env: Env, logger: Logger): Promise<Finding[]> {
  const findings: Finding[] = [];
  let config: LoadedConfig | undefined;
  const file = envValue(env, 'CRMFLOW_CONFIG')!;
  try {
    config = loadConfigFile(file, { env });
    findings.push({
      ok: true,
      line: `configuration ${file}: ${config.workflows.length} workflows, ${config.connectors.size} connectors`,
    });
    const demo = config.demoSecrets;
    if (demo.length > 0)
      findings.push({
        ok: !isProduction(env),
        line: `configuration: demo values in use for ${demo.join(', ')} — set them before real use`,
      });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const issue of error.issues) findings.push({ ok: false, line: `configuration: ${formatIssue(issue)}` });
  }
  findings.push(...(await Promise.all([checkPostgres(env), checkRedis(env), checkSmtp(env)])));
  if (config) findings.push(checkChannels(config, env), ...(await checkConnectors(config, env, logger)));
  return findings;
}
