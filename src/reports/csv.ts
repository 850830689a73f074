/** One CSV field: quoted when needed; a leading = + - @ is prefixed with ' so spreadsheets never run it as a formula. */
function field(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV lines of `rows`, read by the header's names, without the header (a streamed export writes it once). */
export function csvRows<T>(header: ReadonlyArray<keyof T>, rows: readonly T[]): string {
  return rows.map((row) => `${header.map((name) => field(row[name])).join(',')}\r\n`).join('');
}

/** RFC 4180 CSV with a header line; `rows` are objects read by the header's names. */
export function toCsv(header: readonly string[], rows: ReadonlyArray<Record<string, unknown>>): string {
  return `${header.map(field).join(',')}\r\n${csvRows(header, rows)}`;
}
