import { BadRequestError } from '../define-connector.js';

/** One IMAP mailbox crmflow reads, from the `mailboxes` secret. */
export interface MailboxConfig {
  /** The name before `=`: the cursor key and `mailbox` in events. */
  name: string;
  host: string;
  port: number;
  /** imaps:// (TLS from the start); imap:// upgrades with STARTTLS when the server offers it. */
  secure: boolean;
  user: string;
  password: string;
  /** The agent whose mailbox this is (`?agent=`): what is in its Sent folder was sent by them. */
  agent: string | null;
  /** The Sent folder's path (`?sent=`); default the folder marked \Sent, else `Sent`. */
  sentFolder: string | null;
}

/**
 * Parses `name=imaps://user:password@host:port?agent=bob&sent=Sent%20Items`, comma-separated (user and password
 * URL-encoded). `none` (or empty) declares no mailbox. Throws BadRequestError naming the entry it cannot read; the
 * password never appears in the message.
 */
export function parseMailboxes(value: string | undefined): MailboxConfig[] {
  if (!value || value.trim() === '' || value.trim() === 'none') return [];
  const seen = new Set<string>();
  return value.split(',').map((entry, index) => {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at).trim();
    if (at < 1 || !/^[a-z0-9_-]+$/i.test(name))
      throw new BadRequestError(`mailboxes entry ${index + 1}: expected name=imaps://user:password@host`);
    if (seen.has(name)) throw new BadRequestError(`mailboxes: "${name}" is declared twice`);
    seen.add(name);
    let url: URL;
    try {
      url = new URL(entry.slice(at + 1).trim());
    } catch {
      throw new BadRequestError(`mailbox ${name}: not a URL (imaps://user:password@host)`);
    }
    if (url.protocol !== 'imap:' && url.protocol !== 'imaps:')
      throw new BadRequestError(`mailbox ${name}: the URL must start with imap:// or imaps://`);
    if (!url.username || !url.hostname) throw new BadRequestError(`mailbox ${name}: the URL needs a user and a host`);
    const secure = url.protocol === 'imaps:';
    return {
      name,
      host: url.hostname,
      port: url.port ? Number(url.port) : secure ? 993 : 143,
      secure,
      user: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
      agent: url.searchParams.get('agent'),
      sentFolder: url.searchParams.get('sent'),
    };
  });
}
