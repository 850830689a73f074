import type { ConnectorDefinition } from './define-connector.js';
import email from './email/index.js';
import form from './form/index.js';
import mailgun from './mailgun/index.js';
import meta from './meta/index.js';
import quickbooks from './quickbooks/index.js';
import shopify from './shopify/index.js';
import twilio from './twilio/index.js';
import woocommerce from './woocommerce/index.js';
import xero from './xero/index.js';

/** Every connector crmflow ships, by id. Adding a connector: one folder plus one line here. */
export const connectors: ReadonlyMap<string, ConnectorDefinition> = new Map(
  ([email, form, mailgun, meta, quickbooks, shopify, twilio, woocommerce, xero] as ConnectorDefinition[]).map(
    (connector) => [connector.id, connector],
  ),
);
