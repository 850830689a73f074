import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envExampleText, envReferenceMarkdown, envVarsFor } from '../src/config/env.js';
import { defineConnector } from '../src/connectors/define-connector.js';
import { connectors } from '../src/connectors/registry.js';
import { openApiDocument, webhookHeaderParameters, webhookSignatureTable } from '../src/http/openapi.js';

/**
 * A connector is one declaration: what it needs from the environment and how its webhooks are signed are written in
 * its folder only. Here a new `crm`-family connector, declared as a vendor folder would, joins the registry's list: the
 * env table, `.env.example` and the OpenAPI webhook section all pick it up with no other edit.
 */
const hubspot = defineConnector({
  id: 'hubspot',
  family: 'crm',
  summary: 'HubSpot contacts and deals via signed webhooks.',
  secrets: {
    client_secret: {
      description: "The app's client secret; signs webhooks.",
      env: {
        name: 'HUBSPOT_CLIENT_SECRET',
        demo: 'demo-hubspot-secret',
        description: 'HubSpot app client secret (`X-HubSpot-Signature-v3`).',
      },
    },
    portal_id: {
      description: 'The HubSpot account id.',
      optional: true,
      env: { name: 'HUBSPOT_PORTAL_ID', secret: false, description: 'HubSpot account (portal) id.' },
    },
  },
  webhook: {
    signature: {
      name: 'X-HubSpot-Signature-v3',
      description: 'base64 HMAC-SHA256 of method, URL, body and timestamp.',
    },
    headers: [
      {
        name: 'X-HubSpot-Request-Timestamp',
        description: 'milliseconds since the epoch; older than 5 minutes is refused.',
      },
    ],
    verify: () => true,
    parse: () => [],
  },
  events: {},
  api: { defaultUrl: 'https://api.hubapi.com', env: 'HUBSPOT_API_URL', envDescription: 'HubSpot API base URL.' },
});

describe('one declaration per connector', () => {
  const withHubspot = [...connectors.values(), hubspot];

  it('the env table and .env.example list a new connector’s variables, with demo values and defaults, from its declaration', () => {
    const vars = envVarsFor(withHubspot);
    expect(vars.filter((spec) => spec.name.startsWith('HUBSPOT_'))).toEqual([
      {
        name: 'HUBSPOT_CLIENT_SECRET',
        description: 'HubSpot app client secret (`X-HubSpot-Signature-v3`).',
        secret: true,
        demo: 'demo-hubspot-secret',
      },
      { name: 'HUBSPOT_PORTAL_ID', description: 'HubSpot account (portal) id.' },
      { name: 'HUBSPOT_API_URL', description: 'HubSpot API base URL.', default: 'https://api.hubapi.com' },
    ]);
    expect(envReferenceMarkdown(vars)).toContain(
      '| `HUBSPOT_CLIENT_SECRET` | secret; demo: `demo-hubspot-secret` | HubSpot app client secret (`X-HubSpot-Signature-v3`). |',
    );
    expect(envExampleText(vars)).toContain('HUBSPOT_CLIENT_SECRET=demo-hubspot-secret\n');
    expect(envExampleText(vars)).toContain('# HUBSPOT_PORTAL_ID=\n');
    expect(envExampleText(vars)).toContain('HUBSPOT_API_URL=https://api.hubapi.com\n');
  });

  it('the OpenAPI webhook section describes a new connector’s signature header and delivery headers', () => {
    expect(webhookSignatureTable(withHubspot)).toContain(
      '| `hubspot` | `X-HubSpot-Signature-v3`: base64 HMAC-SHA256 of method, URL, body and timestamp. |',
    );
    expect(webhookHeaderParameters(withHubspot).map((parameter) => parameter.name)).toEqual(
      expect.arrayContaining(['X-HubSpot-Signature-v3', 'X-HubSpot-Request-Timestamp']),
    );
  });

  it('what ships is generated from the registry: .env.example, the README table and the OpenAPI webhook section', () => {
    expect(readFileSync(new URL('../.env.example', import.meta.url), 'utf8')).toBe(
      envExampleText(envVarsFor(connectors.values())),
    );
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(/<!-- env:start -->\n([\s\S]*?)\n<!-- env:end -->/.exec(readme)?.[1]).toBe(
      envReferenceMarkdown(envVarsFor(connectors.values())),
    );
    const receive = openApiDocument.paths['/webhooks/{connector}']!.post!;
    expect(receive.description).toContain(webhookSignatureTable(connectors.values()));
    expect(receive.parameters).toEqual(expect.arrayContaining(webhookHeaderParameters(connectors.values())));
    for (const [id, connector] of connectors) {
      if (connector.webhook?.verify)
        expect(webhookSignatureTable(connectors.values()), id).toContain(
          `| \`${id}\` | \`${connector.webhook.signature!.name}\``,
        );
    }
  });

  it('the family is open, one lower-case word; a verified webhook must name its signature header', () => {
    expect(hubspot.family).toBe('crm');
    expect(() => defineConnector({ ...hubspot, family: 'CRM systems' })).toThrow('family must be one lower-case word');
    expect(() => defineConnector({ ...hubspot, webhook: { verify: () => true, parse: () => [] } })).toThrow(
      'declares its signature header',
    );
  });
});
