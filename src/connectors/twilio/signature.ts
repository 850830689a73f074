import { createHmac } from 'node:crypto';
import type { WebhookRequest } from '../define-connector.js';
import { safeEqual } from '../shared/hmac.js';

/**
 * The string Twilio signs: the URL it requested followed by every POST parameter as name + value, names sorted, and
 * for a repeated parameter one name + value per distinct value, values sorted (as Twilio's own helpers do).
 */
export function signedString(url: string, params: URLSearchParams): string {
  let signed = url;
  for (const name of [...new Set(params.keys())].sort()) {
    for (const value of [...new Set(params.getAll(name))].sort()) signed += name + value;
  }
  return signed;
}

export function twilioSignature(authToken: string, url: string, params: URLSearchParams): string {
  return createHmac('sha1', authToken).update(signedString(url, params), 'utf8').digest('base64');
}

/**
 * The URL as configured in Twilio may or may not spell the default port, and a proxy may add or drop it: like Twilio's
 * helpers, accept the URL as is, without its port, and with the scheme's default port.
 */
export function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#]*?)(:\d+)?([/?#].*)?$/i.exec(url);
  if (!match) return [url];
  const [, scheme, host, , rest = ''] = match;
  const defaultPort = scheme!.toLowerCase() === 'https' ? ':443' : ':80';
  return [...new Set([url, `${scheme}://${host}${rest}`, `${scheme}://${host}${defaultPort}${rest}`])];
}

/**
 * Checks `X-Twilio-Signature`: base64 HMAC-SHA1 under the account's auth token of the *public* URL Twilio called plus
 * the sorted form parameters. crmflow sits behind a proxy, so the URL is `request.publicUrl` (rebuilt from the
 * configured public base URL), never the internal one. `authTokens` may list the current and the previous token,
 * comma-separated, while the token is rotated.
 */
export function verifyTwilioSignature(request: WebhookRequest, authTokens: string): boolean {
  const received = request.headers['x-twilio-signature'];
  if (!received) return false;
  const params = new URLSearchParams(request.rawBody.toString('utf8'));
  let match = false;
  for (const token of authTokens
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)) {
    for (const url of urlVariants(request.publicUrl)) {
      // No early exit: every candidate is computed and compared.
      match = safeEqual(twilioSignature(token, url, params), received.trim()) || match;
    }
  }
  return match;
}
