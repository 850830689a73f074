import type { ConnectorContext, Secrets } from '../define-connector.js';
import { contextClient, type VendorClient } from '../shared/vendor-http.js';

export type TwilioSecrets = Secrets<'account_sid' | 'auth_token' | 'from_number'>;

/** Reads the account the credentials belong to (`crmflow doctor`). */
export async function checkAccount(context: ConnectorContext<TwilioSecrets>): Promise<string> {
  const { client, accountPath, auth } = twilioClient(context);
  const { data } = await client.request<{ friendly_name?: string; status?: string }>({
    url: `${accountPath}.json`,
    auth,
    signal: context.signal,
  });
  return `account "${data.friendly_name ?? context.secrets.account_sid}" (${data.status ?? 'unknown status'})`;
}

/** A client for the Twilio REST API authenticated as the account (basic auth: Account SID and auth token). */
export function twilioClient(context: ConnectorContext<TwilioSecrets>): {
  client: VendorClient;
  accountPath: string;
  auth: { username: string; password: string };
} {
  const { account_sid: username, auth_token: tokens } = context.secrets;
  // While rotating, auth_token lists the new token first; any of Twilio's two tokens authenticates API requests.
  const password = tokens?.split(',')[0]?.trim();
  if (!username || !password)
    throw new Error(
      'twilio: the account_sid and auth_token secrets are required (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN)',
    );
  return {
    client: contextClient(context, { headers: { Accept: 'application/json' } }),
    accountPath: `/2010-04-01/Accounts/${encodeURIComponent(username)}`,
    auth: { username, password },
  };
}
