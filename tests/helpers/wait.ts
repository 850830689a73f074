/**
 * Polls `check` until it returns a truthy value or `timeoutMs` passes; then throws with `what` (a function is asked
 * at that moment, so the error can say what the state was).
 */
export async function waitFor<T>(
  what: string | (() => Promise<string>),
  check: () => Promise<T | undefined | false | null>,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) {
      const described = typeof what === 'string' ? what : await what().catch((error: Error) => error.message);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${described}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
