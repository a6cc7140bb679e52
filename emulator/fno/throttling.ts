/**
 * F&O throttling without a fault rule. Finance and operations apps protect their OData service
 * with *resource-based* limits: when the web servers' aggregate load threatens the service,
 * requests are refused with 429 "Too many requests" and a `Retry-After` interval in seconds, and
 * the Throttling Priority Mapping page decides which integrations (by Microsoft Entra application
 * or by user) are throttled first ("Throttling prioritization",
 * https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/priority-based-throttling;
 * "Service protection API limits" and "Retry operations" for the `Retry-After` contract,
 * https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/service-protection-retry-operations).
 *
 * No threshold is published, and the emulator has no web-server load to measure, so it models
 * the load a user causes as a budget [choice]: at most `fnoRequestsPerWindow` requests per user
 * (the token's `oid`/`upn`, or its `appid` when app-only — the two kinds of identity the priority
 * mapping knows) in a sliding 5-minute window of emulated time; the default, 6,000, is the number
 * of F&O's retired user-based limits. Priorities are not modelled (every user has the same
 * budget). `Retry-After` is the real time until the window has room again (emulated time divided
 * by the clock speed, rounded up, at least 1 s).
 */
import type { Clock, EmulatorSettings } from "../core/context";
import { fnoErrors } from "./errors";

/** Length of the throttling window, in emulated milliseconds. */
export const FNO_WINDOW_MS = 300_000;

/** Counts requests per user and refuses those over the budget. */
export class FnoThrottling {
  private readonly users = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    private readonly settings: EmulatorSettings,
  ) {}

  /** Counts one request of `principal` or throws 429 with `Retry-After`. */
  admit(principal: string): void {
    const now = this.clock.now();
    let arrivals = this.users.get(principal);
    if (!arrivals) {
      arrivals = [];
      this.users.set(principal, arrivals);
    }
    const cutoff = now - FNO_WINDOW_MS;
    let drop = 0;
    while (drop < arrivals.length && (arrivals[drop] as number) <= cutoff) drop++;
    if (drop > 0) arrivals.splice(0, drop);
    const limit = this.settings.fnoRequestsPerWindow;
    if (arrivals.length >= limit) {
      const freeAt = (arrivals[arrivals.length - limit] as number) + FNO_WINDOW_MS;
      throw fnoErrors.throttled(Math.max(1, Math.ceil((freeAt - now) / this.clock.speed / 1000)));
    }
    arrivals.push(now);
  }

  /** Forgets all usage. */
  reset(): void {
    this.users.clear();
  }
}
