/**
 * What every surface handler can reach: the environments, their tables, the dual-write runtime,
 * the clock and the persistence hook. Built once by `startEmulator` (emulator/index.ts).
 */
import type { TableSet } from "../store/tables";
import type { HostPlan } from "./hosts";

/** An emulated F&O environment and the Dataverse org it can be linked to (seeded together). */
export interface EnvironmentPair {
  /** Name of the pair (control API, seeds, request log); its URLs come from `slot`. */
  readonly name: string;
  /**
   * Its place in the address plan (`core/hosts.ts`): F&O at `127.0.0.(11+2·slot)`, Dataverse at
   * `127.0.0.(12+2·slot)`. Given at seeding and saved, so URLs stay the same across restarts.
   */
  readonly slot: number;
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
  /** Dataverse service protection: requests per user per 5-minute window. @default 6000 */
  dataverseRequestsPerWindow: number;
  /** Dataverse service protection: concurrent requests per user. @default 52 */
  dataverseConcurrentRequests: number;
  /** Dataverse service protection: execution milliseconds per user per window. @default 1200000 */
  dataverseExecutionMsPerWindow: number;
  /**
   * F&O throttling: requests per user (or app) per 5-minute window before 429 + `Retry-After`
   * (`emulator/fno/throttling.ts`). @default 6000
   */
  fnoRequestsPerWindow: number;
  /**
   * Lifetime of refresh tokens, in seconds, applied when a token is redeemed (so lowering it
   * expires tokens already issued — how tests make one expire). Tokens bound to the portal's
   * single-page app count from the original sign-in, others from their own issue.
   * @default 86400 (Entra's fixed 24 hours for single-page apps)
   */
  refreshTokenLifetimeSeconds: number;
  /**
   * Whether the gateway accepts app-only tokens (no `scp`). Microsoft's tool signs in a user for
   * every gateway call, so by default the emulator refuses them with 401.
   * @default false
   */
  gatewayAcceptsAppTokens: boolean;
}

/** Shared state and services for all handlers. */
export interface EmulatorContext {
  /** `https://127.0.0.1:<port>`: Entra ID and the control API (`hosts.identityUrl`). */
  readonly baseUrl: string;
  /**
   * The address plan: the gateway's URL, each environment's URL (surfaces build absolute URLs,
   * OData-EntityId and nextLink, from them) and which environment a host names.
   */
  readonly hosts: HostPlan;
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
