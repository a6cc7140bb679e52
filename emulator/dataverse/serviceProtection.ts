/**
 * Dataverse service-protection API limits ("Service protection API limits",
 * https://learn.microsoft.com/power-apps/developer/data-platform/api-limits), evaluated **per
 * user** — "each authenticated user is limited independently"; an application user is a user
 * like any other ("Are limits applied differently for application users? No.") — over a sliding
 * 5-minute window of emulated time:
 *
 * | limit | setting | code |
 * |---|---|---|
 * | requests per window (6,000) | `dataverseRequestsPerWindow` | `0x80072322` |
 * | execution time per window (1,200,000 ms) | `dataverseExecutionMsPerWindow` | `0x80072321` |
 * | concurrent requests (52) | `dataverseConcurrentRequests` | `0x80072326` |
 *
 * The user is the token's subject (`odata/principal.ts`): the signed-in user (`oid`, else `upn`)
 * of a delegated token, the application (`appid`) of an app-only token. A `$batch` is one request
 * for the request limit ("A batch can contain up to 1000 operations and will avoid the number of
 * requests limit"); its operations count through its execution time. A request is in flight from
 * its admission to its answer — the latency of a fault rule is spent in between, so concurrent
 * slow requests reach the concurrency limit.
 *
 * A refused request answers 429 with `Retry-After` in real seconds: the emulated time until the
 * window frees enough room, divided by the clock speed, rounded up, at least 1 — so a client that
 * honours it succeeds on its next try even when the clock runs fast. Admitted requests carry the
 * documented headers `x-ms-ratelimit-burst-remaining-xrm-requests` (requests left in the window)
 * and `x-ms-ratelimit-time-remaining-xrm-requests` (execution seconds left, written as the service
 * writes them: `1,199.46`).
 */
import type { Clock, EmulatorSettings } from "../core/context";
import { dataverseErrors } from "./errors";

/** Length of the service-protection window, in emulated milliseconds. */
export const WINDOW_MS = 300_000;

/** Response header: requests the user has left in the window. */
export const BURST_REMAINING_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests";
/** Response header: execution seconds the user has left in the window. */
export const TIME_REMAINING_HEADER = "x-ms-ratelimit-time-remaining-xrm-requests";

interface Usage {
  /** Emulated arrival times of counted requests, oldest first. */
  requests: number[];
  /** Emulated end times and emulated durations of finished requests, oldest first. */
  executions: Array<{ at: number; ms: number }>;
  inFlight: number;
}

/** What an admitted request gets: its release and the headers to answer with. */
export interface Admission {
  /** Call when the request has been answered; records its execution time. Idempotent. */
  release(): void;
  /** The `x-ms-ratelimit-*` headers, as of now. */
  headers(): Record<string, string>;
}

/** Tracks usage per user and refuses requests over the limits. */
export class ServiceProtection {
  private readonly users = new Map<string, Usage>();

  constructor(
    private readonly clock: Clock,
    private readonly settings: EmulatorSettings,
  ) {}

  /** Admits one request of `principal` (`odata/principal.ts`) or throws a 429 `EmulatorHttpError`. */
  admit(principal: string): Admission {
    const now = this.clock.now();
    const usage = this.usage(principal, now);
    if (usage.inFlight >= this.settings.dataverseConcurrentRequests) {
      // "Exceeding the number of concurrent requests will immediately return an error": room
      // appears as soon as one of them ends, so the shortest wait is advised [choice: 1 s].
      throw dataverseErrors.tooManyConcurrent(this.settings.dataverseConcurrentRequests, 1);
    }
    const limit = this.settings.dataverseRequestsPerWindow;
    if (usage.requests.length >= limit) {
      // Room appears when the request that makes the count exceed the limit leaves the window.
      const freeAt = (usage.requests[usage.requests.length - limit] as number) + WINDOW_MS;
      throw dataverseErrors.tooManyRequests(limit, this.realSeconds(freeAt - now));
    }
    const executionLimit = this.settings.dataverseExecutionMsPerWindow;
    let spent = spentMs(usage);
    if (spent >= executionLimit) {
      let freeAt = now;
      for (const e of usage.executions) {
        spent -= e.ms;
        freeAt = e.at + WINDOW_MS;
        if (spent < executionLimit) break;
      }
      throw dataverseErrors.tooMuchExecutionTime(executionLimit, this.realSeconds(freeAt - now));
    }
    usage.requests.push(now);
    usage.inFlight++;
    const startedReal = performance.now();
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        usage.inFlight--;
        const emulatedMs = (performance.now() - startedReal) * this.clock.speed;
        usage.executions.push({ at: this.clock.now(), ms: emulatedMs });
      },
      headers: () => {
        const current = this.usage(principal, this.clock.now());
        const requestsLeft = Math.max(0, limit - current.requests.length);
        const secondsLeft = Math.max(0, (executionLimit - spentMs(current)) / 1000);
        return {
          [BURST_REMAINING_HEADER]: String(requestsLeft),
          [TIME_REMAINING_HEADER]: secondsLeft.toLocaleString("en-US", {
            minimumFractionDigits: 2,
            maximumFractionDigits: 2,
          }),
        };
      },
    };
  }

  /** Requests of `principal` in flight now (for tests and diagnostics). */
  inFlight(principal: string): number {
    return this.users.get(principal)?.inFlight ?? 0;
  }

  /** Forgets all usage (control API resets, tests). */
  reset(): void {
    this.users.clear();
  }

  private usage(principal: string, now: number): Usage {
    let usage = this.users.get(principal);
    if (!usage) {
      usage = { requests: [], executions: [], inFlight: 0 };
      this.users.set(principal, usage);
    }
    const cutoff = now - WINDOW_MS;
    let drop = 0;
    while (drop < usage.requests.length && (usage.requests[drop] as number) <= cutoff) drop++;
    if (drop > 0) usage.requests.splice(0, drop);
    drop = 0;
    while (
      drop < usage.executions.length &&
      (usage.executions[drop] as { at: number }).at <= cutoff
    )
      drop++;
    if (drop > 0) usage.executions.splice(0, drop);
    return usage;
  }

  private realSeconds(emulatedMs: number): number {
    return Math.max(1, Math.ceil(emulatedMs / this.clock.speed / 1000));
  }
}

function spentMs(usage: Usage): number {
  return usage.executions.reduce((sum, e) => sum + e.ms, 0);
}
