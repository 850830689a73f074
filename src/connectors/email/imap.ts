import { ImapFlow, type FetchMessageObject, type MessageStructureObject } from 'imapflow';
import { simpleParser, type AddressObject } from 'mailparser';
import type { ConnectorContext, ParsedEvent, PullPage } from '../define-connector.js';
import {
  addressSet,
  automatedReason,
  messageIds,
  newText,
  systemSender,
  type EmailAddress,
  type EmailAttachment,
  type EmailPayload,
} from '../shared/email-message.js';
import { parseMailboxes, type MailboxConfig } from './mailboxes.js';

export type EmailSecrets = {
  mailboxes?: string;
  own_addresses?: string;
  poll_seconds?: string;
  backfill_days?: string;
};

type FolderKind = 'inbox' | 'sent';

/** Where a folder was read up to: its UIDVALIDITY, the last UID stored, and when it was read (ISO 8601). */
export interface FolderPosition {
  validity: string;
  uid: number;
  read_at: string;
}

/** Each mailbox folder's position, by mailbox name. */
export type MailCursor = Record<string, Partial<Record<FolderKind, FolderPosition>>>;

/** Bytes of a message downloaded for its text; attachments are described from the server's BODYSTRUCTURE instead. */
const SOURCE_LIMIT = 1_000_000;

export function imapClient(mailbox: MailboxConfig): ImapFlow {
  return new ImapFlow({
    host: mailbox.host,
    port: mailbox.port,
    secure: mailbox.secure,
    auth: { user: mailbox.user, pass: mailbox.password },
    logger: false,
    connectionTimeout: 30_000,
    greetingTimeout: 15_000,
  });
}

/** The Sent folder's path: as configured, else the folder the server marks \Sent, else `Sent` if it exists. */
async function sentPath(client: ImapFlow, mailbox: MailboxConfig): Promise<string | undefined> {
  if (mailbox.sentFolder) return mailbox.sentFolder;
  const folders = await client.list();
  return (
    folders.find((folder) => folder.specialUse === '\\Sent') ??
    folders.find((folder) => folder.path.toLowerCase() === 'sent')
  )?.path;
}

/**
 * The `mail` pull: every declared mailbox's INBOX (`message.received`) and Sent folder (`message.sent`), from the
 * stored position (UIDVALIDITY + last UID) on; a folder read for the first time from `since` (what arrived before is
 * left alone: connecting a mailbox must not answer last week's mail). One page is at most `pageSize` messages of one
 * folder; the cursor after it moves that folder only, so a crash resumes at the next message. A folder whose
 * UIDVALIDITY changed (recreated, migrated) is read again from its last read: the inbox recognises messages already
 * stored by their Message-ID. A mailbox that cannot be reached does not hold up the others: the pull reads them, then
 * fails naming it.
 */
export async function listMail(
  context: ConnectorContext<EmailSecrets>,
  cursor: unknown,
  options: { since?: Date; pageSize: number },
): Promise<PullPage> {
  const positions: MailCursor = structuredClone((cursor as MailCursor | null) ?? {});
  const own = ownAddresses(context.secrets);
  const unreachable: string[] = [];
  for (const mailbox of parseMailboxes(context.secrets.mailboxes)) {
    const client = imapClient(mailbox);
    client.on('error', (error: Error) => context.log(`mailbox ${mailbox.name}: ${error.message}`));
    try {
      await client.connect();
    } catch (error) {
      unreachable.push(`mailbox ${mailbox.name}: ${(error as Error).message}`);
      continue;
    }
    try {
      for (const kind of ['inbox', 'sent'] as const) {
        const path = kind === 'inbox' ? 'INBOX' : await sentPath(client, mailbox);
        if (!path) continue;
        const page = await readFolder(client, mailbox, kind, path, positions[mailbox.name]?.[kind], {
          ...options,
          own,
        });
        if (!page) continue;
        positions[mailbox.name] = { ...positions[mailbox.name], [kind]: page.position };
        if (page.events.length > 0 || page.moved) return { events: page.events, nextCursor: positions };
      }
    } finally {
      await client.logout().catch(() => client.close());
    }
  }
  if (unreachable.length > 0) throw new Error(unreachable.join('; '));
  return { events: [], nextCursor: null, resumeCursor: positions };
}

async function readFolder(
  client: ImapFlow,
  mailbox: MailboxConfig,
  kind: FolderKind,
  path: string,
  position: FolderPosition | undefined,
  options: { since?: Date; pageSize: number; own: ReadonlySet<string> },
): Promise<{ events: ParsedEvent[]; position: FolderPosition; moved: boolean } | undefined> {
  const lock = await client.getMailboxLock(path, { readOnly: true });
  try {
    const opened = client.mailbox;
    if (!opened) return undefined;
    const validity = String(opened.uidValidity);
    const from = position && position.validity === validity ? position : undefined;
    let uids: number[];
    if (from) {
      // `n:*` always names the newest message, even below n: keep only those after the position.
      uids =
        opened.exists === 0
          ? []
          : ((await client.search({ uid: `${from.uid + 1}:*` }, { uid: true })) || []).filter((uid) => uid > from.uid);
    } else if (opened.exists === 0) {
      uids = [];
    } else {
      // SEARCH SINCE takes a day: the messages of that day that came before `since` are left out by their time, which
      // has whole seconds (a second's slack keeps a message that arrived as the first pull began).
      const start = position ? new Date(position.read_at) : (options.since ?? new Date(0));
      const since = new Date(start.getTime() - 1000);
      const candidates = (await client.search({ since: start }, { uid: true })) || [];
      uids = [];
      if (candidates.length > 0) {
        for await (const message of client.fetch(
          candidates.join(','),
          { uid: true, internalDate: true },
          { uid: true },
        )) {
          if (message.internalDate && new Date(message.internalDate) >= since) uids.push(message.uid);
        }
      }
    }
    uids.sort((a, b) => a - b);
    const batch = uids.slice(0, options.pageSize);
    const readAt = new Date().toISOString();
    if (batch.length === 0) {
      // First sight of the folder (or a new UIDVALIDITY) with nothing to read: remember where it stands.
      return {
        events: [],
        position: from ?? { validity, uid: Math.max(0, opened.uidNext - 1), read_at: readAt },
        moved: !from,
      };
    }
    const events: ParsedEvent[] = [];
    for await (const message of client.fetch(
      batch.join(','),
      { uid: true, internalDate: true, size: true, bodyStructure: true, source: { maxLength: SOURCE_LIMIT } },
      { uid: true },
    )) {
      const event = await messageEvent(message, mailbox, kind, validity, options.own);
      if (event) events.push(event);
    }
    return { events, position: { validity, uid: batch.at(-1)!, read_at: readAt }, moved: true };
  } finally {
    lock.release();
  }
}

/** Our own addresses (loop guard): the `own_addresses` secret and every mailbox's user name that is an address. */
export function ownAddresses(secrets: EmailSecrets): Set<string> {
  return addressSet(
    secrets.own_addresses,
    parseMailboxes(secrets.mailboxes)
      .map((mailbox) => mailbox.user)
      .join(','),
  );
}

async function messageEvent(
  message: FetchMessageObject,
  mailbox: MailboxConfig,
  kind: FolderKind,
  validity: string,
  own: ReadonlySet<string>,
): Promise<ParsedEvent | undefined> {
  if (!message.source) return undefined;
  const parsed = await simpleParser(message.source, {
    skipHtmlToText: false,
    skipImageLinks: true,
    skipTextToHtml: true,
    skipTextLinks: true,
  });
  const header = (name: string) => {
    const value = parsed.headers.get(name.toLowerCase());
    return value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);
  };
  const from = addresses(parsed.from)[0] ?? null;
  const { text, truncated } = newText(parsed.text ?? '');
  const internal =
    message.internalDate instanceof Date
      ? message.internalDate
      : message.internalDate
        ? new Date(message.internalDate)
        : undefined;
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : (internal ?? new Date());
  const inbound = kind === 'inbox';
  // Mail between our own addresses (a note to a colleague) is about no customer: only mail out of the house counts.
  const outside = (list: EmailAddress[]) => list.filter((address) => !own.has(address.address));
  if (!inbound && outside([...addresses(parsed.to), ...addresses(parsed.cc)]).length === 0) return undefined;
  const payload: EmailPayload = {
    direction: inbound ? 'inbound' : 'outbound',
    mailbox: mailbox.name,
    mailbox_agent: mailbox.agent,
    message_id: parsed.messageId ?? null,
    references: [...new Set([...messageIds(header('in-reply-to')), ...messageIds(rawReferences(parsed.references))])],
    from,
    // For mail we sent, the customer (the first of `to`) is the first recipient outside the house, in To or else Cc.
    to: inbound
      ? addresses(parsed.to)
      : [
          ...new Map(
            [...outside(addresses(parsed.to)), ...outside(addresses(parsed.cc)), ...addresses(parsed.to)].map((a) => [
              a.address,
              a,
            ]),
          ).values(),
        ],
    cc: addresses(parsed.cc),
    subject: parsed.subject ?? null,
    date: date.toISOString(),
    text,
    text_truncated: truncated || (message.size ?? 0) > SOURCE_LIMIT,
    attachments: attachmentsOf(message.bodyStructure),
    automated: inbound ? (automatedReason(header, from, own) ?? null) : null,
    system_sender: inbound && systemSender(from, own),
  };
  // The Message-ID names the email wherever it is read (two mailboxes, a restored folder); the UID when it has none.
  const id = parsed.messageId ?? `${mailbox.name}/${validity}/${message.uid}`;
  return {
    type: inbound ? 'message.received' : 'message.sent',
    externalId: `${inbound ? 'received' : 'sent'}:${id}`,
    occurredAt: payload.date,
    payload,
  };
}

function rawReferences(references: string | string[] | undefined): string {
  return Array.isArray(references) ? references.join(' ') : (references ?? '');
}

function addresses(value: AddressObject | AddressObject[] | undefined): EmailAddress[] {
  return [value ?? []]
    .flat()
    .flatMap((group) => group.value)
    .flatMap((entry) => (entry.address ? [{ address: entry.address.toLowerCase(), name: entry.name || null }] : []));
}

/** Names, types and sizes of a message's attachments, from the BODYSTRUCTURE the server computed (nothing downloaded). */
export function attachmentsOf(node: MessageStructureObject | undefined): EmailAttachment[] {
  if (!node) return [];
  if (node.childNodes?.length) return node.childNodes.flatMap((child) => attachmentsOf(child));
  const filename = node.dispositionParameters?.filename ?? node.parameters?.name ?? null;
  if (node.disposition !== 'attachment' && !filename) return [];
  return [{ filename, content_type: node.type, size: node.size ?? null }];
}

/**
 * Keeps one IMAP connection per mailbox IDLE on INBOX and calls `changed` when a message arrives (EXISTS); a dropped
 * connection is opened again after a pause. Sent folders (and anything IDLE missed) are read by the poll fallback.
 */
export async function watchMail(
  context: ConnectorContext<EmailSecrets>,
  changed: () => void,
): Promise<() => Promise<void>> {
  let stopped = false;
  let pause: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const clients = new Set<ImapFlow>();
  const watchOne = async (mailbox: MailboxConfig) => {
    while (!stopped) {
      const client = imapClient(mailbox);
      clients.add(client);
      try {
        const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
        client.on('error', (error: Error) => context.log(`mailbox ${mailbox.name}: ${error.message}`));
        client.on('exists', () => changed());
        await client.connect();
        await client.mailboxOpen('INBOX', { readOnly: true });
        // Connected (again): whatever arrived while no connection was open is read now.
        changed();
        await closed;
      } catch (error) {
        context.log(`mailbox ${mailbox.name}: ${(error as Error).message}; reconnecting`);
      } finally {
        clients.delete(client);
        client.close();
      }
      if (!stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          pause = setTimeout(resolve, 5_000);
        });
      }
    }
  };
  let mailboxes: MailboxConfig[] = [];
  try {
    mailboxes = parseMailboxes(context.secrets.mailboxes);
  } catch (error) {
    // A broken setting must not stop the worker: every pull reports it too, on the dashboard's connector health.
    context.log(`mailboxes not read: ${(error as Error).message}`);
  }
  const running = mailboxes.map((mailbox) => watchOne(mailbox));
  return async () => {
    stopped = true;
    clearTimeout(pause);
    wake?.();
    for (const client of clients) client.close();
    await Promise.allSettled(running);
  };
}
