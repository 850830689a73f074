import { afterEach, describe, expect, it } from 'vitest';
import { MASK, maskSecrets, setPiiFields } from '../src/dashboard/mask.js';

describe('what the dashboard shows of payloads', () => {
  afterEach(() => setPiiFields([]));

  it('masks secret-looking keys always and the configured PII fields (CRMFLOW_PII_FIELDS) at any depth', () => {
    const payload = {
      email: 'ana@example.com',
      api_key: 'k',
      customer: { phone: '+14155550142', name: 'Ana', card_number: '4242' },
      items: [{ email: 'b@example.com' }],
    };
    expect(maskSecrets(payload)).toEqual({
      email: 'ana@example.com',
      api_key: MASK,
      customer: { phone: '+14155550142', name: 'Ana', card_number: MASK },
      items: [{ email: 'b@example.com' }],
    });
    setPiiFields(['Email', 'phone']);
    expect(maskSecrets(payload)).toEqual({
      email: MASK,
      api_key: MASK,
      customer: { phone: MASK, name: 'Ana', card_number: MASK },
      items: [{ email: MASK }],
    });
    expect(payload.email).toBe('ana@example.com');
  });
});
