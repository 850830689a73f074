import nodemailer from 'nodemailer';
import type { Logger } from 'pino';

export interface Email {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Derived from the idempotency key, so a receiving system can recognise a resend. */
  messageId: string;
  /** Extra headers, e.g. List-Unsubscribe. */
  headers?: Record<string, string>;
}

/** Where email goes: a real SMTP server, or (demo mode without SMTP_URL) the local outbox. */
export interface EmailTransport {
  name: 'smtp' | 'outbox';
  send: (email: Email) => Promise<{ providerId: string | null }>;
  close: () => void;
}

export function smtpTransport(smtpUrl: string): EmailTransport {
  // Pooled: connections are reused across messages instead of one handshake per email.
  const transporter = nodemailer.createTransport(`${smtpUrl}${smtpUrl.includes('?') ? '&' : '?'}pool=true`);
  return {
    name: 'smtp',
    send: async (email) => {
      // `to` is one recorded address, never a list: given as a string, nodemailer would parse `a;b@x.example` or
      // `x<b@x.example>` into other recipients than the one stored in outbound_messages.
      const recipient = { name: '', address: email.to };
      const info = await transporter.sendMail({
        ...email,
        to: recipient,
        envelope: { from: email.from, to: [recipient] },
        messageId: email.messageId,
      });
      return { providerId: info.messageId ?? null };
    },
    close: () => transporter.close(),
  };
}

/** Demo mode: the message is kept in `outbound_messages` (see `GET /api/messages`) and logged, not delivered. */
export function outboxTransport(logger: Logger): EmailTransport {
  return {
    name: 'outbox',
    send: async (email) => {
      logger.info(
        { to: email.to, subject: email.subject },
        'email kept in the local outbox (demo mode: set SMTP_URL to deliver)',
      );
      return { providerId: null };
    },
    close: () => {},
  };
}
