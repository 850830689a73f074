import { isRetryable } from '../connectors/shared/retry-signal.js';
import { VendorAuthError, VendorOutcomeUnknownError } from '../connectors/shared/vendor-http.js';
import { normalizeEmail } from '../customers/normalize.js';
import { countOutbound } from '../observability/metrics.js';
import {
  claimMessage,
  OUTBOX,
  markMessageFailed,
  markMessageSent,
  markMessageUncertain,
  reclaimUncertainMessage,
  skipMessage,
  type OutboundMessage,
} from '../store/messages.js';
import { replyVerdict, type ChannelRules, type ReplyPolicy, type Verdict } from './reply-policy/gate.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import type { EmailTransport } from '../mail/mailer.js';
import type { Pool } from '../store/pool.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { Logger } from 'pino';
import type { StepServices } from './steps/define-step.js';

export interface DeliveryResult {
  status: 'sent' | 'failed' | 'uncertain';
  messageId: number;
  reason?: string;
  retryable?: boolean;
}

type Send = () => Promise<{ providerId: string | null }>;

/** What the sender needs (a subset of the step services' `ServiceOptions`, declared here so neither imports the other). */
export interface OutboundOptions {
  pool: Pool;
  config: LoadedConfig;
  email: EmailTransport;
  emailFrom: string;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** The public one-click unsubscribe URL for an email address. */
  unsubscribeUrl: (address: string) => string;
  /** Where demo-mode channels say what they kept in the local outbox. */
  logger: Logger;
}

/**
 * Outbound messages: email through the configured transport, texts through the connector that provides the channel.
 * Each reply passes its policy (consent, vendor window, limits) at send time, then is recorded before it is sent.
 */
export function createOutbound(options: OutboundOptions) {
  const { pool, email } = options;

  /**
   * Sends one claimed message and records the outcome. Sent stays sent even if recording it fails (the claim stays
   * `sending`, which a retry marks uncertain, never resent); a vendor that may have acted makes it `uncertain`.
   */
  async function deliver(channel: string, messageId: number, send: Send): Promise<DeliveryResult> {
    let providerId: string | null;
    try {
      ({ providerId } = await send());
    } catch (error) {
      const reason = (error as Error).message;
      if (error instanceof VendorOutcomeUnknownError) {
        await markMessageUncertain(
          pool,
          messageId,
          `${reason}; not resent automatically: resend it once you know it did not arrive`,
        );
        return countOutbound(channel, { status: 'uncertain' as const, messageId, reason });
      }
      await markMessageFailed(pool, messageId, reason);
      // Bad credentials wait for an admin and a refusal (VendorRefusedError) would come again: neither is retried.
      const retryable = !(error instanceof VendorAuthError) && isRetryable(error);
      return countOutbound(channel, { status: 'failed' as const, messageId, reason, retryable });
    }
    await markMessageSent(pool, messageId, providerId);
    return countOutbound(channel, { status: 'sent' as const, messageId });
  }

  /**
   * A reply unless its policy says otherwise (skipped with the reason), recorded before it is sent: a claim that is
   * not granted (already sent, or uncertain after a crash) returns the recorded outcome instead.
   */
  async function reply(
    record: OutboundMessage,
    address: string,
    policy: ReplyPolicy | undefined,
    rules: ChannelRules,
    send: (verdict: Exclude<Verdict, { skip: string }>) => ReturnType<Send>,
  ) {
    const verdict = await replyVerdict(
      pool,
      {
        channel: record.channel,
        address,
        customerId: record.customerId,
        runId: record.runId,
        idempotencyKey: record.idempotencyKey,
      },
      policy,
      rules,
    );
    if ('skip' in verdict) return skipped(record, verdict.skip);
    const sent =
      verdict.send === 'template'
        ? { ...record, body: `template ${verdict.template.name} (${verdict.template.language})` }
        : record;
    const claim = await claimMessage(pool, sent);
    if (!claim.send)
      return countOutbound(
        record.channel,
        { status: claim.message.status, messageId: claim.message.id, reason: claim.message.statusReason ?? undefined },
        true,
      );
    return deliver(record.channel, claim.id, () => send(verdict));
  }

  async function skipped(record: OutboundMessage, reason: string) {
    const row = await skipMessage(pool, record, reason);
    return countOutbound(record.channel, {
      status: row.status,
      messageId: row.id,
      reason: row.statusReason ?? undefined,
    });
  }

  /** An email as sent: one-click unsubscribe (RFC 8058) in the headers, the Message-ID recorded with the message. */
  const emailSend = (messageId: string, to: string, subject: string, text: string): Send => {
    const unsubscribe = options.unsubscribeUrl(normalizeEmail(to) ?? to);
    return () =>
      email.send({
        from: options.emailFrom,
        to,
        subject,
        text,
        messageId,
        headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
      });
  };

  /**
   * The connector, channel and action that deliver `channel` (the given connector, or the first providing it), and how:
   * a connector whose secrets are demo values would only be refused by its vendor, so its messages go to the local
   * outbox instead, as email does without SMTP_URL: recorded as sent with transport `outbox`, logged, not delivered.
   */
  function provider(channel: string, connectorId?: string) {
    const connector = connectorId
      ? options.config.connectors.get(connectorId)
      : [...options.config.connectors.values()].find((candidate) => candidate.definition.channels?.[channel]);
    const spec = connector?.definition.channels?.[channel];
    const action = spec && connector?.definition.actions?.[spec.action];
    if (!connector || !spec || !action) return undefined;
    const { id } = connector.definition;
    if (connector.demoSecrets.length === 0) return { id, transport: id, spec, send: action.run };
    const keep: typeof action.run = async (_context, _input, idempotencyKey) => {
      options.logger.info(
        { channel, connector: id, key: idempotencyKey },
        `${channel} message kept in the local outbox (demo mode: set ${connector.demoSecrets.join(', ')} to deliver)`,
      );
      return { providerId: null };
    };
    return { id, transport: OUTBOX, spec, send: keep };
  }

  const sendEmail: StepServices['sendEmail'] = async (message) => {
    const address = normalizeEmail(message.to) ?? message.to;
    const record = {
      idempotencyKey: message.idempotencyKey,
      customerId: message.customerId,
      runId: message.runId,
      agentId: message.agentId ?? null,
      emailMessageId: emailMessageId(message.idempotencyKey),
      channel: 'email',
      transport: email.name,
      recipient: message.to,
      subject: message.subject,
      // The unsubscribe link also in the text, for mail clients that do not show the header.
      body: `${message.text}\n\n--\nTo stop these emails: ${options.unsubscribeUrl(address)}`,
    };
    return reply(
      record,
      address,
      message.policy,
      { acceptsTemplates: false },
      emailSend(record.emailMessageId, message.to, message.subject, record.body),
    );
  };

  const sendMessage: StepServices['sendMessage'] = async (message) => {
    const via = provider(message.channel);
    if (!via)
      return countOutbound(message.channel, {
        status: 'failed',
        reason: `no configured connector sends on ${message.channel}`,
        retryable: false,
      });
    const recipient = [...message.preferred, ...message.identities].find(
      (identity) => identity.kind === via.spec.identity,
    )?.value;
    const record = {
      idempotencyKey: message.idempotencyKey,
      customerId: message.customerId,
      runId: message.runId,
      agentId: message.agentId ?? null,
      channel: message.channel,
      transport: via.transport,
      subject: null,
      body: message.text,
    };
    if (!recipient) return skipped({ ...record, recipient: '' }, `the customer has no ${via.spec.identity} identity`);
    const context = options.connectorContext(via.id, AbortSignal.timeout(30_000));
    const input = via.spec.input(recipient, message.text, message.trigger);
    const refusal = via.spec.refuses?.(input, context.secrets);
    if (refusal) return skipped({ ...record, recipient }, refusal);
    const rules = { replyWindow: via.spec.replyWindow, acceptsTemplates: via.spec.templateInput !== undefined };
    return reply({ ...record, recipient }, recipient, message.policy, rules, (verdict) =>
      via.send(
        context,
        verdict.send === 'template' ? via.spec.templateInput!(recipient, verdict.template, message.trigger) : input,
        message.idempotencyKey,
      ),
    );
  };

  /**
   * Sends an `uncertain` message again, as recorded, after a person checked that it did not arrive
   * (`POST /api/messages/:id/resend`). Anything else is left alone: a message is resent at most once per request.
   */
  async function resend(messageId: number): Promise<DeliveryResult | { status: 'not_uncertain'; messageId: number }> {
    const message = await reclaimUncertainMessage(pool, messageId);
    if (!message) return { status: 'not_uncertain', messageId };
    if (message.channel === 'email') {
      const messageId = message.emailMessageId ?? emailMessageId(message.idempotencyKey);
      return deliver('email', message.id, emailSend(messageId, message.recipient, message.subject ?? '', message.body));
    }
    const via = provider(message.channel, message.transport === OUTBOX ? undefined : message.transport);
    if (!via) {
      const reason = `connector ${message.transport} no longer sends on ${message.channel}`;
      await markMessageFailed(pool, message.id, reason);
      return { status: 'failed', messageId, reason, retryable: false };
    }
    const context = options.connectorContext(via.id, AbortSignal.timeout(30_000));
    return deliver(message.channel, message.id, () =>
      via.send(context, via.spec.input(message.recipient, message.body, undefined), message.idempotencyKey),
    );
  }

  return { sendEmail, sendMessage, resend };
}

/** The Message-ID of an outbound email, derived from its idempotency key: a resend carries the same one. */
export function emailMessageId(idempotencyKey: string): string {
  return `<${idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '.')}@crmflow>`;
}
