import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedEmail {
  to: string[];
  raw: string;
  messageId: string | undefined;
  subject: string | undefined;
  /** The body, quoted-printable decoded. */
  text: string;
}

function decodeBody(raw: string): string {
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  if (!/^Content-Transfer-Encoding:\s*quoted-printable/im.test(raw)) return body;
  const bytes = body
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** An SMTP error reply, e.g. `{ code: 451, message: 'try again later' }`. */
export interface SmtpRejection {
  code: number;
  message: string;
}

export interface SmtpServerOptions {
  /**
   * Asked at each recipient (`rcpt`) and after each message's data (`data`): a rejection answers with that code
   * instead of accepting (the message is then not kept). Lets a test make the server fail for a while.
   */
  reject?: (stage: 'rcpt' | 'data') => SmtpRejection | undefined;
}

function smtpError(rejection: SmtpRejection): Error {
  return Object.assign(new Error(rejection.message), { responseCode: rejection.code });
}

/** A real SMTP server on a random local port that keeps every message it accepts. */
export async function startSmtpServer(
  options: SmtpServerOptions = {},
): Promise<{ url: string; messages: ReceivedEmail[]; close: () => Promise<void> }> {
  const messages: ReceivedEmail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      const rejection = options.reject?.('rcpt');
      callback(rejection ? smtpError(rejection) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const rejection = options.reject?.('data');
        if (rejection) return callback(smtpError(rejection));
        const raw = Buffer.concat(chunks).toString('utf8');
        messages.push({
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw,
          messageId: /^Message-ID:\s*(.+)$/im.exec(raw)?.[1]?.trim(),
          subject: /^Subject:\s*(.+)$/im.exec(raw)?.[1]?.trim(),
          text: decodeBody(raw),
        });
        callback();
      });
    },
  });
  // A client killed mid-conversation (the crash tests) resets its connection: expected, not a test failure.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
