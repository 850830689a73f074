import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectors } from '../src/connectors/registry.js';
import { writeConfig } from './helpers/crmflow.js';

const BIN = fileURLToPath(new URL('../bin/crmflow.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

describe('crmflow map', () => {
  it("evaluates a connector's default mapping on its sample", () => {
    const { status, stdout } = run('map', '--connector', 'shopify', '--event', 'order.created');
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      email: ['jon@example.com', 'john@example.com'],
      timeline: { external_id: 'order/820982911946154508' },
    });
  });

  it('evaluates an admin expression on an input file', () => {
    const input = writeConfig('').replace(/workflows\.yaml$/, 'input.json');
    writeFileSync(input, JSON.stringify({ contact: { mail: 'X@Y.io' } }));
    const { status, stdout } = run('map', '--expr', '{ "email": $lowercase(contact.mail) }', '--input', input);
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ email: 'x@y.io' });
  });

  it("names the connector's events when the event is unknown, and the connectors when the connector is", () => {
    const event = run('map', '--connector', 'shopify', '--event', 'order.teleported');
    expect(event.status).toBe(1);
    const events = Object.keys(connectors.get('shopify')!.events);
    expect(events).toContain('order.created');
    expect(event.stderr).toBe(
      `crmflow: connector shopify has no event "order.teleported"; shopify events: ${events.join(', ')}\n`,
    );
    const connector = run('map', '--connector', 'shopfy', '--event', 'order.created');
    expect(connector.stderr).toMatch(/^crmflow: unknown connector "shopfy"; known: .*shopify/);
  });

  it('reports a syntax error and exits non-zero', () => {
    const { status, stderr } = run('map', '--expr', '{ "a": ', '--input', '/dev/null');
    expect(status).toBe(1);
    expect(stderr).toMatch(/crmflow: /);
  });
});
