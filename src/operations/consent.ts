import { verifyUnsubscribeToken } from '../customers/consent.js';
import { consentOf, setConsent } from '../store/consents.js';
import type { OperationContext } from './context.js';

/** The email address a signed unsubscribe token names; undefined when the token is not valid (or no key is set). */
export function unsubscribeAddress(secretKey: string | undefined, token: string): string | undefined {
  return secretKey ? verifyUnsubscribeToken(secretKey, token) : undefined;
}

/**
 * The recipient's one-click unsubscribe: revokes the email consent of the address the token names (once; again is a
 * no-op). The signed token is the credential, so there is no actor and no audit entry: consent history records it.
 * Returns the address, or undefined for a token that is not valid.
 */
export async function unsubscribe(
  ctx: Pick<OperationContext, 'pool'>,
  input: { secretKey: string | undefined; token: string },
): Promise<string | undefined> {
  const email = unsubscribeAddress(input.secretKey, input.token);
  if (!email) return undefined;
  const current = await consentOf(ctx.pool, 'email', email);
  if (current?.granted !== false)
    await setConsent(ctx.pool, {
      channel: 'email',
      address: email,
      granted: false,
      source: 'unsubscribe link',
      actor: 'recipient',
      at: new Date(),
    });
  return email;
}
