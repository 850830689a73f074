import { describe, expect, it } from 'vitest';
import { parseMailboxes } from '../src/connectors/email/mailboxes.js';
import { ConfigError, loadConfigFile } from '../src/workflows/load.js';
import { writeConfig } from './helpers/crmflow.js';

describe('email mailboxes setting', () => {
  it('reads names, URL-encoded credentials, the agent and the Sent folder', () => {
    expect(
      parseMailboxes(
        'sales=imaps://sales%40shop.example:p%40ss%2Cword@imap.example.com, bob=imap://bob:pw@127.0.0.1:1143?agent=bob&sent=Sent%20Items',
      ),
    ).toEqual([
      {
        name: 'sales',
        host: 'imap.example.com',
        port: 993,
        secure: true,
        user: 'sales@shop.example',
        password: 'p@ss,word',
        agent: null,
        sentFolder: null,
      },
      {
        name: 'bob',
        host: '127.0.0.1',
        port: 1143,
        secure: false,
        user: 'bob',
        password: 'pw',
        agent: 'bob',
        sentFolder: 'Sent Items',
      },
    ]);
    expect(parseMailboxes('none')).toEqual([]);
  });

  it('is a workflows.yaml error with its position, never showing the password', () => {
    const file = writeConfig(
      'version: 1\nconnectors:\n  email:\n    secrets:\n      mailboxes: "sales=imaps://u:secret-pw@host, sales=imaps://u:secret-pw@other"\nworkflows: []\n',
    );
    let error: unknown;
    try {
      loadConfigFile(file, { env: {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String((error as Error).message)).toMatch(/workflows\.yaml:5:18 mailboxes: "sales" is declared twice/);
    expect(String((error as Error).message)).not.toContain('secret-pw');
  });
});
