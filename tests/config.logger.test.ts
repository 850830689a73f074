import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, piiFields } from '../src/config/logger.js';

describe('logs', () => {
  it('are JSON lines, with secrets and the configured PII fields redacted', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) });
    const logger = createLogger({ level: 'info', piiFields: piiFields('to, email'), destination });
    logger.child({ run_id: 7, workflow: 'web-lead' }).info(
      { to: 'ana@example.com', customer: { email: 'ana@example.com', name: 'Ana' }, headers: { authorization: 'Bearer abc' }, token: 'xyz' },
      'reply sent',
    );
    logger.debug('not at info');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(line).toMatchObject({ msg: 'reply sent', run_id: 7, workflow: 'web-lead', to: '[redacted]', customer: { email: '[redacted]', name: 'Ana' }, headers: { authorization: '[redacted]' }, token: '[redacted]' });
    expect(lines[0]).not.toContain('ana@example.com');
  });
});
