import { describe, expect, it } from 'vitest';
import { compileExpression } from '../src/workflows/expression.js';
import { customerReads } from '../src/workflows/customer-reads.js';

const reads = (source: string) => customerReads(compileExpression(source).ast);

describe('customerReads: what of the customer a segment or trait expression can read', () => {
  it('names the fields and traits of plain $customer paths', () => {
    expect(
      reads(
        '$customer.traits.orders_count >= 2 and $daysSince($customer.traits.last_order_at) > 1.5 * $customer.traits.average_days_between_orders',
      ),
    ).toEqual(['traits.average_days_between_orders', 'traits.last_order_at', 'traits.orders_count']);
    expect(reads('$count($customer.traits.channels) >= 2')).toEqual(['traits.channels']);
    expect(reads('$customer.owner_agent_id = "alice" and $customer.attributes.plan = "pro"')).toEqual([
      'attributes',
      'owner_agent_id',
    ]);
    expect(reads('$now() > "2020"')).toEqual([]);
  });

  it('takes anything it does not understand as reading the whole customer', () => {
    for (const source of [
      '$customer',
      'traits.vip',
      '$.traits.vip',
      '$$.email',
      '$lookup($customer, "email")',
      '$customer.*',
      '$customer.traits[orders_count > 1]',
      '$customer.**.email',
      '($c := $customer; $c.email)',
      '$customer[lifecycle_stage = "lead"]',
      '$customer.identities.(value)',
    ])
      expect(reads(source), source).toBeNull();
  });

  it('reads a whole field when it is filtered', () => {
    expect(reads('$customer.identities[kind = "email"]')).toBeNull(); // `kind` is relative: counted as everything
    expect(reads('$count($customer.identities) > 1')).toEqual(['identities']);
  });
});
