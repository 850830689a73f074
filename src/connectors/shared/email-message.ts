/**
 * One email as crmflow stores it, whether read from an IMAP mailbox or posted by Mailgun: the payload of the email
 * connectors' `message.received` / `message.sent` events, and the rules that tell a person's mail from a machine's.
 */
export interface EmailAddress {
  address: string;
  name: string | null;
}

export interface EmailAttachment {
  filename: string | null;
  content_type: string;
  /** Bytes, as received (the body itself is not stored). */
  size: number | null;
}

export interface EmailPayload {
  /** `inbound`: to us (INBOX, Mailgun); `outbound`: sent by someone of ours (a mailbox's Sent folder). */
  direction: 'inbound' | 'outbound';
  /** The mailbox it was read from (its name in `mailboxes`); null for Mailgun. */
  mailbox: string | null;
  /** The agent whose mailbox it is (`agent=` in `mailboxes`), who sent what is in its Sent folder. */
  mailbox_agent: string | null;
  message_id: string | null;
  /** `In-Reply-To` then `References`: our outbound Message-IDs among them join the reply to its conversation. */
  references: string[];
  from: EmailAddress | null;
  to: EmailAddress[];
  cc: EmailAddress[];
  subject: string | null;
  /** ISO 8601, from the Date header (when it was written), else when the server received it. */
  date: string;
  /** The new text of the message, without the quoted history, at most `TEXT_LIMIT` characters. */
  text: string;
  text_truncated: boolean;
  attachments: EmailAttachment[];
  /** Why a machine sent it (RFC 3834: auto-reply, bounce, list...); null for a person's mail. Never answered. */
  automated: string | null;
  /** A system sender (mailer-daemon, postmaster, one of our own addresses): not a customer. */
  system_sender: boolean;
}

/** Longest text kept per message; the rest is cut (`text_truncated`). */
export const TEXT_LIMIT = 20_000;

/** Reads one header (case-insensitive name), as text; undefined when absent. */
export type HeaderLookup = (name: string) => string | undefined;

const SYSTEM_LOCAL_PARTS = /^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$/i;

/** `<a@x> <b@y>` (In-Reply-To, References) → ['<a@x>', '<b@y>']. */
export function messageIds(value: string | undefined): string[] {
  return value?.match(/<[^<>\s]+>/g) ?? [];
}

/** Lower-cased address, or undefined when it is not one. */
export function plainAddress(value: string | null | undefined): string | undefined {
  const address = value?.trim().toLowerCase();
  return address && /^[^\s@<>]+@[^\s@<>]+$/.test(address) ? address : undefined;
}

/** `Ana Souza <ana@example.com>` or a bare address → {address, name}. */
export function parseAddress(value: string | undefined): EmailAddress | null {
  if (!value) return null;
  const match = /^\s*"?([^"<]*?)"?\s*<([^<>]+)>\s*$/.exec(value);
  const address = plainAddress(match ? match[2] : value);
  return address ? { address, name: match?.[1]?.trim() || null } : null;
}

/**
 * Why a message was sent by a machine, after RFC 3834 and common practice; undefined for a person's mail:
 * `Auto-Submitted` other than `no`, `Precedence: bulk|list|junk`, `List-Id`, `X-Autoreply`/`X-Autorespond`, a delivery
 * status report or an empty return path (bounces), a sender such as mailer-daemon or postmaster, or one of `ownAddresses`.
 */
export function automatedReason(
  header: HeaderLookup,
  from: EmailAddress | null,
  ownAddresses: ReadonlySet<string>,
): string | undefined {
  const autoSubmitted = header('auto-submitted')?.trim().toLowerCase();
  if (autoSubmitted && !autoSubmitted.startsWith('no')) return `Auto-Submitted: ${autoSubmitted}`;
  const precedence = header('precedence')?.trim().toLowerCase();
  if (precedence && ['bulk', 'list', 'junk'].includes(precedence)) return `Precedence: ${precedence}`;
  if (header('list-id')) return 'a mailing list (List-Id)';
  if (header('x-autoreply') || header('x-autorespond')) return 'an auto-reply (X-Autoreply)';
  if (/multipart\/report/i.test(header('content-type') ?? '') || header('return-path')?.trim() === '<>')
    return 'a bounce (delivery status notification)';
  if (!from) return 'no sender address';
  if (systemSender(from, ownAddresses)) return `from ${from.address}`;
  return undefined;
}

export function systemSender(from: EmailAddress | null, ownAddresses: ReadonlySet<string>): boolean {
  return !from || SYSTEM_LOCAL_PARTS.test(from.address.split('@')[0]!) || ownAddresses.has(from.address);
}

/**
 * The new part of a reply: everything before the first quoted block (`> ` lines, "On … wrote:", Outlook's
 * "-----Original Message-----" or a `From:` header block), trimmed and capped at `TEXT_LIMIT`.
 */
export function newText(text: string): { text: string; truncated: boolean } {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const end = lines.findIndex(
    (line, index) =>
      /^>/.test(line) ||
      /^-{2,}\s*Original Message\s*-{2,}/i.test(line) ||
      /^On .{4,200}wrote:\s*$/.test(line) ||
      (/^On .{4,200}$/.test(line) && /wrote:\s*$/.test(lines[index + 1] ?? '')) ||
      (/^From: /.test(line) && /^(Sent|Date|To): /.test(lines[index + 1] ?? '')),
  );
  const kept = (end === -1 ? lines : lines.slice(0, end)).join('\n').trim();
  return kept.length > TEXT_LIMIT
    ? { text: kept.slice(0, TEXT_LIMIT), truncated: true }
    : { text: kept, truncated: false };
}

/** `a@x, b@y` for ownAddresses settings. */
export function addressSet(...lists: Array<string | undefined>): Set<string> {
  return new Set(lists.flatMap((list) => (list ?? '').split(',')).flatMap((value) => plainAddress(value) ?? []));
}
