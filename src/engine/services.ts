import axios from 'axios';
import type { EmailTransport } from '../mail/mailer.js';
import { countOutbound, identityMerges } from '../observability/metrics.js';
import { assignLead } from '../store/assignments.js';
import { loadCustomerSummary } from '../store/customer-queries.js';
import { upsertCustomer } from '../store/customers.js';
import { normalizeEmail } from '../customers/normalize.js';
import { claimMessage, markMessageFailed, markMessageSent, skipMessage, type OutboundMessage } from '../store/messages.js';
import type { Pool } from '../store/pool.js';
import { upsertTimelineEntry } from '../store/timeline.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { VendorAuthError } from '../connectors/shared/vendor-http.js';
import { replyVerdict, type ChannelRules, type ReplyPolicy, type Verdict } from './reply-policy/gate.js';
import type { StepServices } from './steps/define-step.js';

export interface ServiceOptions {
  pool: Pool;
  config: LoadedConfig;
  email: EmailTransport;
  emailFrom: string;
  defaultRegion: string;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
  /** The public one-click unsubscribe URL for an email address (signed with CRMFLOW_SECRET_KEY). */
  unsubscribeUrl: (address: string) => string;
}

/** Binds the store and transports into the services steps receive. */
export function createStepServices(options: ServiceOptions): StepServices {
  const { pool, email } = options;

  /**
   * Sends one reply unless its policy says otherwise (skipped with the reason), recorded before it is sent: a claim
   * that is not granted (already sent, or uncertain after a crash) returns the recorded outcome instead.
   */
  async function deliver(
    record: OutboundMessage,
    address: string,
    policy: ReplyPolicy | undefined,
    rules: ChannelRules,
    send: (verdict: Exclude<Verdict, { skip: string }>) => Promise<{ providerId: string | null }>,
    retryable: (error: unknown) => boolean = () => true,
  ): Promise<{ status: string; messageId?: number; reason?: string; retryable?: boolean }> {
    const verdict = await replyVerdict(pool, { channel: record.channel, address, customerId: record.customerId, runId: record.runId, idempotencyKey: record.idempotencyKey }, policy, rules);
    if ('skip' in verdict) {
      const row = await skipMessage(pool, record, verdict.skip);
      return countOutbound(record.channel, { status: row.status, messageId: row.id, reason: row.statusReason ?? undefined });
    }
    const sent = verdict.send === 'template' ? { ...record, body: `template ${verdict.template.name} (${verdict.template.language})` } : record;
    const claim = await claimMessage(pool, sent);
    if (!claim.send) return countOutbound(record.channel, { status: claim.message.status, messageId: claim.message.id, reason: claim.message.statusReason ?? undefined }, true);
    let providerId: string | null;
    try {
      ({ providerId } = await send(verdict));
    } catch (error) {
      await markMessageFailed(pool, claim.id, (error as Error).message);
      return countOutbound(record.channel, { status: 'failed', messageId: claim.id, reason: (error as Error).message, retryable: retryable(error) });
    }
    // Sent. Should recording it fail, the message stays `sending` (a retry marks it uncertain), never `failed` (resent).
    await markMessageSent(pool, claim.id, providerId);
    return countOutbound(record.channel, { status: 'sent', messageId: claim.id });
  }

  return {
    defaultRegion: options.config.defaultRegion ?? options.defaultRegion,
    identityPolicy: options.config.identityPolicy,
    agents: options.config.agents,
    pools: options.config.pools,
    upsertCustomer: async (input) => {
      const result = await upsertCustomer(pool, { ...input, profile: input.profile });
      identityMerges.inc(result.mergedIds.length);
      return result;
    },
    loadCustomer: async (customerId) => {
      const customer = await loadCustomerSummary(pool, customerId);
      if (!customer) throw new Error(`customer ${customerId} vanished`);
      return customer;
    },
    upsertTimeline: (entry) => upsertTimelineEntry(pool, entry),
    assignLead: (request) => assignLead(pool, request),
    sendEmail: async (message) => {
      const address = normalizeEmail(message.to) ?? message.to;
      // Every auto-reply email can be stopped in one click (RFC 8058), from the mail client or the link in the text.
      const unsubscribe = options.unsubscribeUrl(address);
      const record = {
        idempotencyKey: message.idempotencyKey,
        customerId: message.customerId,
        runId: message.runId,
        channel: 'email',
        transport: email.name,
        recipient: message.to,
        subject: message.subject,
        body: `${message.text}\n\n--\nTo stop these emails: ${unsubscribe}`,
      };
      return deliver(record, address, message.policy, { acceptsTemplates: false }, async () =>
        email.send({
          from: options.emailFrom,
          to: message.to,
          subject: message.subject,
          text: record.body,
          messageId: `<${message.idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '.')}@crmflow>`,
          headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
        }),
      );
    },
    sendMessage: async (message) => {
      const provider = [...options.config.connectors.values()].find((connector) => connector.definition.channels?.[message.channel]);
      const channel = provider?.definition.channels?.[message.channel];
      const action = channel && provider?.definition.actions?.[channel.action];
      if (!provider || !channel || !action) return countOutbound(message.channel, { status: 'failed', reason: `no configured connector sends on ${message.channel}`, retryable: false });
      const recipient = [...message.preferred, ...message.identities].find((identity) => identity.kind === channel.identity)?.value;
      const record = { idempotencyKey: message.idempotencyKey, customerId: message.customerId, runId: message.runId, channel: message.channel, transport: provider.definition.id, subject: null, body: message.text };
      if (!recipient) {
        const row = await skipMessage(pool, { ...record, recipient: '' }, `the customer has no ${channel.identity} identity`);
        return countOutbound(message.channel, { status: row.status, messageId: row.id, reason: row.statusReason ?? undefined });
      }
      const context = options.connectorContext(provider.definition.id, AbortSignal.timeout(30_000));
      const input = channel.input(recipient, message.text, message.trigger);
      const refusal = channel.refuses?.(input, context.secrets);
      if (refusal) {
        const row = await skipMessage(pool, { ...record, recipient }, refusal);
        return countOutbound(message.channel, { status: row.status, messageId: row.id, reason: row.statusReason ?? undefined });
      }
      const rules = { replyWindow: channel.replyWindow, acceptsTemplates: channel.templateInput !== undefined };
      return deliver(
        { ...record, recipient },
        recipient,
        message.policy,
        rules,
        (verdict) => action.run(context, verdict.send === 'template' ? channel.templateInput!(recipient, verdict.template, message.trigger) : input, message.idempotencyKey),
        (error) => !(error instanceof VendorAuthError),
      );
    },
    channelOf: (event, payload) => (event ? options.config.connectors.get(event.connector)?.definition.channelOf?.({ type: event.type, payload }) : undefined),
    http: axios.create({ timeout: 30_000 }),
  };
}
