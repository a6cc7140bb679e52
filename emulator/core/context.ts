/**
 * What every surface handler can reach: the environments, their tables, the dual-write runtime,
 * the clock and the persistence hook. Built once by `startEmulator` (emulator/index.ts).
 */
import type { TableSet } from "../store/tables";

/** An emulated F&O environment and the Dataverse org it can be linked to (seeded together). */
export interface EnvironmentPair {
  /** Name used in URLs: `/fno/<name>` and `/dataverse/<name>`. */
  readonly name: string;
  /** Which of the six scenarios (or another seed) made it. */
  readonly scenario: string;
  /** F&O environment id, the gateway's `cid`. */
  readonly cid: string;
  /** Default company of the F&O environment (`DAT` unless the seed says otherwise). */
  readonly defaultCompany: string;
}

/**
 * Emulated time. It runs `speed` times faster than real time, so tests can shrink the 5-minute
 * service-protection window and long jobs without waiting for them.
 */
export interface Clock {
  /** Emulated milliseconds since the epoch. */
  now(): number;
  /** How many emulated milliseconds pass per real millisecond. */
  readonly speed: number;
  /** Changes the speed from now on (emulated time stays continuous). */
  setSpeed(speed: number): void;
  /** Resolves after `emulatedMs` of emulated time. */
  sleep(emulatedMs: number): Promise<void>;
}

/** Knobs that tests and the control API change at run time (`/_emulator/settings`). */
export interface EmulatorSettings {
  /** Lifetime of issued access tokens, in seconds. @default 3600 */
  tokenLifetimeSeconds: number;
  /** Rows an initial-sync job moves per emulated second, per legal entity. @default 2000 */
  jobRowsPerSecond: number;
  /** Emulated milliseconds a map state transition or solution apply takes. @default 200 */
  transitionMs: number;
  /** Dataverse service protection: requests per app per 5-minute window. @default 6000 */
  dataverseRequestsPerWindow: number;
  /** Dataverse service protection: concurrent requests per app. @default 52 */
  dataverseConcurrentRequests: number;
  /** Dataverse service protection: execution milliseconds per app per window. @default 1200000 */
  dataverseExecutionMsPerWindow: number;
}

/** Shared state and services for all handlers. */
export interface EmulatorContext {
  /** `https://127.0.0.1:<port>`; surfaces build absolute URLs (OData-EntityId, nextLink) from it. */
  readonly baseUrl: string;
  readonly clock: Clock;
  readonly settings: EmulatorSettings;
  /** Environment pairs by name. */
  readonly environments: Map<string, EnvironmentPair>;
  /** Dataverse tables by org name. */
  readonly dataverse: Map<string, TableSet>;
  /** F&O entities by environment name. */
  readonly fno: Map<string, TableSet>;
  /** Called after an acknowledged write so that persistence can snapshot before the answer. */
  persist(): Promise<void>;
}
