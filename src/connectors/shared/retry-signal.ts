/**
 * An error that says whether trying the same work again may help, and when (BullMQ's `UnrecoverableError` idea, as
 * fields). The engine reads these instead of guessing from an error's shape: a step or a send that throws one fails
 * its run at once (`retryable: false`) or leaves it to the job's retries (`retryable: true`, after `retryAfterMs` if
 * the vendor said so). Errors that carry no signal are retried: most are network trouble that heals.
 */
export class RetrySignal extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The vendor's hint (a 429's `Retry-After`), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Whether trying again may help: the error's own signal, else yes. */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof RetrySignal) || error.retryable;
}
