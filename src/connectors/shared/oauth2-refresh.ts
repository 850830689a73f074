import { createHash } from 'node:crypto';
import type { AxiosRequestConfig, AxiosResponse } from 'axios';
import type { ConnectorContext } from '../define-connector.js';
import { createVendorClient, VendorAuthError, type VendorClient } from './vendor-http.js';

/** An OAuth2 app that refreshes its access tokens with a rotating refresh token (QuickBooks, Xero). */
export interface OAuth2RefreshOptions {
  /** Vendor name for error messages, e.g. `QuickBooks`. */
  vendor: string;
  /** Token endpoint (`grant_type=refresh_token`, client authenticated with HTTP Basic). */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /**
   * The refresh token from configuration. Used until a rotated one has been persisted, and again whenever the operator
   * configures a different one (a re-authorization replaces the persisted chain).
   */
  refreshToken?: string;
  /** The configuration setting to fix when no refresh token works, for error messages (e.g. `QUICKBOOKS_REFRESH_TOKEN`). */
  refreshTokenSetting: string;
  /** Seconds before its stated expiry an access token is treated as expired (clock skew, slow requests). Default 120. */
  expirySkewSeconds?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
}

/** What is persisted through `context.tokens`. */
interface StoredTokens {
  access_token: string;
  refresh_token: string;
  /** ISO time the access token expires. */
  expires_at: string;
  /** SHA-256 of the configured refresh token the chain started from: a different configured token restarts the chain. */
  seeded_from: string;
}

interface TokenResponse {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
  error?: unknown;
  error_description?: unknown;
}

/** Sends vendor API requests with a bearer token, refreshing it when expired and once more on a 401. */
export interface OAuth2Client {
  request: <T = unknown>(config: AxiosRequestConfig) => Promise<AxiosResponse<T>>;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

function isStoredTokens(value: Record<string, string> | undefined): value is Record<string, string> & StoredTokens {
  return (
    typeof value?.access_token === 'string' &&
    typeof value.refresh_token === 'string' &&
    typeof value.expires_at === 'string'
  );
}

/**
 * Wraps `api` (a `createVendorClient` for the vendor's API) with OAuth2 bearer tokens. Refresh-token rotation: every
 * refresh returns a new refresh token and invalidates the old one, so the new pair is persisted with
 * `context.tokens.set` before it is used; a crash after the refresh then loses nothing.
 */
export function createOAuth2Client(
  context: Pick<ConnectorContext, 'tokens' | 'signal'>,
  api: VendorClient,
  options: OAuth2RefreshOptions,
): OAuth2Client {
  const now = options.now ?? Date.now;
  const skewMs = (options.expirySkewSeconds ?? 120) * 1000;
  const configuredSeed = options.refreshToken ? sha256(options.refreshToken) : undefined;
  const tokenClient = createVendorClient({ baseURL: options.tokenUrl });
  let refreshing: Promise<string> | undefined;

  /** The persisted tokens, unless the operator has since configured a different refresh token. */
  async function stored(): Promise<StoredTokens | undefined> {
    const tokens = await context.tokens.get();
    if (!isStoredTokens(tokens)) return undefined;
    if (configuredSeed !== undefined && tokens.seeded_from !== configuredSeed) return undefined;
    return tokens;
  }

  async function refresh(): Promise<string> {
    const current = await stored();
    const refreshToken = current?.refresh_token ?? options.refreshToken;
    if (!refreshToken)
      throw new VendorAuthError(`${options.vendor}: no refresh token; set ${options.refreshTokenSetting}`, 401);
    const response = await tokenClient.request<TokenResponse>({
      method: 'POST',
      url: '',
      auth: { username: options.clientId, password: options.clientSecret },
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      data: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
      signal: context.signal,
      // 4xx answers are read below (invalid_grant...); 429 and 5xx are still retried by the vendor client.
      validateStatus: (status) => status < 500 && status !== 429,
    });
    const body = response.data ?? {};
    if (response.status !== 200 || typeof body.access_token !== 'string') {
      // Another worker may have rotated the token a moment ago: its pair is persisted, use it.
      const latest = await stored();
      if (latest && latest.refresh_token !== refreshToken && Date.parse(latest.expires_at) - skewMs > now())
        return latest.access_token;
      const reason =
        [body.error, body.error_description].filter((part) => typeof part === 'string').join(': ') ||
        `HTTP ${response.status}`;
      throw new VendorAuthError(
        `${options.vendor} token refresh failed (${reason}); re-authorize the app and set ${options.refreshTokenSetting}`,
        response.status,
      );
    }
    const expiresIn = Number(body.expires_in);
    const next: StoredTokens = {
      access_token: body.access_token,
      refresh_token:
        typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : refreshToken,
      expires_at: new Date(
        now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600) * 1000,
      ).toISOString(),
      seeded_from: current?.seeded_from ?? configuredSeed ?? '',
    };
    await context.tokens.set({ ...next });
    return next.access_token;
  }

  /** One refresh at a time per client: concurrent callers share it instead of spending the same refresh token twice. */
  function refreshOnce(): Promise<string> {
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  async function accessToken(): Promise<string> {
    const current = await stored();
    if (current && Date.parse(current.expires_at) - skewMs > now()) return current.access_token;
    return refreshOnce();
  }

  const withBearer = (config: AxiosRequestConfig, token: string): AxiosRequestConfig => ({
    ...config,
    signal: config.signal ?? context.signal,
    headers: { ...config.headers, authorization: `Bearer ${token}` },
  });

  return {
    request: async <T>(config: AxiosRequestConfig) => {
      try {
        return await api.request<T>(withBearer(config, await accessToken()));
      } catch (error) {
        // Revoked or expired early (clock skew, a reconnect elsewhere): refresh once and retry.
        if (!(error instanceof VendorAuthError) || error.status !== 401) throw error;
        return api.request<T>(withBearer(config, await refreshOnce()));
      }
    },
  };
}
