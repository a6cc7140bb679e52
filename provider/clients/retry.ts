/**
 * When to retry a request and how long to wait: pure functions of the attempt, the failure and the
 * server's `Retry-After`, so they are tested without a network or a clock.
 *
 * The rules (STYLE.md §6):
 * - 429 is a refusal before any work (service protection), so every request may be retried,
 *   after `Retry-After` when the server gives one.
 * - 5xx, 408 and connections that fail after the request was sent are retried only for idempotent
 *   requests. For a non-idempotent one (a map start) the outcome is unknown: the caller must look
 *   it up, never repeat it blindly.
 * - A connection that never carried the request (refused, DNS failure, connect timeout) is safe
 *   to retry for every request.
 */

/** How the client backs off. All times in milliseconds. */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 5 */
  readonly maxAttempts: number;
  /** Backoff before the second attempt when the server gives no `Retry-After`. @default 500 */
  readonly baseDelayMs: number;
  /** Upper bound of the computed backoff. @default 30000 */
  readonly maxDelayMs: number;
  /**
   * The longest `Retry-After` we honour; a server asking for more ends the call with its error
   * instead of stalling a deployment. Dataverse asks for up to 5 minutes. @default 600000
   */
  readonly maxRetryAfterMs: number;
}

/** Defaults of `RetryPolicy`. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 600_000,
};

/** What went wrong with one attempt. */
export type Failure =
  | { readonly kind: "status"; readonly status: number }
  /** `sent` is false only when the request provably never reached the server. */
  | { readonly kind: "network"; readonly code: string; readonly sent: boolean };

/** What to do after a failed attempt. */
export type RetryDecision =
  | { readonly action: "retry"; readonly delayMs: number }
  /** A non-idempotent request that may have taken effect: look it up, don't repeat it. */
  | { readonly action: "ambiguous" }
  /** Give up with the failure as it is; `why` says which rule stopped it. */
  | {
      readonly action: "fail";
      readonly why: "notTransient" | "exhausted" | "retryAfterTooLong";
      readonly reason: string;
    };

/** Statuses that mean "try again later" for an idempotent request. */
const TRANSIENT_STATUSES = new Set([408, 500, 502, 503, 504]);

/**
 * Network error codes that say the request never left this machine or never reached a server,
 * so even a non-idempotent request can be sent again.
 */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EADDRNOTAVAIL",
]);

/** Network error codes worth another attempt (when the request may be repeated). */
const TRANSIENT_NETWORK_CODES = new Set([
  ...NOT_SENT_CODES,
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/** Whether a network error code proves the request never reached the server. */
export function isNotSent(code: string): boolean {
  return NOT_SENT_CODES.has(code);
}

/**
 * Decides what follows a failed attempt.
 *
 * @param attempt the attempt that just failed, from 1
 * @param retryAfterMs the server's `Retry-After`, already parsed (see `parseRetryAfter`)
 * @param random a number in [0, 1) for jitter, injectable for tests
 */
export function decideRetry(args: {
  readonly attempt: number;
  readonly failure: Failure;
  readonly idempotent: boolean;
  readonly retryAfterMs?: number | undefined;
  readonly policy?: RetryPolicy;
  readonly random?: () => number;
}): RetryDecision {
  const policy = args.policy ?? DEFAULT_RETRY_POLICY;
  const { failure } = args;
  const transient =
    failure.kind === "status"
      ? failure.status === 429 || TRANSIENT_STATUSES.has(failure.status)
      : TRANSIENT_NETWORK_CODES.has(failure.code) || !failure.sent;
  if (!transient) return { action: "fail", why: "notTransient", reason: "not a transient failure" };

  const safeToRepeat =
    args.idempotent ||
    (failure.kind === "status" && failure.status === 429) ||
    (failure.kind === "network" && !failure.sent);
  if (!safeToRepeat) return { action: "ambiguous" };

  if (args.attempt >= policy.maxAttempts) {
    return { action: "fail", why: "exhausted", reason: `gave up after ${args.attempt} attempts` };
  }
  if (args.retryAfterMs !== undefined && args.retryAfterMs > policy.maxRetryAfterMs) {
    return {
      action: "fail",
      why: "retryAfterTooLong",
      reason: `the server asked to wait ${Math.ceil(args.retryAfterMs / 1000)} s, more than the ${Math.round(policy.maxRetryAfterMs / 1000)} s allowed`,
    };
  }
  return {
    action: "retry",
    delayMs: retryDelay(args.attempt, args.retryAfterMs, policy, args.random),
  };
}

/**
 * How long to wait before the next attempt: the server's `Retry-After` when it gives one,
 * otherwise exponential backoff with jitter (`base × 2^(attempt−1)`, capped, then scaled by a
 * random factor in [0.5, 1]) so that many clients throttled together do not return together.
 *
 * @param attempt the attempt that just failed, from 1
 */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined)
    return Math.max(0, Math.min(retryAfterMs, policy.maxRetryAfterMs));
  const exponential = Math.min(
    policy.maxDelayMs,
    policy.baseDelayMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(exponential * (0.5 + random() / 2));
}

/**
 * Parses a `Retry-After` header: delta-seconds (`"120"`, also `"1.5"` as some services send) or
 * an HTTP-date (RFC 9110 §10.2.3). Returns milliseconds from `now`, or undefined when absent or
 * unparseable. A date in the past means "now" (0).
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const first: string | undefined = typeof value === "string" ? value : value?.[0];
  const text = first?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // Only real HTTP-dates; Date.parse would also accept "3" or "1 2".
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
