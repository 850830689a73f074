import { describe, expect, it } from 'vitest';
import nock from 'nock';
import { createOAuth2Client, type OAuth2RefreshOptions } from '../../src/connectors/shared/oauth2-refresh.js';
import { createVendorClient, VendorAuthError } from '../../src/connectors/shared/vendor-http.js';
import { basicAuth, memoryConnectorContext, useNock } from '../helpers/vendor-api.js';

const API = 'https://api.vendor.test';
const TOKEN_HOST = 'https://auth.vendor.test';
const NOW = Date.parse('2025-01-01T12:00:00Z');
const BASIC = basicAuth('client-1', 'secret-1');

/** In-memory `context.tokens` that records every write in order with the API calls (`log`). */
function memoryTokens(initial?: Record<string, string>) {
  const log: string[] = [];
  const { context, stored } = memoryConnectorContext({
    secrets: {},
    apiUrl: API,
    saved: initial,
    onSet: (tokens) => log.push(`set ${tokens.access_token}`),
  });
  return { log, saved: () => stored.tokens, context };
}

function client(tokens: ReturnType<typeof memoryTokens>, overrides: Partial<OAuth2RefreshOptions> = {}) {
  return createOAuth2Client(tokens.context, createVendorClient({ baseURL: API, baseDelayMs: 1 }), {
    vendor: 'Vendor',
    tokenUrl: `${TOKEN_HOST}/oauth/token`,
    clientId: 'client-1',
    clientSecret: 'secret-1',
    refreshToken: 'configured-refresh',
    refreshTokenSetting: 'VENDOR_REFRESH_TOKEN',
    now: () => NOW,
    ...overrides,
  });
}

/** Tokens exactly as the helper persists them after a first refresh from `configured-refresh`, then `fields`. */
async function seeded(fields: { access_token: string; refresh_token: string; expires_at: string }) {
  const tokens = memoryTokens();
  tokenEndpoint('configured-refresh', { access_token: 'seed-access', refresh_token: 'seed-refresh' });
  nock(API).get('/seed').reply(200, {});
  await client(tokens).request({ url: '/seed' });
  return { ...tokens.saved()!, ...fields };
}

function tokenEndpoint(
  refreshToken: string,
  reply: { access_token: string; refresh_token: string; expires_in?: number },
) {
  return nock(TOKEN_HOST, { reqheaders: { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' } })
    .post('/oauth/token', { grant_type: 'refresh_token', refresh_token: refreshToken })
    .reply(200, { token_type: 'bearer', expires_in: 3600, x_refresh_token_expires_in: 8726400, ...reply });
}

describe('OAuth2 refresh with refresh-token rotation', () => {
  useNock();

  it('refreshes with the configured token at first, persists the rotated pair, then calls the API with it', async () => {
    const tokens = memoryTokens();
    const refresh = tokenEndpoint('configured-refresh', { access_token: 'access-1', refresh_token: 'rotated-1' });
    const api = nock(API, { reqheaders: { authorization: 'Bearer access-1' } })
      .get('/things')
      .reply(200, () => (tokens.log.push('GET /things'), { ok: true }));

    const response = await client(tokens).request({ url: '/things' });

    expect(response.data).toEqual({ ok: true });
    expect(refresh.isDone() && api.isDone()).toBe(true);
    expect(tokens.log).toEqual(['set access-1', 'GET /things']);
    expect(tokens.saved()).toMatchObject({
      access_token: 'access-1',
      refresh_token: 'rotated-1',
      expires_at: '2025-01-01T13:00:00.000Z',
    });
  });

  it('uses a persisted access token until it is about to expire', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'still-good', refresh_token: 'rotated-1', expires_at: '2025-01-01T12:30:00Z' }),
    );
    nock(API, { reqheaders: { authorization: 'Bearer still-good' } })
      .get('/things')
      .reply(200, {});

    await client(tokens).request({ url: '/things' });

    expect(tokens.log).toEqual([]);
  });

  it('refreshes an expired access token with the persisted refresh token, not the configured one', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'expired', refresh_token: 'rotated-1', expires_at: '2025-01-01T12:01:00Z' }),
    );
    const refresh = tokenEndpoint('rotated-1', { access_token: 'access-2', refresh_token: 'rotated-2' });
    nock(API, { reqheaders: { authorization: 'Bearer access-2' } })
      .get('/things')
      .reply(200, {});

    await client(tokens).request({ url: '/things' });

    expect(refresh.isDone()).toBe(true);
    expect(tokens.saved()).toMatchObject({ access_token: 'access-2', refresh_token: 'rotated-2' });
  });

  it('restarts from the configured refresh token when the operator configured a new one (re-authorization)', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'old', refresh_token: 'rotated-old', expires_at: '2025-01-01T12:30:00Z' }),
    );
    const refresh = tokenEndpoint('reauthorized-refresh', { access_token: 'access-new', refresh_token: 'rotated-new' });
    nock(API, { reqheaders: { authorization: 'Bearer access-new' } })
      .get('/things')
      .reply(200, {});

    await client(tokens, { refreshToken: 'reauthorized-refresh' }).request({ url: '/things' });

    expect(refresh.isDone()).toBe(true);
    expect(tokens.saved()).toMatchObject({ refresh_token: 'rotated-new' });
  });

  it('refreshes once on a 401 and retries the request', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'revoked', refresh_token: 'rotated-1', expires_at: '2025-01-01T12:30:00Z' }),
    );
    nock(API, { reqheaders: { authorization: 'Bearer revoked' } })
      .get('/things')
      .reply(401, { error: 'invalid_token' });
    tokenEndpoint('rotated-1', { access_token: 'access-2', refresh_token: 'rotated-2' });
    nock(API, { reqheaders: { authorization: 'Bearer access-2' } })
      .get('/things')
      .reply(200, { ok: true });

    const response = await client(tokens).request({ url: '/things' });

    expect(response.data).toEqual({ ok: true });
    expect(tokens.saved()).toMatchObject({ access_token: 'access-2', refresh_token: 'rotated-2' });
  });

  it('gives up after one refresh when the API still answers 401', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'revoked', refresh_token: 'rotated-1', expires_at: '2025-01-01T12:30:00Z' }),
    );
    nock(API).get('/things').times(2).reply(401, {});
    tokenEndpoint('rotated-1', { access_token: 'access-2', refresh_token: 'rotated-2' });

    await expect(client(tokens).request({ url: '/things' })).rejects.toBeInstanceOf(VendorAuthError);
    expect(nock.isDone()).toBe(true);
  });

  it('shares one refresh between concurrent requests (a rotated refresh token is single-use)', async () => {
    const tokens = memoryTokens();
    tokenEndpoint('configured-refresh', { access_token: 'access-1', refresh_token: 'rotated-1' });
    nock(API, { reqheaders: { authorization: 'Bearer access-1' } })
      .get('/things')
      .times(3)
      .reply(200, {});

    const shared = client(tokens);
    await Promise.all([
      shared.request({ url: '/things' }),
      shared.request({ url: '/things' }),
      shared.request({ url: '/things' }),
    ]);

    expect(tokens.log).toEqual(['set access-1']);
  });

  it('adopts the pair another worker just persisted when its own refresh token was already spent', async () => {
    const tokens = memoryTokens(
      await seeded({ access_token: 'expired', refresh_token: 'rotated-1', expires_at: '2025-01-01T11:00:00Z' }),
    );
    const winner = {
      ...tokens.saved()!,
      access_token: 'access-by-other-worker',
      refresh_token: 'rotated-2',
      expires_at: '2025-01-01T13:00:00Z',
    };
    nock(TOKEN_HOST)
      .post('/oauth/token')
      .reply(400, () => {
        void tokens.context.tokens.set(winner);
        return { error: 'invalid_grant' };
      });
    nock(API, { reqheaders: { authorization: 'Bearer access-by-other-worker' } })
      .get('/things')
      .reply(200, {});

    await client(tokens).request({ url: '/things' });

    expect(nock.isDone()).toBe(true);
  });

  it('fails with a VendorAuthError naming the setting when the refresh token is rejected', async () => {
    const tokens = memoryTokens();
    nock(TOKEN_HOST).post('/oauth/token').reply(400, { error: 'invalid_grant', error_description: 'token expired' });

    const failure = client(tokens).request({ url: '/things' });

    await expect(failure).rejects.toBeInstanceOf(VendorAuthError);
    await expect(failure).rejects.toThrow(/invalid_grant: token expired.*VENDOR_REFRESH_TOKEN/);
    expect(tokens.saved()).toBeUndefined();
  });

  it('fails with a VendorAuthError when no refresh token is configured or persisted', async () => {
    await expect(client(memoryTokens(), { refreshToken: undefined }).request({ url: '/things' })).rejects.toThrow(
      /no refresh token; set VENDOR_REFRESH_TOKEN/,
    );
  });
});
