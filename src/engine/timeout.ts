/**
 * Runs `work` with an abort signal and gives up after `ms`: the signal is aborted and the promise rejects with
 * `timedOut()` (a StepError for steps, a plain error elsewhere). The timer never outlives the work.
 */
export async function withTimeout<T>(
  ms: number,
  work: (signal: AbortSignal) => Promise<T>,
  timedOut: () => Error = () => new Error(`timed out after ${ms} ms`),
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(timedOut());
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
