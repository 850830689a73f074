import { VendorAuthError, VendorOutcomeUnknownError } from '../connectors/shared/vendor-http.js';
import { countOutbound } from '../observability/metrics.js';
import { claimMessage, markMessageFailed, markMessageSent, markMessageUncertain, reclaimUncertainMessage, recordSkippedMessage } from '../store/messages.js';
import type { ServiceOptions } from './services.js';
import type { StepServices } from './steps/define-step.js';

export interface DeliveryResult {
  status: 'sent' | 'failed' | 'uncertain';
  messageId: number;
  reason?: string;
  retryable?: boolean;
}

/**
 * Outbound messages: email through the configured transport, texts through the connector that provides the channel.
 * Every message is recorded before it is sent (`claimMessage`); see `deliver` for how outcomes are recorded.
 */
export function createOutbound(options: ServiceOptions) {
  const { pool, email } = options;

  /**
   * Sends one claimed message and records the outcome. Sent stays sent even if recording it fails (the claim stays
   * `sending`, which a retry marks uncertain, never resent); a vendor that may have acted makes it `uncertain`.
   */
  async function deliver(channel: string, messageId: number, send: () => Promise<{ providerId: string | null }>): Promise<DeliveryResult> {
    let providerId: string | null;
    try {
      ({ providerId } = await send());
    } catch (error) {
      const reason = (error as Error).message;
      if (error instanceof VendorOutcomeUnknownError) {
        await markMessageUncertain(pool, messageId, `${reason}; not resent automatically: resend it once you know it did not arrive`);
        return countOutbound(channel, { status: 'uncertain' as const, messageId, reason });
      }
      await markMessageFailed(pool, messageId, reason);
      return countOutbound(channel, { status: 'failed' as const, messageId, reason, retryable: !(error instanceof VendorAuthError) });
    }
    await markMessageSent(pool, messageId, providerId);
    return countOutbound(channel, { status: 'sent' as const, messageId });
  }

  const sendEmailNow = (messageId: number, idempotencyKey: string, to: string, subject: string, text: string) =>
    deliver('email', messageId, () =>
      email.send({
        from: options.emailFrom,
        to,
        subject,
        text,
        // Derived from the idempotency key: a resend carries the Message-ID of the first try.
        messageId: `<${idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '.')}@crmflow>`,
      }),
    );

  /** The connector, channel and action that deliver `channel` (the first configured connector providing it). */
  function provider(channel: string, connectorId?: string) {
    const connector = connectorId
      ? options.config.connectors.get(connectorId)
      : [...options.config.connectors.values()].find((candidate) => candidate.definition.channels?.[channel]);
    const spec = connector?.definition.channels?.[channel];
    const action = spec && connector?.definition.actions?.[spec.action];
    return connector && spec && action ? { id: connector.definition.id, spec, action } : undefined;
  }

  const sendTextNow = (via: NonNullable<ReturnType<typeof provider>>, channel: string, messageId: number, idempotencyKey: string, recipient: string, text: string, trigger?: { type: string; payload: unknown }) =>
    deliver(channel, messageId, () => via.action.run(options.connectorContext(via.id, AbortSignal.timeout(30_000)), via.spec.input(recipient, text, trigger), idempotencyKey));

  const sendEmail: StepServices['sendEmail'] = async (message) => {
    const claim = await claimMessage(pool, {
      idempotencyKey: message.idempotencyKey,
      customerId: message.customerId,
      runId: message.runId,
      channel: 'email',
      transport: email.name,
      recipient: message.to,
      subject: message.subject,
      body: message.text,
    });
    if (!claim.send) return countOutbound('email', { status: claim.message.status, messageId: claim.message.id, reason: claim.message.statusReason ?? undefined }, true);
    return sendEmailNow(claim.id, message.idempotencyKey, message.to, message.subject, message.text);
  };

  const sendMessage: StepServices['sendMessage'] = async (message) => {
    const via = provider(message.channel);
    if (!via) return countOutbound(message.channel, { status: 'failed', reason: `no configured connector sends on ${message.channel}`, retryable: false });
    const recipient = [...message.preferred, ...message.identities].find((identity) => identity.kind === via.spec.identity)?.value;
    const record = { idempotencyKey: message.idempotencyKey, customerId: message.customerId, runId: message.runId, channel: message.channel, transport: via.id, subject: null, body: message.text };
    if (!recipient) {
      await recordSkippedMessage(pool, { ...record, recipient: '' }, `the customer has no ${via.spec.identity} identity`);
      return countOutbound(message.channel, { status: 'skipped', reason: `the customer has no ${via.spec.identity} identity` });
    }
    const claim = await claimMessage(pool, { ...record, recipient });
    if (!claim.send) return countOutbound(message.channel, { status: claim.message.status, messageId: claim.message.id, reason: claim.message.statusReason ?? undefined }, true);
    return sendTextNow(via, message.channel, claim.id, message.idempotencyKey, recipient, message.text, message.trigger);
  };

  /**
   * Sends an `uncertain` message again, as recorded, after a person checked that it did not arrive
   * (`POST /api/messages/:id/resend`). Anything else is left alone: a message is resent at most once per request.
   */
  async function resend(messageId: number): Promise<DeliveryResult | { status: 'not_uncertain'; messageId: number }> {
    const message = await reclaimUncertainMessage(pool, messageId);
    if (!message) return { status: 'not_uncertain', messageId };
    if (message.channel === 'email') return sendEmailNow(message.id, message.idempotencyKey, message.recipient, message.subject ?? '', message.body);
    const via = provider(message.channel, message.transport);
    if (!via) {
      await markMessageFailed(pool, message.id, `connector ${message.transport} no longer sends on ${message.channel}`);
      return { status: 'failed', messageId, reason: `connector ${message.transport} no longer sends on ${message.channel}`, retryable: false };
    }
    return sendTextNow(via, message.channel, message.id, message.idempotencyKey, message.recipient, message.body);
  }

  return { sendEmail, sendMessage, resend };
}
