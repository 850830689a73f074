import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigText } from '../src/workflows/load.js';

function issues(text: string): string[] {
  try {
    loadConfigText(text, 'workflows.yaml', { env: {} });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
}

describe('segments: and traits: in workflows.yaml', () => {
  it('compiles segments and traits, and marks conditions that read the clock', () => {
    const config = loadConfigText(
      `traits:
  birthday_month: "$customer.attributes.birthday ? $number($substring($customer.attributes.birthday, -5, 2)) : null"
  tier: { value: "$customer.traits.lifetime_value >= 1000 ? 'gold' : 'standard'", description: Spend tier }
segments:
  - { id: vip, when: "$customer.traits.lifetime_value >= 1000", on_backfill: emit }
  - { id: lapsing, name: Lapsing, when: "$daysSince($customer.traits.last_order_at) > 60" }
workflows: []
`,
      'workflows.yaml',
      { env: {} },
    );
    expect(config.traits.map((trait) => [trait.name, trait.description ?? null])).toEqual([
      ['birthday_month', null],
      ['tier', 'Spend tier'],
    ]);
    expect(
      config.segments.map((segment) => ({
        id: segment.id,
        name: segment.name,
        timeBased: segment.timeBased,
        emit: segment.emitOnBackfill,
      })),
    ).toEqual([
      { id: 'vip', name: 'vip', timeBased: false, emit: true },
      { id: 'lapsing', name: 'Lapsing', timeBased: true, emit: false },
    ]);
  });

  it('reports each problem at its line and column', () => {
    expect(
      issues(`traits:
  orders_count: "1"
  bad: "$customer.("
segments:
  - { id: vip, when: "$customer.traits.lifetime_value >= 1000" }
  - { id: vip, when: "true" }
  - { id: broken, when: "(" }
  - { id: typo, wen: "true" }
  - { id: loud, when: "true", on_backfill: shout }
workflows: []
`),
    ).toEqual([
      'workflows.yaml:8:5 missing field `when`',
      'workflows.yaml:8:17 field `wen` not recognised',
      'workflows.yaml:9:44 must be equal to one of the allowed values: emit, silent',
    ]);
    expect(
      issues(`traits:
  orders_count: "1"
  bad: "$customer.("
segments:
  - { id: vip, when: "$customer.traits.lifetime_value >= 1000" }
  - { id: vip, when: "true" }
  - { id: broken, when: "(" }
workflows: []
`),
    ).toEqual([
      'workflows.yaml:2:3 trait "orders_count" is built in; choose another name',
      expect.stringMatching(/^workflows\.yaml:3:8 JSONata syntax error/),
      'workflows.yaml:6:11 duplicate segment id "vip"',
      expect.stringMatching(/^workflows\.yaml:7:25 JSONata syntax error/),
    ]);
  });
});
