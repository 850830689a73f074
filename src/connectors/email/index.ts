import { defineConnector } from '../define-connector.js';
import type { EmailPayload } from '../shared/email-message.js';
import { readBeside, readJsonBeside } from '../shared/files.js';
import type { EmailSecrets } from './imap.js';
import { parseMailboxes } from './mailboxes.js';

const mapping = readBeside(import.meta.url, '../shared/email-message.jsonata');

/** The IMAP side (imapflow and mailparser, ~7 MB of heap) loads only in a process that reads a mailbox. */
const imap = () => import('./imap.js');

/**
 * Email over IMAP: each declared mailbox's INBOX (mail to us) and Sent folder (mail an agent sent from their own mail
 * program). Worker processes keep an IDLE connection on each INBOX and read new mail at once, and read every folder
 * every `poll_seconds` as well; where each folder was read up to (UIDVALIDITY + UID) is stored, so a restart or a
 * reconnect neither skips nor repeats a message.
 */
export default defineConnector<keyof EmailSecrets>({
  id: 'email',
  family: 'email',
  summary:
    'Email mailboxes over IMAP (a shared sales@, agents’ own): incoming mail and what agents sent, on the customer’s timeline.',
  secrets: {
    mailboxes: {
      description:
        'Mailboxes to read, comma-separated `name=imaps://user:password@host:993` (user and password URL-encoded); `?agent=<id>` makes it that agent’s mailbox, `?sent=<folder>` names its Sent folder (default: the one marked \\Sent). `none`: no mailbox.',
      optional: true,
      env: {
        name: 'EMAIL_MAILBOXES',
        demo: 'none',
        description:
          'IMAP mailboxes the `email` connector reads, comma-separated `name=imaps://user:password@host:993` (URL-encoded user and password; `?agent=<id>` for an agent’s own mailbox). `none`: no mailbox.',
      },
    },
    own_addresses: {
      description:
        'Our own addresses, comma-separated, never answered (the mailboxes’ user names that are addresses count too).',
      optional: true,
    },
    poll_seconds: { description: 'How often every folder is read besides IDLE (default 60).', optional: true },
    backfill_days: {
      description:
        'How many days of mail a folder read for the first time takes in (default 0: only mail arriving from then on). Workflows run on it: a lead workflow answers it.',
      optional: true,
    },
  },
  events: {
    'message.received': {
      summary:
        'An email arrived in a mailbox’s INBOX. Auto-replies, bounces and list mail (RFC 3834) carry `automated` and are never answered automatically.',
      mapping,
      sample: readJsonBeside(import.meta.url, 'samples/inbound_email.json'),
    },
    'message.sent': {
      summary:
        'An email in a mailbox’s Sent folder: a contact by the agent whose mailbox it is (or whose address sent it).',
      mapping,
      sample: readJsonBeside(import.meta.url, 'samples/sent_email.json'),
    },
  },
  pull: {
    mail: {
      summary: 'New messages of every mailbox’s INBOX and Sent folder since the stored UID.',
      list: async (context, cursor, options) => (await imap()).listMail(context, cursor, options),
    },
  },
  watch: {
    resource: 'mail',
    pollSeconds: (secrets) => Math.max(1, Number(secrets.poll_seconds) || 60),
    backfillMs: (secrets) => Math.max(0, Number(secrets.backfill_days) || 0) * 86_400_000,
    start: async (context, changed) => (await imap()).watchMail(context, changed),
  },
  checkSecrets: (secrets) => {
    try {
      parseMailboxes(secrets.mailboxes);
      return {};
    } catch (error) {
      return { mailboxes: (error as Error).message };
    }
  },
  channelOf: (event) => (event.type === 'message.received' ? 'email' : undefined),
  inboundMessage: (event) => {
    if (event.type !== 'message.received') return undefined;
    const email = event.payload as EmailPayload;
    return {
      channel: 'email',
      address: email.from?.address ?? '',
      text: email.text,
      automated: email.automated ?? undefined,
    };
  },
});
