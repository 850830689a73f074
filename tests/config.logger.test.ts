import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, piiFields } from '../src/config/logger.js';

describe('logs', () => {
  it('are JSON lines, with secrets and the configured PII fields redacted', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = createLogger({ level: 'info', piiFields: piiFields('to, email'), destination });
    logger.child({ run_id: 7, workflow: 'web-lead' }).info(
      {
        to: 'ana@example.com',
        customer: { email: 'ana@example.com', name: 'Ana' },
        headers: { authorization: 'Bearer abc' },
        token: 'xyz',
      },
      'reply sent',
    );
    logger.debug('not at info');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({
      msg: 'reply sent',
      run_id: 7,
      workflow: 'web-lead',
      to: '[redacted]',
      customer: { email: '[redacted]', name: 'Ana' },
      headers: { authorization: '[redacted]' },
      token: '[redacted]',
    });
    expect(lines[0]).not.toContain('ana@example.com');
  });
  it('redact the PII fields at any depth, inside arrays and in child bindings too', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = createLogger({ level: 'info', piiFields: piiFields('email,phone'), destination });
    const deep = { a: { b: { c: { d: { e: { f: { email: 'deep@example.com', kept: 'yes' } } } } } } };
    logger
      .child({ phone: '+14155550142' })
      .info({ deep, items: [{ contacts: [{ email: 'list@example.com' }] }], email: 'top@example.com' }, 'nested');
    const line = JSON.parse(lines[0]!);
    expect(line.deep.a.b.c.d.e.f).toEqual({ email: '[redacted]', kept: 'yes' });
    expect(line.items[0].contacts[0].email).toBe('[redacted]');
    expect(line).toMatchObject({ email: '[redacted]', phone: '[redacted]', msg: 'nested' });
    for (const value of ['deep@example.com', 'list@example.com', 'top@example.com', '+14155550142'])
      expect(lines[0]).not.toContain(value);
    expect(deep.a.b.c.d.e.f.email).toBe('deep@example.com');
  });
});
