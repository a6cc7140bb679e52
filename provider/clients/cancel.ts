/**
 * Waits that stop when the provider is cancelled. The provider process holds one `AbortSignal`
 * (aborted on SIGINT/SIGTERM or the engine's `Cancel`, see `provider/cancellation.ts`); the clients
 * take it and give up their waits — polls, `Retry-After` pauses — at once, with a
 * {@link CancelledError}. Nothing is sent to the services on cancellation: a job the gateway runs
 * keeps running, for the next `pulumi up` to adopt.
 */
import { CancelledError } from "../errors";

/** Throws a {@link CancelledError} when `signal` is aborted; `what` ends "while waiting for …". */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelled(signal, what);
}

/** The error of a wait cancelled by `signal`. */
export function cancelled(signal: AbortSignal, what: string): CancelledError {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new CancelledError(
    `Stopped waiting for ${what}: the provider was cancelled (${reason}). Nothing was undone; whatever the service was doing goes on there, and the next pulumi up finds it and adopts it instead of starting it again.`,
  );
}

/**
 * `sleep` that ends early with a {@link CancelledError} when `signal` is aborted (before or during
 * the wait). Without a signal it is `sleep` itself.
 */
export function cancellableSleep(
  sleep: (ms: number) => Promise<void>,
  signal: AbortSignal | undefined,
  what = "the next attempt",
): (ms: number) => Promise<void> {
  if (!signal) return sleep;
  return (ms) => {
    throwIfCancelled(signal, what);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(cancelled(signal, what));
      signal.addEventListener("abort", onAbort, { once: true });
      sleep(ms).then(
        () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  };
}
