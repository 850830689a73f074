import type { ConnectorDefinition } from './define-connector.js';
import form from './form/index.js';
import shopify from './shopify/index.js';

/** Every connector crmflow ships, by id. Adding a connector: one folder plus one line here. */
export const connectors: ReadonlyMap<string, ConnectorDefinition> = new Map(
  ([form, shopify] as ConnectorDefinition[]).map((connector) => [connector.id, connector]),
);
