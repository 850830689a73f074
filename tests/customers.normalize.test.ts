import { describe, expect, it } from 'vitest';
import { normalizeOptionsFor } from '../src/customers/identity-policy.js';
import { normalizeEmail, normalizeIdentities, normalizePhone } from '../src/customers/normalize.js';
import { loadConfigText } from '../src/workflows/load.js';

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
    const once = normalizeIdentities(
      [
        { kind: 'phone', value: '415 555 0142' },
        { kind: 'email', value: ' X@Y.Z ' },
      ],
      { defaultRegion: 'US' },
    );
    expect(normalizeIdentities(once, { defaultRegion: 'US' })).toEqual(once);
  });

  it('folds Gmail dots and +tags only when asked, and only for Gmail', () => {
    const fold = { foldGmail: true };
    expect(normalizeEmail(' Dina.Smith+shop@GoogleMail.com ', fold)).toBe('dinasmith@gmail.com');
    expect(normalizeEmail('d.i.n.a.smith@gmail.com', fold)).toBe('dinasmith@gmail.com');
    expect(normalizeEmail('dina.smith+shop@example.com', fold)).toBe('dina.smith+shop@example.com');
    expect(normalizeEmail('Dina.Smith+shop@gmail.com')).toBe('dina.smith+shop@gmail.com');
    const options = { defaultRegion: 'US', foldGmail: true };
    const once = normalizeIdentities([{ kind: 'email', value: 'A.B+x@gmail.com' }], options);
    expect(normalizeIdentities(once, options)).toEqual(once);
  });

  it('reads national phone numbers in the connector’s region when one is configured', () => {
    const policy = loadConfigText(
      'identity:\n  default_region: US\nconnectors:\n  twilio:\n    default_region: GB\n    secrets: { account_sid: a, auth_token: b, from_number: c }\nworkflows: []\n',
      'workflows.yaml',
      { env: {} },
    ).identityPolicy;
    const phone = (connector: string) =>
      normalizeIdentities([{ kind: 'phone', value: '020 7946 0958' }], normalizeOptionsFor(policy, connector, 'US'))[0]
        ?.value;
    expect(phone('twilio')).toBe('+442079460958');
    expect(
      normalizeIdentities([{ kind: 'phone', value: '(415) 555-0142' }], normalizeOptionsFor(policy, 'shopify', 'US')),
    ).toEqual([{ kind: 'phone', value: '+14155550142' }]);
    expect(phone('shopify')).toBeUndefined();
  });
});
