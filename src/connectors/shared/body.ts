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

/** Parses a JSON body, which must be an object or array: anything else is a 400 with the parser's reason. */
export function parseJsonBody(rawBody: Buffer): unknown {
  const text = bodyText(rawBody);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`body is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object') throw new BadRequestError('body must be a JSON object');
  return value;
}

/** Parses an `application/x-www-form-urlencoded` body into a flat object (repeated keys keep the last value). */
export function parseFormBody(rawBody: Buffer): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(bodyText(rawBody)));
}

/** JSON or urlencoded, decided by the Content-Type header; other types are a 400. */
export function parseJsonOrFormBody(rawBody: Buffer, contentType: string | undefined): Record<string, unknown> {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return parseFormBody(rawBody);
  if (type === 'application/json' || type.endsWith('+json')) {
    const value = parseJsonBody(rawBody);
    if (Array.isArray(value)) throw new BadRequestError('body must be a JSON object');
    return value as Record<string, unknown>;
  }
  throw new BadRequestError(`unsupported content type "${type || '(none)'}": send application/json or application/x-www-form-urlencoded`);
}
