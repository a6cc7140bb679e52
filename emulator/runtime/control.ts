/**
 * Control routes of the dual-write runtime, mounted below `/_emulator/` (no auth; never used by
 * the provider). They let tests inspect the runtime and make drift "by hand", as a person in the
 * admin UI would, without going through the gateway's guards.
 *
 * | call                                               | what it does                                   |
 * |----------------------------------------------------|------------------------------------------------|
 * | `GET links`                                        | every link: environments, legal entities, solutions |
 * | `DELETE links/<env>/legal-entities/<code>`         | removes a legal entity from a link (no guards)  |
 * | `GET maps?env=<name>`                              | maps of a link with state, queue, catch-up errors, initial-sync runs |
 * | `PUT maps/<env>/<tName>/state` `{state}`           | sets a map's state at once (number 0–6 or name) |
 * | `PUT maps/<env>/<tName>/version` `{version, author?}` | makes a version active, whatever the state   |
 * | `GET jobs`                                         | initial-sync jobs and their progress            |
 * | `PUT integration/<org>` `{integrated}`             | removes or restores an org's Power Platform integration with its pair's F&O environment |
 * | `PUT bulk-rows` `{env, side, table, company?, count}` | the table holds exactly `count` generated rows for the company (`seeds/bulk.ts`) |
 */
import { z } from "zod";
import type { EmulatorContext } from "../core/context";
import {
  EmulatorHttpError,
  type EmulatorRequest,
  type EmulatorResponse,
  ok,
  pathRoute,
  type Route,
} from "../core/http";
import { describeIssues } from "../core/settings";
import { setBulkRows } from "../seeds/bulk";
import type { DualWriteRuntime } from "./runtime";
import { MapState } from "./state";

const stateSchema = z.object({ state: z.union([z.number().int(), z.string().min(1)]) }).strict();
const versionSchema = z
  .object({
    version: z.string().regex(/^\d+\.\d+\.\d+\.\d+$/),
    author: z.string().min(1).optional(),
  })
  .strict();
const integrationSchema = z.object({ integrated: z.boolean() }).strict();
const bulkRowsSchema = z
  .object({
    env: z.string().min(1),
    side: z.enum(["fno", "dataverse"]),
    table: z.string().min(1),
    company: z.string().optional(),
    count: z.number().int().min(0),
  })
  .strict();

/** The runtime's control routes. */
export function runtimeControlRoutes(ctx: EmulatorContext, runtime: DualWriteRuntime): Route[] {
  const persisted = async (body: unknown): Promise<EmulatorResponse> => {
    await ctx.persist();
    return { status: 200, body };
  };
  return [
    pathRoute("GET", "links", () => ok(runtime.linksView())),
    pathRoute("DELETE", "links/(?<env>[^/]+)/legal-entities/(?<code>[^/]+)", (_req, p) =>
      persisted(runtime.removeLegalEntityByHand(p.env ?? "", p.code ?? "")),
    ),
    pathRoute("GET", "maps", (req) => {
      const env = req.query.get("env");
      if (!env) throw badRequest("env is required: the name of the environment pair.");
      return ok(runtime.mapsView(env));
    }),
    pathRoute("PUT", "maps/(?<env>[^/]+)/(?<map>[^/]+)/state", (req, p) => {
      const { state } = parse(stateSchema, req, "body");
      const number =
        typeof state === "number" ? state : (MapState as Record<string, number>)[state];
      if (number === undefined) {
        throw badRequest(
          `state: '${String(state)}' is not a map state; use ${Object.keys(MapState).join(", ")} or 0–6.`,
        );
      }
      return persisted(runtime.setMapStateByHand(p.env ?? "", p.map ?? "", number));
    }),
    pathRoute("PUT", "maps/(?<env>[^/]+)/(?<map>[^/]+)/version", (req, p) => {
      const body = parse(versionSchema, req, "body");
      return persisted(
        runtime.setActiveTemplateByHand(p.env ?? "", p.map ?? "", body.version, body.author),
      );
    }),
    pathRoute("GET", "jobs", () => ok(runtime.jobsView())),
    pathRoute("PUT", "integration/(?<org>[^/]+)", (req, p) => {
      const { integrated } = parse(integrationSchema, req, "body");
      return persisted(runtime.setIntegratedByHand(p.org ?? "", integrated));
    }),
    pathRoute("PUT", "bulk-rows", (req) => {
      const body = parse(bulkRowsSchema, req, "body");
      return persisted(
        setBulkRows(ctx, {
          env: body.env,
          side: body.side,
          table: body.table,
          ...(body.company !== undefined ? { company: body.company } : {}),
          count: body.count,
        }),
      );
    }),
  ];
}

function badRequest(message: string): EmulatorHttpError {
  return new EmulatorHttpError(400, "BadRequest", message);
}

function parse<T>(schema: z.ZodType<T>, req: EmulatorRequest, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString("utf8") || "null") as unknown;
  } catch {
    throw badRequest("The request body is not valid JSON.");
  }
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(describeIssues(what, result.error));
  return result.data;
}
