/**
 * Why PostgreSQL can never store `value` (text and jsonb refuse the NUL character and unpaired UTF-16 surrogates, which
 * JSON can carry as `\u0000` and `\ud800`), naming where it is; undefined when it can. A delivery holding such a value
 * is refused with a 400 that says why: stored it would fail its whole write, and answered 503 it would be retried
 * forever by its sender.
 */
export function unstorableReason(value: unknown, path = '$'): string | undefined {
  if (typeof value === 'string') return stringProblem(value) && `${stringProblem(value)} in ${path}`;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const reason = unstorableReason(value[i], `${path}[${i}]`);
      if (reason) return reason;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = stringProblem(key);
    if (keyProblem) return `${keyProblem} in a key of ${path}`;
    const reason = unstorableReason(item, `${path}.${key.slice(0, 60)}`);
    if (reason) return reason;
  }
  return undefined;
}

function stringProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'a NUL character (\\u0000 or %00)';
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed())
    return 'an unpaired UTF-16 surrogate (such as \\ud800)';
  return undefined;
}
