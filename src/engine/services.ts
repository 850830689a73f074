import axios from 'axios';
import type { EmailTransport } from '../mail/mailer.js';
import { identityMerges } from '../observability/metrics.js';
import { assignLead } from '../store/assignments.js';
import { loadCustomerSummary } from '../store/customer-queries.js';
import { upsertCustomer } from '../store/customers.js';
import type { Pool } from '../store/pool.js';
import { upsertTimelineEntry } from '../store/timeline.js';
import type { LoadedConfig } from '../workflows/load.js';
import type { ConnectorContext } from '../connectors/define-connector.js';
import { createOutbound } from './outbound.js';
import type { StepServices } from './steps/define-step.js';

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
  const { pool } = options;
  const outbound = createOutbound(options);
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
    sendEmail: outbound.sendEmail,
    sendMessage: outbound.sendMessage,
    channelOf: (event, payload) => (event ? options.config.connectors.get(event.connector)?.definition.channelOf?.({ type: event.type, payload }) : undefined),
    http: axios.create({ timeout: 30_000 }),
  };
}
