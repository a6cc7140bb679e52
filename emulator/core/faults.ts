/**
 * Fault injection: rules that make matching requests slow, throttled, failed or cut off, so the
 * provider's retry and idempotency paths can be exercised on purpose.
 *
 * A rule matches by surface, optionally method, a regular expression over the URL path and the
 * environment pair addressed (each environment has its own host, so the path no longer names it). It
 * fires either on the next `count` matching requests or with probability `rate`, drawn from a PRNG
 * seeded per rule so that a test sees the same sequence on every run. Kinds:
 *
 * | kind              | effect                                                                 |
 * |-------------------|------------------------------------------------------------------------|
 * | `latency`         | waits `latencyMs` real milliseconds before handling (adds up)           |
 * | `throttle`        | answers 429 with `Retry-After: <retryAfterSeconds>` in the surface shape |
 * | `error`           | answers `status` (5xx, default 503) in the surface shape               |
 * | `drop`            | destroys the socket before reading or answering anything               |
 * | `dropAfterCommit` | runs the handler (the write commits and persists), then destroys the socket: the ambiguous response |
 *
 * Token lifetime, job speed and transition time are settings, not rules (`/_emulator/settings`).
 */
import { z } from "zod";
import { EmulatorHttpError, type Surface } from "./http";
import { describeIssues } from "./settings";

/** What a rule does when it fires. */
export type FaultKind = "latency" | "throttle" | "error" | "drop" | "dropAfterCommit";

/** Surfaces a rule can target; the control API is never faulted. */
export type FaultSurface = Exclude<Surface, "control"> | "*";

/** A rule as given by a caller (`startEmulator({ faults })`, `POST /_emulator/faults`). */
export interface FaultRuleInput {
  readonly kind: FaultKind;
  /** Which surface. @default "*" (identity, gateway, dataverse and fno) */
  readonly surface?: FaultSurface;
  /** HTTP method, case-insensitive. @default any */
  readonly method?: string;
  /** Regular expression tested against the URL path (no query), e.g. `"/api/data/v9\\.2/accounts"`. */
  readonly path?: string;
  /** Name of the environment pair a Dataverse or F&O request addresses (by its host). @default any */
  readonly environment?: string;
  /** Fire on the next `count` matching requests, then stop. */
  readonly count?: number;
  /** Probability (0–1) of firing per matching request. @default 1 */
  readonly rate?: number;
  /** Seed of the rule's PRNG (used with `rate`). @default 1 */
  readonly seed?: number;
  /** `latency`: real milliseconds to wait. */
  readonly latencyMs?: number;
  /** `throttle`: the `Retry-After` value in seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** `error`: the status to answer, 500–599. @default 503 */
  readonly status?: number;
}

/** A rule as stored and listed: the input plus its id, what is left of `count` and how often it fired. */
export interface FaultRule extends FaultRuleInput {
  readonly id: string;
  readonly surface: FaultSurface;
  /** Firings left when `count` was given. */
  readonly remaining?: number;
  /** How many times the rule fired. */
  readonly hits: number;
}

/** What the server must do with one request, decided before it is handled. */
export interface FaultDecision {
  /** Real milliseconds to wait first. */
  readonly latencyMs: number;
  /** Answer or cut off instead of handling; at most one terminal rule fires per request. */
  readonly terminal?:
    | { readonly kind: "throttle"; readonly ruleId: string; readonly retryAfterSeconds: number }
    | { readonly kind: "error"; readonly ruleId: string; readonly status: number }
    | { readonly kind: "drop"; readonly ruleId: string };
  /** Handle the request, then destroy the socket instead of answering. */
  readonly dropAfterCommitRuleId?: string;
}

const ruleSchema = z
  .object({
    kind: z.enum(["latency", "throttle", "error", "drop", "dropAfterCommit"]),
    surface: z.enum(["identity", "gateway", "dataverse", "fno", "*"]).optional(),
    method: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    environment: z.string().min(1).optional(),
    count: z.number().int().min(1).optional(),
    rate: z.number().min(0).max(1).optional(),
    seed: z.number().int().optional(),
    latencyMs: z.number().min(0).max(600_000).optional(),
    retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
    status: z.number().int().min(500).max(599).optional(),
  })
  .strict()
  .superRefine((rule, ctx) => {
    if (rule.kind === "latency" && rule.latencyMs === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["latencyMs"],
        message: "a latency rule needs latencyMs (milliseconds)",
      });
    }
    if (rule.path !== undefined) {
      try {
        new RegExp(rule.path);
      } catch (e) {
        ctx.addIssue({
          code: "custom",
          path: ["path"],
          message: `not a valid regular expression (${(e as Error).message})`,
        });
      }
    }
  });

/** A stored rule with its mutable counters and PRNG. */
interface LiveRule {
  readonly input: z.infer<typeof ruleSchema>;
  readonly id: string;
  readonly pathPattern?: RegExp;
  readonly random: () => number;
  remaining?: number;
  hits: number;
}

/** The set of active fault rules and the decision for each request. */
export class FaultEngine {
  private rules: LiveRule[] = [];
  private nextId = 1;

  /** The active rules, in evaluation order. */
  list(): FaultRule[] {
    return this.rules.map((r) => ({
      ...r.input,
      id: r.id,
      surface: r.input.surface ?? "*",
      ...(r.remaining === undefined ? {} : { remaining: r.remaining }),
      hits: r.hits,
    }));
  }

  /** Validates and adds one rule; throws a 400 `EmulatorHttpError` naming bad properties. */
  add(input: unknown): FaultRule {
    const live = this.build(input, "fault");
    this.rules.push(live);
    return this.list().find((r) => r.id === live.id)!;
  }

  /** Replaces every rule (all are validated first, so a bad list changes nothing). */
  replace(inputs: unknown): FaultRule[] {
    if (!Array.isArray(inputs)) {
      throw new EmulatorHttpError(
        400,
        "InvalidFault",
        "faults: expected a JSON array of fault rules.",
      );
    }
    const built: LiveRule[] = [];
    const problems: string[] = [];
    inputs.forEach((input, i) => {
      try {
        built.push(this.build(input, `faults[${i}]`));
      } catch (e) {
        problems.push((e as Error).message);
      }
    });
    // Report every bad rule at once, and change nothing unless all are good.
    if (problems.length > 0) throw new EmulatorHttpError(400, "InvalidFault", problems.join(" "));
    this.rules = built;
    return this.list();
  }

  /** Removes one rule; false when there is no rule with that id. */
  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length !== before;
  }

  /** Removes every rule. */
  clear(): void {
    this.rules = [];
  }

  /**
   * Decides what happens to one request. Rules are evaluated in order; latencies add up, and
   * once a terminal rule (throttle, error, drop) fired, later terminal rules are not consulted,
   * so their counts are not used up by requests they could not affect.
   */
  decide(surface: Surface, method: string, path: string, environment?: string): FaultDecision {
    if (surface === "control") return { latencyMs: 0 };
    let latencyMs = 0;
    let terminal: FaultDecision["terminal"];
    let dropAfterCommitRuleId: string | undefined;
    for (const rule of this.rules) {
      const kind = rule.input.kind;
      if (terminal && kind !== "latency") continue;
      if (dropAfterCommitRuleId && kind === "dropAfterCommit") continue;
      if (!this.matches(rule, surface, method, path, environment) || !this.fires(rule)) continue;
      switch (kind) {
        case "latency":
          latencyMs += rule.input.latencyMs ?? 0;
          break;
        case "throttle":
          terminal = {
            kind,
            ruleId: rule.id,
            retryAfterSeconds: rule.input.retryAfterSeconds ?? 1,
          };
          break;
        case "error":
          terminal = { kind, ruleId: rule.id, status: rule.input.status ?? 503 };
          break;
        case "drop":
          terminal = { kind, ruleId: rule.id };
          break;
        case "dropAfterCommit":
          dropAfterCommitRuleId = rule.id;
          break;
      }
    }
    return {
      latencyMs,
      ...(terminal ? { terminal } : {}),
      ...(dropAfterCommitRuleId ? { dropAfterCommitRuleId } : {}),
    };
  }

  private matches(
    rule: LiveRule,
    surface: Surface,
    method: string,
    path: string,
    environment: string | undefined,
  ): boolean {
    const s = rule.input.surface ?? "*";
    if (s !== "*" && s !== surface) return false;
    if (rule.input.method && rule.input.method.toUpperCase() !== method.toUpperCase()) return false;
    if (rule.input.environment !== undefined && rule.input.environment !== environment)
      return false;
    if (rule.pathPattern && !rule.pathPattern.test(path)) return false;
    return rule.remaining === undefined || rule.remaining > 0;
  }

  private fires(rule: LiveRule): boolean {
    // Draw only when a rate is set, so count-only rules never disturb a seeded sequence.
    if (rule.input.rate !== undefined && rule.random() >= rule.input.rate) return false;
    if (rule.remaining !== undefined) rule.remaining--;
    rule.hits++;
    return true;
  }

  private build(input: unknown, what: string): LiveRule {
    const parsed = ruleSchema.safeParse(input);
    if (!parsed.success) {
      throw new EmulatorHttpError(400, "InvalidFault", describeIssues(what, parsed.error));
    }
    const rule = parsed.data;
    return {
      input: rule,
      id: `f${this.nextId++}`,
      ...(rule.path ? { pathPattern: new RegExp(rule.path) } : {}),
      random: mulberry32(rule.seed ?? 1),
      ...(rule.count === undefined ? {} : { remaining: rule.count }),
      hits: 0,
    };
  }
}

/** A small, well-known seeded PRNG (Mulberry32): uniform floats in [0, 1), same sequence per seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
