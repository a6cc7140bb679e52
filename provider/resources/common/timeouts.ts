/**
 * Program-level timeouts of the long waits (map actions, initial syncs, solutions, link changes).
 *
 * A provider plugin gets the resource's `customTimeouts` from the engine with each create, update
 * and delete (`provider/plugin/server.ts`). A dynamic provider does not: `@pulumi/pulumi`'s
 * dynamic-provider host drops the engine's timeout. So every resource also takes a `timeouts`
 * input, `{create?, update?, delete?}` in the engine's own duration syntax (`"30m"`, `"2h"`,
 * `"1h30m"`, `"90s"`), which both adapters take out of the inputs before the lifecycle sees them
 * and turn into a deadline: each wait may last at most what is left of the operation's time when
 * it starts, and never longer than its default. When both are given, the earlier deadline holds.
 *
 * A wait that reaches its deadline ends with a `TimeoutError`; nothing is undone, and what the
 * gateway was doing goes on there (an initial sync keeps running; the next `pulumi up` adopts it).
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import type { HandlerOptions } from "./handler";
import { formatDuration, TimeoutError } from "../../errors";
import { containsUnknown, show, strictObject, type CheckFailure } from "./check";

/** The operations a timeout applies to. */
export type TimedOperation = "create" | "update" | "delete";

/** The `timeouts` input: a duration per operation, e.g. `{ create: "2h" }`. */
export interface ResourceTimeouts {
  /** How long a create may take, e.g. `"2h"`. @default the built-in limit of each wait */
  readonly create?: string;
  /** How long an update may take. @default the built-in limit of each wait */
  readonly update?: string;
  /** How long a delete may take. @default the built-in limit of each wait */
  readonly delete?: string;
}

/** The `timeouts` input as a program declares it. */
export interface ResourceTimeoutsArgs {
  /** How long a create may take, e.g. `"2h"`. @default the built-in limit of each wait */
  create?: pulumi.Input<string>;
  /** How long an update may take, e.g. `"30m"`. @default the built-in limit of each wait */
  update?: pulumi.Input<string>;
  /** How long a delete may take, e.g. `"30m"`. @default the built-in limit of each wait */
  delete?: pulumi.Input<string>;
}

/** The input property that holds the timeouts (the adapters' own input, not a lifecycle's). */
export const TIMEOUTS_PROPERTY = "timeouts";

/**
 * The resources that declare `timeouts`: those with long waits (a CompanyBootstrap makes none;
 * its requests have their own per-attempt timeouts).
 */
export const TIMED_RESOURCES: readonly string[] = [
  "DualWriteConnection",
  "EntityMapBinding",
  "InitialSyncRun",
];

const UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Milliseconds of a duration in the engine's syntax (Go's `time.ParseDuration` without the
 * sub-millisecond units): one or more `<number><unit>` with units `ms`, `s`, `m`, `h`, e.g.
 * `"1h30m"`. Undefined when the text is not such a duration or is not positive.
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    total += Number(amount) * (UNITS[unit ?? ""] ?? 0);
  return total > 0 ? Math.round(total) : undefined;
}

const duration = z
  .string({ error: (i) => `must be a duration such as "30m" or "2h"; got ${show(i.input)}` })
  .refine((v) => parseDuration(v) !== undefined, {
    error: (i) =>
      `must be a positive duration such as "90s", "30m", "2h" or "1h30m"; got ${show(i.input)}`,
  });

/** The zod schema of the `timeouts` input. */
export const timeoutsSchema = strictObject(
  { create: duration.optional(), update: duration.optional(), delete: duration.optional() },
  'timeouts such as { create: "2h" }',
).optional();

/** The `timeouts` input split off the other inputs: what the lifecycle gets, and the timeouts. */
export function splitTimeouts<T extends Record<string, unknown>>(
  inputs: T,
): { inputs: T; timeouts: ResourceTimeouts | undefined } {
  if (!(TIMEOUTS_PROPERTY in inputs)) return { inputs, timeouts: undefined };
  const { [TIMEOUTS_PROPERTY]: raw, ...rest } = inputs;
  const parsed = timeoutsSchema.safeParse(raw);
  return { inputs: rest as T, timeouts: parsed.success ? parsed.data : undefined };
}

/** The check failure of a bad `timeouts` input, or none. */
export function checkTimeouts(value: unknown): CheckFailure[] {
  // Not known yet in a preview: checked when it is.
  if (value === undefined || containsUnknown(value)) return [];
  const parsed = timeoutsSchema.safeParse(value);
  if (parsed.success) return [];
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `.${issue.path.join(".")}` : "";
  return [
    {
      property: TIMEOUTS_PROPERTY,
      reason: `timeouts${where} ${issue?.message ?? "is not valid"}.`,
    },
  ];
}

/** The deadline (ms since the epoch) that `timeouts` gives `operation` started at `startedAt`. */
export function deadlineOf(
  timeouts: ResourceTimeouts | undefined,
  operation: TimedOperation,
  startedAt: number,
): number | undefined {
  const text = timeouts?.[operation];
  const ms = text === undefined ? undefined : parseDuration(text);
  return ms === undefined ? undefined : startedAt + ms;
}

/** The earlier of two deadlines (either may be absent). */
export function earlier(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/**
 * The lifecycle's wait limits under `deadline`: each wait may last at most what is left when it
 * starts (at least a second, so that a spent deadline still gives a clear timeout), and never
 * longer than `base`'s limit. Without a deadline, `base`.
 */
export function optionsUnderDeadline(
  base: HandlerOptions,
  deadline: number | undefined,
  now: () => number = Date.now,
): HandlerOptions {
  if (deadline === undefined) return base;
  const left = (cap: number): number => Math.max(1_000, Math.min(cap, deadline - now()));
  return {
    get mapActionTimeoutMs() {
      return left(base.mapActionTimeoutMs);
    },
    get initialSyncTimeoutMs() {
      return left(base.initialSyncTimeoutMs);
    },
    get solutionTimeoutMs() {
      return left(base.solutionTimeoutMs);
    },
    get linkTimeoutMs() {
      return left(base.linkTimeoutMs);
    },
    progressIntervalMs: base.progressIntervalMs,
  };
}

/**
 * Runs `operation`'s work under the `timeouts` input and, when a wait ends on the deadline that
 * input set, says so in the error: the wait itself only knows what was left of the time when it
 * began (the reads before it took the rest), so without this the message would name a shorter
 * time than the program declared.
 */
export async function underDeclaredTimeout<T>(
  timeouts: ResourceTimeouts | undefined,
  operation: TimedOperation,
  work: () => Promise<T>,
): Promise<T> {
  const declared = timeouts?.[operation];
  try {
    return await work();
  } catch (error: unknown) {
    if (declared === undefined || !(error instanceof TimeoutError)) throw error;
    const ms = parseDuration(declared) ?? error.timeoutMs;
    throw new TimeoutError(
      `${error.message} (the ${operation} timeout declared in ${TIMEOUTS_PROPERTY}.${operation}, ${formatDuration(ms)}, ran out)`,
      ms,
      { cause: error },
    );
  }
}
