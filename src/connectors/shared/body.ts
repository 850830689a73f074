import { BadRequestError } from '../define-connector.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as UTF-8 text; a body that is not valid UTF-8 is a 400. */
export function bodyText(rawBody: Buffer): string {
  try {
    return utf8.decode(rawBody);
  } catch {
    throw new BadRequestError('body is not valid UTF-8');
  }
}

/**
 * Deepest nesting of arrays and objects a JSON body may have. Vendor payloads stay under ten levels; a deeper body is
 * hostile and would later overflow the stack (JSON.stringify, JSONata) or PostgreSQL's jsonb parser, turning a bad
 * request into a 503 that the vendor retries forever.
 */
export const MAX_JSON_DEPTH = 100;

/** The media type of a Content-Type header, lowercased, without parameters. */
function mediaType(contentType: string): string {
  return contentType.split(';')[0]!.trim().toLowerCase();
}

function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** Throws a 400 when `text` nests arrays or objects deeper than {@link MAX_JSON_DEPTH}; linear, before any parsing. */
function checkJsonDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH)
        throw new BadRequestError(`body is not valid JSON: nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

/**
 * Parses a JSON body, which must be an object or array: anything else is a 400 with the parser's reason. With the
 * request's `contentType`, a declared type other than JSON is a 400 too (an absent header is left to the body).
 */
export function parseJsonBody(rawBody: Buffer, contentType?: string): unknown {
  if (contentType !== undefined && !isJsonType(mediaType(contentType))) {
    throw new BadRequestError(
      `unsupported content type "${mediaType(contentType) || '(none)'}": send application/json`,
    );
  }
  const text = bodyText(rawBody);
  checkJsonDepth(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`body is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object') throw new BadRequestError('body must be a JSON object');
  return value;
}

/**
 * Parses an `application/x-www-form-urlencoded` body into a flat object (repeated keys keep the last value). A broken
 * percent escape (`%zz`) or one that decodes to invalid UTF-8 (`%FF`) is a 400, not silently kept or replaced.
 */
export function parseFormBody(rawBody: Buffer): Record<string, string> {
  const text = bodyText(rawBody);
  for (const part of text.split(/[&=]/)) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw new BadRequestError(`body is not valid urlencoded form data: bad percent escape in "${part.slice(0, 40)}"`);
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/**
 * JSON or urlencoded, decided by the Content-Type header; other types are a 400. A body that starts with `{` is read as
 * JSON when the header is absent or urlencoded: `curl -d '{...}'` and many form plugins send JSON under curl's
 * urlencoded default, and read as a form it would be one key holding the whole body.
 */
export function parseJsonOrFormBody(rawBody: Buffer, contentType: string | undefined): Record<string, unknown> {
  const type = mediaType(contentType ?? '');
  const looksLikeJson =
    (type === '' || type === 'application/x-www-form-urlencoded') && /^\s*\{/.test(bodyText(rawBody));
  if (type === 'application/x-www-form-urlencoded' && !looksLikeJson) return parseFormBody(rawBody);
  if (isJsonType(type) || looksLikeJson) {
    const value = parseJsonBody(rawBody);
    if (Array.isArray(value)) throw new BadRequestError('body must be a JSON object');
    return value as Record<string, unknown>;
  }
  throw new BadRequestError(
    `unsupported content type "${type || '(none)'}": send application/json or application/x-www-form-urlencoded`,
  );
}
