import { BadRequestError } from '../define-connector.js';

export interface MultipartFile {
  field: string;
  filename: string;
  contentType: string;
  size: number;
}

/**
 * Reads a `multipart/form-data` body (RFC 7578): text fields as UTF-8 strings; of files only their name, type and size
 * (what the timeline shows; their bytes are not kept). A body without the declared boundary is a 400.
 */
export function parseMultipart(
  rawBody: Buffer,
  contentType: string,
): { fields: Record<string, string>; files: MultipartFile[] } {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new BadRequestError('multipart body without a boundary parameter');
  const delimiter = Buffer.from(`--${boundary}`);
  const fields: Record<string, string> = {};
  const files: MultipartFile[] = [];
  let start = rawBody.indexOf(delimiter);
  if (start === -1) throw new BadRequestError('multipart body does not contain its boundary');
  for (;;) {
    start += delimiter.length;
    if (rawBody.subarray(start, start + 2).toString() === '--') break;
    const next = rawBody.indexOf(delimiter, start);
    if (next === -1) throw new BadRequestError('multipart body ends without its closing boundary');
    // Each part: CRLF, headers, CRLF CRLF, content, CRLF before the next delimiter.
    const part = rawBody.subarray(start + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    if (split === -1) throw new BadRequestError('multipart part without headers');
    const headers = part.subarray(0, split).toString('utf8');
    const content = part.subarray(split + 4);
    const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) throw new BadRequestError('multipart part without a field name');
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    if (filename !== undefined) {
      const type = /^content-type:\s*([^;\r\n]+)/im.exec(headers)?.[1]?.trim() ?? 'application/octet-stream';
      files.push({ field: name, filename, contentType: type, size: content.length });
    } else {
      fields[name] = content.toString('utf8');
    }
    start = next;
  }
  return { fields, files };
}
