import { describe, expect, it } from 'vitest';
import { normalizeEmail, normalizeIdentities, normalizePhone } from '../src/customers/normalize.js';

describe('identity normalization', () => {
  it('trims and lower-cases emails and rejects what is not an address', () => {
    expect(normalizeEmail('  Maria.Garcia@Example.COM ')).toBe('maria.garcia@example.com');
    expect(normalizeEmail('not an email')).toBeUndefined();
    expect(normalizeEmail('a@b')).toBeUndefined();
  });

  it('writes phones as E.164 using the default region only when no country code is given', () => {
    expect(normalizePhone('(415) 555-0142', 'US')).toBe('+14155550142');
    expect(normalizePhone('+44 20 7946 0958', 'US')).toBe('+442079460958');
    expect(normalizePhone('020 7946 0958', 'GB')).toBe('+442079460958');
    expect(normalizePhone('555-SHIP', 'US')).toBeUndefined();
    expect(normalizePhone('000', 'US')).toBeUndefined();
  });

  it('de-duplicates after normalizing and drops unusable values', () => {
    const identities = normalizeIdentities(
      [
        { kind: 'email', value: 'A@x.io' },
        { kind: 'email', value: 'a@x.io ' },
        { kind: 'phone', value: 'n/a' },
        { kind: 'shopify_customer', value: ' 42 ' },
        { kind: 'form_id', value: '' },
      ],
      { defaultRegion: 'US' },
    );
    expect(identities).toEqual([
      { kind: 'email', value: 'a@x.io' },
      { kind: 'shopify_customer', value: '42' },
    ]);
  });

  it('is idempotent', () => {
    const once = normalizeIdentities([{ kind: 'phone', value: '415 555 0142' }, { kind: 'email', value: ' X@Y.Z ' }], { defaultRegion: 'US' });
    expect(normalizeIdentities(once, { defaultRegion: 'US' })).toEqual(once);
  });
});
