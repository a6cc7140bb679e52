/**
 * The generic control API under `/_emulator/` (no auth; never used by the provider). Tests and
 * people use it to seed environments, switch faults, tune settings and the clock, inspect the
 * request log and read or write rows directly. The dual-write runtime adds its own control
 * routes after these (`runtimeControlRoutes`).
 *
 * | route                                        | does                                             |
 * |----------------------------------------------|--------------------------------------------------|
 * | `GET health`                                 | `{status:"ok"}`                                  |
 * | `GET info`                                   | url, tenant and client ids, gateway URL, CA path (no secret) |
 * | `GET/PUT/POST/DELETE faults`, `DELETE faults/<id>` | list, replace, add, clear, remove fault rules |
 * | `GET/PUT settings`                           | read or change `EmulatorSettings` (partial)      |
 * | `GET/PUT clock`                              | `{now, speed}`; PUT `{speed?, advanceMs?}`        |
 * | `GET requests[?since=<seq>]`, `DELETE requests` | the request log; clear it                     |
 * | `GET environments`, `POST seed`              | environment pairs; seed one `{scenario, name?, size?}` |
 * | `POST tokens`                                | mint a signed token with chosen claims (tests of 401 paths) |
 * | `GET/POST dataverse/<org>/<table>`, `GET/PATCH dataverse/<org>/<table>/<key>` | rows (same for `fno/<env>/…`) |
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { ScaledClock } from "../core/clock";
import type { HostPlan } from "../core/hosts";
import type { FaultEngine } from "../core/faults";
import {
  EmulatorHttpError,
  type EmulatorRequest,
  type EmulatorResponse,
  ok,
  type Route,
} from "../core/http";
import type { RequestLog } from "../core/requestLog";
import { applySettings, describeIssues, parseSettingsUpdate } from "../core/settings";
import type { TokenService } from "../identity/tokens";
import {
  DuplicateKeyError,
  RowNotFoundError,
  UnknownTableError,
  type Row,
  type TableSet,
} from "../store/tables";

/** An environment pair as the control API and `startEmulator` describe it. */
export interface EnvironmentInfo {
  readonly name: string;
  readonly scenario: string;
  readonly cid: string;
  readonly defaultCompany: string;
  /** `https://127.0.0.(11+2i):<port>`: the F&O environment's own host (OData at `/data/…`). */
  readonly financeOperationsUrl: string;
  /** `https://127.0.0.(12+2i):<port>`: the Dataverse environment's own host (`/api/data/v9.2/…`). */
  readonly dataverseUrl: string;
}

/** A request to seed one environment pair. */
export interface SeedSpec {
  /** One of the six scenarios (or another seed name the seeds module knows). */
  readonly scenario: string;
  /** Name of the pair (control API, request log). @default the scenario name */
  readonly name?: string;
  /** Rows per table per company, for seeds with data. @default the seed's own default */
  readonly size?: number;
}

/** What the control routes reach. */
export interface ControlDeps {
  readonly ctx: EmulatorContext;
  readonly clock: ScaledClock;
  readonly faults: FaultEngine;
  readonly requestLog: RequestLog;
  readonly tokens: TokenService;
  /** Seeds one pair (fails with 409 when the name exists). */
  readonly seed: (spec: SeedSpec) => Promise<EnvironmentInfo>;
  /** Public, secret-free facts about the emulator. */
  readonly info: () => Record<string, unknown>;
}

/** Describes a pair with its URLs (from the address plan, `core/hosts.ts`). */
export function environmentInfo(hosts: HostPlan, pair: EnvironmentPair): EnvironmentInfo {
  return {
    name: pair.name,
    scenario: pair.scenario,
    cid: pair.cid,
    defaultCompany: pair.defaultCompany,
    financeOperationsUrl: hosts.fnoUrl(pair.name),
    dataverseUrl: hosts.dataverseUrl(pair.name),
  };
}

const seedSchema = z
  .object({
    scenario: z.string().min(1),
    name: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/,
        "use letters, digits, '-' or '_' (it becomes part of URLs)",
      )
      .optional(),
    size: z.number().int().min(0).optional(),
  })
  .strict();

const tokenSchema = z
  .object({
    audience: z.string().min(1),
    tenantId: z.string().min(1).optional(),
    appId: z.string().min(1).optional(),
    lifetimeSeconds: z.number().int().min(-86_400).max(86_400).optional(),
  })
  .strict();

const clockSchema = z
  .object({ speed: z.number().positive().optional(), advanceMs: z.number().min(0).optional() })
  .strict();

/** The generic control routes (paths below `/_emulator/`). */
export function controlRoutes(deps: ControlDeps): Route[] {
  const { ctx, faults, requestLog } = deps;
  const rows = "(?<kind>dataverse|fno)/(?<instance>[^/]+)/(?<table>[^/]+)";
  return [
    route("GET", /^health$/, () => ok({ status: "ok" })),
    route("GET", /^info$/, () => ok(deps.info())),

    route("GET", /^faults$/, () => ok({ rules: faults.list() })),
    route("PUT", /^faults$/, (req) => ok({ rules: faults.replace(jsonBody(req)) })),
    route("POST", /^faults$/, (req) => ({ status: 201, body: faults.add(jsonBody(req)) })),
    route("DELETE", /^faults$/, () => (faults.clear(), noContent())),
    route("DELETE", /^faults\/(?<id>[^/]+)$/, (req) => {
      if (!faults.remove(req.params.id ?? "")) throw notFound(`No fault rule '${req.params.id}'.`);
      return noContent();
    }),

    route("GET", /^settings$/, () => ok(ctx.settings)),
    route("PUT", /^settings$/, async (req) => {
      applySettings(ctx.settings, parseSettingsUpdate(jsonBody(req)));
      await ctx.persist();
      return ok(ctx.settings);
    }),

    route("GET", /^clock$/, () => ok(clockState(deps.clock))),
    route("PUT", /^clock$/, async (req) => {
      const update = parse(clockSchema, jsonBody(req), "clock");
      if (update.speed !== undefined) deps.clock.setSpeed(update.speed);
      if (update.advanceMs !== undefined) deps.clock.advance(update.advanceMs);
      await ctx.persist();
      return ok(clockState(deps.clock));
    }),

    route("GET", /^requests$/, (req) => {
      const since = req.query.get("since");
      if (since !== null && !/^\d+$/.test(since))
        throw badRequest(`since: expected a sequence number, got '${since}'.`);
      return ok(requestLog.list(since === null ? 0 : Number(since)));
    }),
    route("DELETE", /^requests$/, () => (requestLog.clear(), noContent())),

    route("GET", /^environments$/, () =>
      ok([...ctx.environments.values()].map((p) => environmentInfo(ctx.hosts, p))),
    ),
    route("POST", /^seed$/, async (req) => {
      const spec = parse(seedSchema, jsonBody(req), "seed");
      return { status: 201, body: await deps.seed(spec) };
    }),

    route("POST", /^tokens$/, async (req) => {
      const spec = parse(tokenSchema, jsonBody(req), "token");
      const lifetimeSeconds = spec.lifetimeSeconds ?? ctx.settings.tokenLifetimeSeconds;
      const token = await deps.tokens.issue({ ...spec, lifetimeSeconds });
      return ok({ token_type: "Bearer", expires_in: lifetimeSeconds, access_token: token });
    }),

    route("GET", new RegExp(`^${rows}$`), (req) => {
      const { set, table } = tableOf(ctx, req);
      return ok(set.all(table).map((s) => s.row));
    }),
    route("POST", new RegExp(`^${rows}$`), async (req) => {
      const { set, table } = tableOf(ctx, req);
      const body = jsonBody(req);
      const list = Array.isArray(body) ? body : [body];
      const keys: string[] = [];
      for (const [i, item] of list.entries()) {
        if (typeof item !== "object" || item === null || Array.isArray(item))
          throw badRequest(`rows[${i}]: expected a JSON object.`);
        const row = withGeneratedKey(set, table, item as Row);
        guardStore(() => set.insert(table, row, "control"));
        keys.push(set.keyOf(table, row));
      }
      await ctx.persist();
      return { status: 201, body: { inserted: keys.length, keys } };
    }),
    route("GET", new RegExp(`^${rows}/(?<key>[^/]+)$`), (req) => {
      const { set, table } = tableOf(ctx, req);
      const stored = set.get(table, keyFromSegment(set, table, req.params.key ?? ""));
      if (!stored) throw notFound(`No row '${req.params.key}' in '${table}'.`);
      return ok(stored.row);
    }),
    route("PATCH", new RegExp(`^${rows}/(?<key>[^/]+)$`), async (req) => {
      const { set, table } = tableOf(ctx, req);
      const changes = jsonBody(req);
      if (typeof changes !== "object" || changes === null || Array.isArray(changes))
        throw badRequest("Expected a JSON object of columns to change.");
      const stored = guardStore(() =>
        set.update(
          table,
          keyFromSegment(set, table, req.params.key ?? ""),
          changes as Row,
          "control",
        ),
      );
      await ctx.persist();
      return ok(stored.row);
    }),
  ];
}

function route(method: string, pattern: RegExp, handle: Route["handle"]): Route {
  return { method, pattern, handle };
}

function tableOf(ctx: EmulatorContext, req: EmulatorRequest): { set: TableSet; table: string } {
  const kind = req.params.kind === "fno" ? "fno" : "dataverse";
  const instance = req.params.instance ?? "";
  const set = (kind === "fno" ? ctx.fno : ctx.dataverse).get(instance);
  if (!set)
    throw notFound(`No ${kind === "fno" ? "F&O" : "Dataverse"} environment named '${instance}'.`);
  const table = req.params.table ?? "";
  if (!set.definition(table)) {
    throw notFound(
      `'${instance}' has no table '${table}'. Tables: ${set.tableNames().slice(0, 20).join(", ")}${set.tableNames().length > 20 ? ", …" : ""}.`,
    );
  }
  return { set, table };
}

/**
 * The storage key from a URL segment: for one key field the segment is the value; for composite
 * keys (F&O) it is the values in key order separated by commas, e.g. `usmf,US-001`.
 */
function keyFromSegment(set: TableSet, table: string, segment: string): string {
  const fields = set.definition(table)!.keyFields;
  const values = fields.length === 1 ? [segment] : segment.split(",");
  if (values.length !== fields.length)
    throw badRequest(
      `Key '${segment}': expected ${fields.length} comma-separated values (${fields.join(", ")}).`,
    );
  const row: Row = {};
  fields.forEach((f, i) => (row[f] = values[i]));
  return set.keyOf(table, row);
}

/** Dataverse rows get a new GUID primary key when they come without one, as the Web API does. */
function withGeneratedKey(set: TableSet, table: string, row: Row): Row {
  const fields = set.definition(table)!.keyFields;
  if (
    set.kind === "dataverse" &&
    fields.length === 1 &&
    (row[fields[0]!] === undefined || row[fields[0]!] === null)
  ) {
    return { ...row, [fields[0]!]: randomUUID() };
  }
  return row;
}

/** Store errors become 404/409; a listener's veto (the runtime refusing a write) becomes 409. */
function guardStore<T>(write: () => T): T {
  try {
    return write();
  } catch (e) {
    if (e instanceof RowNotFoundError || e instanceof UnknownTableError) throw notFound(e.message);
    if (e instanceof DuplicateKeyError) throw new EmulatorHttpError(409, "DuplicateKey", e.message);
    if (e instanceof EmulatorHttpError) throw e;
    throw new EmulatorHttpError(
      409,
      "WriteRefused",
      `The write was refused: ${(e as Error).message}`,
    );
  }
}

function clockState(clock: ScaledClock): { now: number; iso: string; speed: number } {
  const now = clock.now();
  return { now, iso: new Date(now).toISOString(), speed: clock.speed };
}

function jsonBody(req: EmulatorRequest): unknown {
  const text = req.body.toString("utf8").trim();
  if (text === "") throw badRequest("Expected a JSON body.");
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`The body is not valid JSON (${(e as Error).message}).`);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(describeIssues(what, result.error));
  return result.data;
}

function noContent(): EmulatorResponse {
  return { status: 204 };
}

function badRequest(message: string): EmulatorHttpError {
  return new EmulatorHttpError(400, "BadRequest", message);
}

function notFound(message: string): EmulatorHttpError {
  return new EmulatorHttpError(404, "NotFound", message);
}
