import { describe, expect, it } from 'vitest';
import { createSecretRedactor, REDACTED } from '../src/config/secret-redactor.js';

describe('secret redactor', () => {
  const redactor = createSecretRedactor(['s3cr3t-token', '4815162342', 'has"quote\\and']);

  it('hides secrets inside longer text, in their raw and JSON-escaped forms', () => {
    expect(redactor.text('Bearer s3cr3t-token at https://x/hooks/s3cr3t-token')).toBe(
      `Bearer ${REDACTED} at https://x/hooks/${REDACTED}`,
    );
    expect(redactor.text(JSON.stringify({ v: 'has"quote\\and' }))).toBe(`{"v":"${REDACTED}"}`);
  });

  it('walks JSON values: strings and keys are hidden, numbers that happen to match stay valid, dates stay dates', () => {
    const at = new Date('2026-12-01T00:00:00Z');
    expect(
      redactor.json({
        headers: { 'x-token': 's3cr3t-token' },
        ['s3cr3t-token']: 1,
        id: 48151623420,
        when: at,
        list: ['ok', '4815162342'],
      }),
    ).toEqual({
      headers: { 'x-token': REDACTED },
      [REDACTED]: 1,
      id: 48151623420,
      when: at,
      list: ['ok', REDACTED],
    });
  });
});
