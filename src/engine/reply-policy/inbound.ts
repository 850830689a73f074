import type { ConnectorDefinition, ParsedEvent } from '../../connectors/define-connector.js';
import { CONSENT_CHANNELS, isConsentChannel, KEYWORD_CHANNELS, keywordConsent } from '../../customers/consent.js';
import { normalizeIdentity } from '../../customers/normalize.js';
import { setConsent } from '../../store/consents.js';
import type { Pool } from '../../store/pool.js';
import { noteInbound } from '../../store/reply-limits.js';

/**
 * What an inbound customer message means for replies, applied before any workflow runs on it: its time opens the
 * channel's messaging window for that address, and on SMS and WhatsApp an opt-out keyword (STOP...) revokes the
 * address's consent for the channel, an opt-in keyword (START...) grants it again. Safe to repeat: a redelivered or
 * replayed message changes nothing more.
 */
export async function applyInboundMessage(
  pool: Pool,
  connector: ConnectorDefinition,
  event: ParsedEvent,
  defaultRegion: string,
): Promise<void> {
  const inbound = connector.inboundMessage?.({ type: event.type, payload: event.payload });
  if (!inbound || !isConsentChannel(inbound.channel)) return;
  const identity = normalizeIdentity(
    { kind: CONSENT_CHANNELS[inbound.channel], value: inbound.address },
    { defaultRegion },
  );
  if (!identity) return;
  const at = new Date(event.occurredAt);
  await noteInbound(pool, inbound.channel, identity.value, at);
  const granted = KEYWORD_CHANNELS.has(inbound.channel) ? keywordConsent(inbound.text) : undefined;
  if (granted === undefined) return;
  await setConsent(pool, {
    channel: inbound.channel,
    address: identity.value,
    granted,
    source: inbound.text!.trim().toUpperCase(),
    actor: connector.id,
    eventRef: `${connector.id}:${event.externalId}`,
    at,
  });
}
