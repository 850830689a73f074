import axios from 'axios';
import type { EmailTransport } from '../mail/mailer.js';
import { countOutbound, identityMerges } from '../observability/metrics.js';
import { assignLead } from '../store/assignments.js';
import { loadCustomerSummary } from '../store/customer-queries.js';
import { ErasedPersonError, upsertCustomer } from '../store/customers.js';
import { claimMessage, markMessageFailed, markMessageSent, recordSkippedMessage } from '../store/messages.js';
import type { Pool } from '../store/pool.js';
import { upsertTimelineEntry } from '../store/timeline.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { VendorAuthError } from '../connectors/shared/vendor-http.js';
import { StepError, type StepServices } from './steps/define-step.js';

export interface ServiceOptions {
  pool: Pool;
  config: LoadedConfig;
  email: EmailTransport;
  emailFrom: string;
  defaultRegion: string;
  connectorContext: (connectorId: string, signal: AbortSignal) => ConnectorContext;
}

/** Binds the store and transports into the services steps receive. */
export function createStepServices(options: ServiceOptions): StepServices {
  const { pool, email } = options;
  return {
    defaultRegion: options.config.defaultRegion ?? options.defaultRegion,
    identityPolicy: options.config.identityPolicy,
    agents: options.config.agents,
    pools: options.config.pools,
    upsertCustomer: async (input) => {
      try {
        const result = await upsertCustomer(pool, { ...input, profile: input.profile });
        identityMerges.inc(result.mergedIds.length);
        return result;
      } catch (error) {
        if (error instanceof ErasedPersonError) throw new StepError(error.message, false);
        throw error;
      }
    },
    loadCustomer: async (customerId) => {
      const customer = await loadCustomerSummary(pool, customerId);
      if (!customer) throw new Error(`customer ${customerId} vanished`);
      return customer;
    },
    upsertTimeline: (entry) => upsertTimelineEntry(pool, entry),
    assignLead: (request) => assignLead(pool, request),
    sendEmail: async (message) => {
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
      let providerId: string | null;
      try {
        ({ providerId } = await email.send({
          from: options.emailFrom,
          to: message.to,
          subject: message.subject,
          text: message.text,
          messageId: `<${message.idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '.')}@crmflow>`,
        }));
      } catch (error) {
        await markMessageFailed(pool, claim.id, (error as Error).message);
        return countOutbound('email', { status: 'failed', messageId: claim.id, reason: (error as Error).message });
      }
      // Sent. Should recording it fail, the message stays `sending` (a retry marks it uncertain), never `failed` (resent).
      await markMessageSent(pool, claim.id, providerId);
      return countOutbound('email', { status: 'sent', messageId: claim.id });
    },
    sendMessage: async (message) => {
      const provider = [...options.config.connectors.values()].find((connector) => connector.definition.channels?.[message.channel]);
      const channel = provider?.definition.channels?.[message.channel];
      const action = channel && provider?.definition.actions?.[channel.action];
      if (!provider || !channel || !action) return countOutbound(message.channel, { status: 'failed', reason: `no configured connector sends on ${message.channel}`, retryable: false });
      const recipient = [...message.preferred, ...message.identities].find((identity) => identity.kind === channel.identity)?.value;
      const record = { idempotencyKey: message.idempotencyKey, customerId: message.customerId, runId: message.runId, channel: message.channel, transport: provider.definition.id, subject: null, body: message.text };
      if (!recipient) {
        await recordSkippedMessage(pool, { ...record, recipient: '' }, `the customer has no ${channel.identity} identity`);
        return countOutbound(message.channel, { status: 'skipped', reason: `the customer has no ${channel.identity} identity` });
      }
      const claim = await claimMessage(pool, { ...record, recipient });
      if (!claim.send) return countOutbound(message.channel, { status: claim.message.status, messageId: claim.message.id, reason: claim.message.statusReason ?? undefined }, true);
      let providerId: string | null;
      try {
        const context = options.connectorContext(provider.definition.id, AbortSignal.timeout(30_000));
        ({ providerId } = await action.run(context, channel.input(recipient, message.text, message.trigger), message.idempotencyKey));
      } catch (error) {
        await markMessageFailed(pool, claim.id, (error as Error).message);
        return countOutbound(message.channel, { status: 'failed', messageId: claim.id, reason: (error as Error).message, retryable: !(error instanceof VendorAuthError) });
      }
      await markMessageSent(pool, claim.id, providerId);
      return countOutbound(message.channel, { status: 'sent', messageId: claim.id });
    },
    channelOf: (event, payload) => (event ? options.config.connectors.get(event.connector)?.definition.channelOf?.({ type: event.type, payload }) : undefined),
    http: axios.create({ timeout: 30_000 }),
  };
}
