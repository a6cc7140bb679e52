/**
 * The lifecycle every resource implements once, on plain values, and the context it runs in.
 * `provider/dynamic/adapter.ts` turns a lifecycle into a `pulumi.dynamic.ResourceProvider`; tests
 * call lifecycles directly against the emulator.
 */
import type { Clients as ClientSet } from "../../clients";
import type { CheckFailure } from "./check";
import type { Claims } from "./spec";

/** The clients for one pair of environments (gateway, Dataverse, F&O), from `createClients`. */
export type Clients = ClientSet;

/** The two environments a link joins; every resource knows them. */
export interface Environments {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
}

/** What a lifecycle can reach besides its inputs. */
export interface HandlerContext {
  /**
   * The clients for a pair of environments, built from the provider configuration read in
   * `configure`. Throws the configuration error when the provider is not configured.
   */
  clients(envs: Environments): Clients;
  /** A progress line for the person running Pulumi (the plugin's stdout shows as info). */
  log(message: string): void;
  /** Options that tests and benchmarks tune; production uses the defaults. */
  readonly options: HandlerOptions;
  /**
   * What creates of this deployment adopted (one per provider process), so that a delete later in
   * the same deployment leaves it alone (`spec.ts`). Absent: nothing is known of other resources.
   */
  readonly claims?: Claims;
}

/** Tunables of long operations. */
export interface HandlerOptions {
  /** How long a map start/stop/pause/resume may take before a clear timeout. @default 15 min */
  readonly mapActionTimeoutMs: number;
  /** How long an initial sync may take. @default 24 h (Dataverse → F&O imports must finish in 24 h) */
  readonly initialSyncTimeoutMs: number;
  /** How long applying orchestration solutions may take. @default 30 min */
  readonly solutionTimeoutMs: number;
  /**
   * How long a link, unlink or legal-entity change may take to show at the gateway (the gateway
   * completes a Reset after answering it). @default 30 min
   */
  readonly linkTimeoutMs: number;
  /** How often an initial sync prints its progress. @default 5 s */
  readonly progressIntervalMs: number;
}

/** The defaults of {@link HandlerOptions}. */
export const DEFAULT_OPTIONS: HandlerOptions = {
  mapActionTimeoutMs: 15 * 60_000,
  initialSyncTimeoutMs: 24 * 3_600_000,
  solutionTimeoutMs: 30 * 60_000,
  linkTimeoutMs: 30 * 60_000,
  progressIntervalMs: 5_000,
};

/** The result of `diff`: whether anything differs, what forces a replacement, and why. */
export interface DiffOutcome {
  readonly changes: boolean;
  /** Properties whose change replaces the resource. */
  readonly replaces: string[];
  /** Delete the old object before creating the new one (a link is 1:1). */
  readonly deleteBeforeReplace?: boolean;
  /** One line per difference, shown in the preview (the dynamic protocol has no detailed diff). */
  readonly reasons: string[];
  /**
   * The input properties whose value in the old state differs from the declaration (a drift that
   * a refresh recorded included): what a detailed diff shows, old → new. Absent when none.
   */
  readonly properties?: string[];
}

/**
 * The result of `read`: the observed object, or nothing when it is gone. `inputs`, when given,
 * are the inputs as observed (drift recorded in the declared properties), for the engine to keep
 * in place of the stored ones, as other providers' refresh does.
 */
export type ReadOutcome<O> =
  { readonly id: string; readonly props: O; readonly inputs?: Record<string, unknown> } | undefined;

/**
 * One resource's lifecycle on plain values. `I` are the inputs as the engine stores them, `O`
 * the outputs (inputs included, as the dynamic provider protocol requires).
 */
export interface Lifecycle<I, O extends I> {
  /** The resource's public type name, e.g. `DualWriteConnection`, for messages. */
  readonly resource: string;
  /**
   * Validates the new inputs: one failure per bad property. Reads are allowed (to reject what
   * contradicts the observed environments before anything is written); writes never.
   */
  check(olds: object, news: object, ctx: HandlerContext): Promise<CheckFailure[]>;
  /**
   * Inputs the provider adds to the declared ones after a check without failures, e.g. the
   * concrete version `latest` stands for now. The adapters return them to the engine with the
   * inputs, so the state keeps them and a preview shows their change (old → new). Reads only.
   */
  resolveInputs?(olds: object, news: object, ctx: HandlerContext): Promise<Record<string, unknown>>;
  /** Compares the declaration with the old outputs and with what both environments show now. */
  diff(id: string, olds: O, news: I, ctx: HandlerContext): Promise<DiffOutcome>;
  /** Creates, or adopts what already matches; idempotent. */
  create(inputs: I, ctx: HandlerContext): Promise<{ id: string; outs: O }>;
  /** The observed state for `pulumi refresh`; undefined when the object is gone. */
  read(id: string, props: O, ctx: HandlerContext): Promise<ReadOutcome<O>>;
  /** Converges an existing object to the new declaration. */
  update(id: string, olds: O, news: I, ctx: HandlerContext): Promise<O>;
  /** Removes the object's configuration; never deletes business data; gone counts as done. */
  delete(id: string, props: O, ctx: HandlerContext): Promise<void>;
}
