import { createHmac } from 'node:crypto';
import { safeEqual } from '../connectors/shared/hmac.js';

/**
 * The channels a customer can consent to, each with the identity kind that addresses them. Consent is kept per
 * channel and normalized address (an email, an E.164 phone, a page-scoped id), so it follows the address through
 * merges and unmerges.
 */
export const CONSENT_CHANNELS = {
  email: 'email',
  sms: 'phone',
  whatsapp: 'phone',
  messenger: 'messenger_psid',
  instagram: 'instagram_igsid',
} as const;

export type ConsentChannel = keyof typeof CONSENT_CHANNELS;

export function isConsentChannel(value: unknown): value is ConsentChannel {
  return typeof value === 'string' && Object.hasOwn(CONSENT_CHANNELS, value);
}

/** Carrier and Twilio standard opt-out and opt-in keywords: the whole message, any case, surrounding space ignored. */
const OPT_OUT_KEYWORDS = new Set(['STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT']);
const OPT_IN_KEYWORDS = new Set(['START', 'UNSTOP', 'YES']);

/** Channels where such keywords are the customer's way to opt out or back in. */
export const KEYWORD_CHANNELS: ReadonlySet<string> = new Set(['sms', 'whatsapp']);

/** What an inbound text says about consent: `false` opts out, `true` opts back in, undefined says nothing. */
export function keywordConsent(text: string | null | undefined): boolean | undefined {
  const keyword = (text ?? '').trim().toUpperCase();
  if (OPT_OUT_KEYWORDS.has(keyword)) return false;
  if (OPT_IN_KEYWORDS.has(keyword)) return true;
  return undefined;
}

const TOKEN_PURPOSE = 'crmflow-unsubscribe-v1';

/**
 * The token of an email unsubscribe link: the address and an HMAC-SHA256 over it keyed with CRMFLOW_SECRET_KEY.
 * Only crmflow can mint one, and it names one address: it revokes that address's email consent and nothing else.
 */
export function unsubscribeToken(secretKey: string, address: string): string {
  const encoded = Buffer.from(address, 'utf8').toString('base64url');
  return `${encoded}.${createHmac('sha256', secretKey).update(`${TOKEN_PURPOSE}:${encoded}`).digest('base64url')}`;
}

/** The address a token was minted for; undefined for a forged, altered or malformed token. */
export function verifyUnsubscribeToken(secretKey: string, token: string): string | undefined {
  const [encoded, signature, extra] = token.split('.');
  if (!encoded || !signature || extra !== undefined) return undefined;
  const expected = unsubscribeToken(secretKey, Buffer.from(encoded, 'base64url').toString('utf8'));
  return safeEqual(expected, token) ? Buffer.from(encoded, 'base64url').toString('utf8') : undefined;
}
