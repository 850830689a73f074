import { createHmac, timingSafeEqual } from 'node:crypto';

export function hmacSha256(secret: string, data: Buffer | string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(data).digest(encoding);
}

/** Constant-time string comparison; false for different lengths or a missing value. */
export function safeEqual(expected: string, received: string | undefined): boolean {
  if (received === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(received);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * True when `received` is the HMAC-SHA256 of `data` under any of `secrets` (several secrets allow an overlap
 * while a vendor secret is rotated: list the new and the previous one, comma-separated).
 */
export function verifyHmacSha256(
  secrets: string,
  data: Buffer | string,
  received: string | undefined,
  encoding: 'hex' | 'base64',
): boolean {
  if (!received) return false;
  // Hex is case-insensitive: senders that print it upper-case (PHP's strtoupper, .NET's ToString("X2")) sign correctly.
  const signature = encoding === 'hex' ? received.trim().toLowerCase() : received.trim();
  let match = false;
  for (const secret of secrets
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    // No early exit: every candidate is computed and compared.
    match = safeEqual(hmacSha256(secret, data, encoding), signature) || match;
  }
  return match;
}
