/**
 * Dataverse service-protection API limits (`powerapps-docs/developer/data-platform/api-limits.md`),
 * evaluated per application (the token's `appid`) over a sliding 5-minute window of emulated
 * time:
 *
 * | limit | setting | code |
 * |---|---|---|
 * | requests per window (6,000) | `dataverseRequestsPerWindow` | `0x80072322` |
 * | execution time per window (1,200,000 ms) | `dataverseExecutionMsPerWindow` | `0x80072321` |
 * | concurrent requests (52) | `dataverseConcurrentRequests` | `0x80072326` |
 *
 * A refused request answers 429 with `Retry-After` in real seconds: the emulated time until the
 * window frees enough room, divided by the clock speed, rounded up, at least 1 — so a client that
 * honours it succeeds on its next try even when the clock runs fast.
 */
import type { Clock, EmulatorSettings } from "../core/context";
import { dataverseErrors } from "./errors";

/** Length of the service-protection window, in emulated milliseconds. */
export const WINDOW_MS = 300_000;

interface AppUsage {
  /** Emulated arrival times of counted requests, oldest first. */
  requests: number[];
  /** Emulated end times and emulated durations of finished requests, oldest first. */
  executions: Array<{ at: number; ms: number }>;
  inFlight: number;
}

/** Tracks usage per application and refuses requests over the limits. */
export class ServiceProtection {
  private readonly apps = new Map<string, AppUsage>();

  constructor(
    private readonly clock: Clock,
    private readonly settings: EmulatorSettings,
  ) {}

  /**
   * Admits one request of `appId` or throws a 429 `EmulatorHttpError`. Returns the function to
   * call when the request ends, which records its execution time.
   */
  admit(appId: string): () => void {
    const now = this.clock.now();
    const usage = this.usage(appId, now);
    if (usage.inFlight >= this.settings.dataverseConcurrentRequests) {
      throw dataverseErrors.tooManyConcurrent(this.settings.dataverseConcurrentRequests, 1);
    }
    const limit = this.settings.dataverseRequestsPerWindow;
    if (usage.requests.length >= limit) {
      // Room appears when the request that makes the count exceed the limit leaves the window.
      const freeAt = (usage.requests[usage.requests.length - limit] as number) + WINDOW_MS;
      throw dataverseErrors.tooManyRequests(limit, this.realSeconds(freeAt - now));
    }
    const executionLimit = this.settings.dataverseExecutionMsPerWindow;
    let spent = usage.executions.reduce((sum, e) => sum + e.ms, 0);
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
    return () => {
      if (released) return;
      released = true;
      usage.inFlight--;
      const emulatedMs = (performance.now() - startedReal) * this.clock.speed;
      usage.executions.push({ at: this.clock.now(), ms: emulatedMs });
    };
  }

  /**
   * Counts `count` more requests for `appId` without refusing (the operations inside a `$batch`
   * count like the requests they stand for; the batch itself was admitted already).
   */
  charge(appId: string, count: number): void {
    const now = this.clock.now();
    const usage = this.usage(appId, now);
    for (let i = 0; i < count; i++) usage.requests.push(now);
  }

  /** Forgets all usage (control API resets, tests). */
  reset(): void {
    this.apps.clear();
  }

  private usage(appId: string, now: number): AppUsage {
    let usage = this.apps.get(appId);
    if (!usage) {
      usage = { requests: [], executions: [], inFlight: 0 };
      this.apps.set(appId, usage);
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
