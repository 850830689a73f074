/**
 * A failure as support staff can read it: what went wrong and what to check, without the request line, vendor URLs or
 * JSON bodies that crmflow records (the raw text stays on the run, shown under "Details"). Unknown shapes keep their
 * words, with URLs shortened to their host.
 */
export function readableError(raw: string): string {
  const step = /^(step \S+ \([a-z_]+\)): /.exec(raw);
  const text = step ? raw.slice(step[0].length) : raw;
  const prefix = step ? `${step[1]}: ` : '';
  const attempts = /after (\d+) attempts/.exec(text);
  const after = attempts ? ` (tried ${attempts[1]} times)` : '';
  // What crmflow said before the request line ("sms reply failed: ") stays.
  const request = REQUEST_LINE.exec(text);
  const lead = request ? text.slice(0, request.index) : (/^[^:]* failed: /.exec(text)?.[0] ?? '');
  return `${prefix}${lead}${reason(text.slice(request ? request.index : lead.length))}${after}`;
}

const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
};

/** The request line of vendor and http-step errors (`POST /2010-04-01/Accounts/AC…/Messages.json: `, `POST https://… answered`). */
const REQUEST_LINE = /\b(?:GET|POST|PUT|PATCH|DELETE) \S+?:? /;

function reason(text: string): string {
  const found = (pattern: RegExp) => pattern.exec(text);
  let match: RegExpExecArray | null;
  if ((match = found(/ENOTFOUND (\S+)/)))
    return `could not reach ${match[1]} (its name does not resolve): check the network and the connector's API URL`;
  if ((match = found(/ECONNREFUSED (\S+)/)))
    return `${match[1]} refused the connection: is it running, and is the URL right?`;
  if (found(/ETIMEDOUT|ECONNABORTED|ECONNRESET|timed out|timeout of \d+ms/))
    return 'the other side did not answer in time';
  if (found(/may have acted on it/))
    return 'the connection broke after the request was sent: it may have arrived; check before resending';
  if ((match = found(/(?:^|: |answered )(401|403)\b/)))
    return `the credentials were refused (${match[1]}): check the connector's secrets`;
  if (found(/(?:^|: |answered )429\b/)) return 'asked to slow down (429)';
  if ((match = found(/(?:^|: |answered )(5\d\d)\b/))) return `the other side had a server error (${match[1]})`;
  if ((match = found(/(?:^|: |answered )(4\d\d)\b\s*(.*)$/))) {
    const said = vendorMessage((match[2] ?? '').replace(/^:\s*/, ''));
    return `the request was refused (${match[1]})${said ? `: ${said}` : ''}`;
  }
  return text.replace(REQUEST_LINE, '').replace(/https?:\/\/[^\s"')]+/g, (url) => hostOf(url));
}

/** The human part of a vendor's JSON error body (`message`, `error.message`, `error`), URLs shortened. */
function vendorMessage(body: string): string {
  let said: unknown = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown; detail?: unknown };
    const nested =
      typeof parsed.error === 'object' && parsed.error !== null
        ? (parsed.error as { message?: unknown }).message
        : parsed.error;
    said = parsed.message ?? nested ?? parsed.detail ?? '';
  } catch {
    // not JSON: the text as it is
  }
  return String(said)
    .replace(/https?:\/\/[^\s"')]+/g, (url) => hostOf(url))
    .slice(0, 200);
}
