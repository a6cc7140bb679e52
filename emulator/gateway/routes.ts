/**
 * The DualWriteManagement gateway (docs/wire-contract.md, "Gateway"). Paths are below
 * `/gateway/`; `DWM/` stands for `api/DualWriteManagement/1.0/`. The server has already checked
 * the bearer token (audience `https://IntegratorApp.com`). Handlers parse and validate, call the
 * runtime, persist acknowledged changes and answer; the behaviour lives in `emulator/runtime/`.
 *
 * | call                                                  | runtime method          |
 * |-------------------------------------------------------|-------------------------|
 * | `GET DWM/Environments?targetType&identifier`          | `resolveEnvironments`   |
 * | `GET api/ConnectionSet/<cname>`                       | `connectionSet`         |
 * | `POST api/ConnectionSet/<cid>/Reset?forceReset`       | `reset`                 |
 * | `PUT api/ConnectionSet/<cid>/LegalEntities`           | `editLegalEntities`     |
 * | `GET DWM/Entities?cid`                                | `listMaps`              |
 * | `POST DWM/Start`                                      | `start`                 |
 * | `GET DWM/Status/<requestId>`                          | `requestStatus`         |
 * | `POST DWM/GetTemplatePrerequisiteSequences/<cid>`     | `prerequisiteSequences` |
 * | `GET DWM/<pid>/FieldMappings`                         | `fieldMappings`         |
 * | `GET DWM/SolutionAware/<cid>/Solutions/`              | `solutions`             |
 * | `POST DWM/SolutionAware/<cid>/RestoreTemplates`       | `applySolutions`        |
 * | `GET DWM/SolutionAware/<cid>/Status/<requestId>`      | `solutionStatus`        |
 * | `POST DWM/SolutionAware/<cid>/SwitchActive/<id>?pid`  | `switchActive`          |
 * | `GET/POST api/dataset/<org>/IntegrationKeys`          | `integrationKeys`, `setIntegrationKeys` |
 * | `GET api/ProjectExecutionWithCompanies/<pid>`         | `projectExecutions`     |
 * | `POST api/Project/<name>/Refresh`                     | (no-op: tables are always current) |
 */
import { z } from "zod";
import type { EmulatorContext } from "../core/context";
import {
  type EmulatorRequest,
  type EmulatorResponse,
  ok,
  pathRoute,
  type Route,
} from "../core/http";
import { describeIssues } from "../core/settings";
import { gatewayErrors } from "../runtime/errors";
import { mapActions } from "../runtime/state";
import type { DualWriteRuntime, StartDetail } from "../runtime/runtime";

const dwm = "api/DualWriteManagement/1\\.0";

const resetSchema = z
  .object({
    powerAppsEnvironmentName: z.string().min(1).optional(),
    environments: z.array(z.string()).optional(),
    legalEntities: z.array(z.string()).optional(),
    skipInitialWritesForNewLegalEntities: z.boolean().optional(),
  })
  .passthrough();

const legalEntitiesSchema = z.object({
  legalEntities: z.array(z.string()),
  skipInitialWritesForNewLegalEntities: z.boolean().optional(),
});

const startSchema = z.object({
  action: z.unknown(),
  details: z
    .array(
      z.object({
        tid: z.string().min(1),
        pid: z.string().optional(),
        cid: z.string().min(1),
        parameters: z
          .object({
            skipInitialSync: z.boolean().optional(),
            conflictResolution: z
              .object({
                option: z.union([z.string(), z.number()]).optional(),
                master: z.enum(["CRM", "AX"]).optional(),
              })
              .optional(),
            legalEntities: z.array(z.string()).optional(),
          })
          .optional(),
      }),
    )
    .min(1),
});

const restoreTemplatesSchema = z.object({
  action: z.union([z.literal("2"), z.literal(2)]),
  solutions: z.array(z.object({ criteria: z.object({ uniquename: z.string().min(1) }) })).min(1),
});

const keysSchema = z.object({
  datasetName: z.string().optional(),
  integrationKeys: z.record(z.string(), z.array(z.string())),
});

/** The gateway's routes. */
export function gatewayRoutes(ctx: EmulatorContext, runtime: DualWriteRuntime): Route[] {
  const persisted = async (response: EmulatorResponse): Promise<EmulatorResponse> => {
    await ctx.persist();
    return response;
  };

  return [
    pathRoute("GET", `${dwm}/Environments`, (req) => {
      const targetType = req.query.get("targetType") ?? "AX";
      if (!["AX", "CRM"].includes(targetType.toUpperCase())) {
        throw gatewayErrors.badRequest(`targetType must be AX or CRM, got '${targetType}'.`);
      }
      const identifier = req.query.get("identifier");
      if (!identifier)
        throw gatewayErrors.badRequest("identifier is required: the environment's URL.");
      return ok(runtime.resolveEnvironments(targetType, identifier));
    }),

    pathRoute("GET", "api/ConnectionSet/(?<cname>[^/]+)", (_req, p) =>
      ok(runtime.connectionSet(p.cname ?? "")),
    ),

    pathRoute("POST", "api/ConnectionSet/(?<cid>[^/]+)/Reset", async (req, p) => {
      const body = parseBody(req, resetSchema, "body", true) ?? {};
      const force = parseBoolean(req.query.get("forceReset"), "forceReset");
      const answer = runtime.reset(p.cid ?? "", body, force, req.claims);
      return persisted(ok(answer));
    }),

    pathRoute("PUT", "api/ConnectionSet/(?<cid>[^/]+)/LegalEntities", async (req, p) => {
      const body = parseBody(req, legalEntitiesSchema, "body", false) as z.infer<
        typeof legalEntitiesSchema
      >;
      const answer = runtime.editLegalEntities(
        p.cid ?? "",
        body.legalEntities,
        body.skipInitialWritesForNewLegalEntities ?? false,
      );
      return persisted(ok(answer));
    }),

    pathRoute("GET", `${dwm}/Entities`, (req) => {
      const cid = req.query.get("cid");
      if (!cid)
        throw gatewayErrors.badRequest(
          "cid is required: the environment id from GET Environments.",
        );
      return ok(runtime.listMaps(cid));
    }),

    pathRoute("POST", `${dwm}/Start`, async (req) => {
      const raw = parseJson(req);
      const action = parseAction((raw as { action?: unknown } | undefined)?.action);
      const body = validate(startSchema, raw, "body");
      const details: StartDetail[] = body.details.map((d) => ({
        tid: d.tid,
        cid: d.cid,
        ...(d.pid === undefined ? {} : { pid: d.pid }),
        parameters: {
          // Starting skips initial sync unless told otherwise; initial sync is action 8.
          skipInitialSync: d.parameters?.skipInitialSync ?? true,
          // The master defaults to Dataverse, as in the Run dialog (DW/enable-entity-map.md).
          master: d.parameters?.conflictResolution?.master ?? "CRM",
          legalEntities: d.parameters?.legalEntities ?? null,
        },
      }));
      const answer = runtime.start(action, details);
      return persisted({ status: 202, body: answer });
    }),

    pathRoute("GET", `${dwm}/Status/(?<requestId>[^/]+)`, (_req, p) =>
      ok(runtime.requestStatus(p.requestId ?? "")),
    ),

    pathRoute("POST", `${dwm}/GetTemplatePrerequisiteSequences/(?<cid>[^/]+)`, (req, p) => {
      const tids = validate(z.array(z.string().min(1)), parseJson(req), "body");
      return ok(runtime.prerequisiteSequences(p.cid ?? "", tids));
    }),

    pathRoute("GET", `${dwm}/SolutionAware/(?<cid>[^/]+)/Solutions/?`, (_req, p) =>
      ok(runtime.solutions(p.cid ?? "")),
    ),

    pathRoute("POST", `${dwm}/SolutionAware/(?<cid>[^/]+)/RestoreTemplates`, async (req, p) => {
      const body = validate(restoreTemplatesSchema, parseJson(req), "body");
      const answer = runtime.applySolutions(
        p.cid ?? "",
        body.solutions.map((s) => s.criteria.uniquename),
      );
      return persisted({ status: 202, body: answer });
    }),

    pathRoute("GET", `${dwm}/SolutionAware/(?<cid>[^/]+)/Status/(?<requestId>[^/]+)`, (_req, p) =>
      ok(runtime.solutionStatus(p.cid ?? "", p.requestId ?? "")),
    ),

    pathRoute(
      "POST",
      `${dwm}/SolutionAware/(?<cid>[^/]+)/SwitchActive/(?<templateId>[^/]+)`,
      async (req, p) => {
        const answer = runtime.switchActive(
          p.cid ?? "",
          p.templateId ?? "",
          req.query.get("pid") ?? undefined,
        );
        return persisted(ok(answer));
      },
    ),

    // After the SolutionAware routes, so that `SolutionAware` is never read as a pid.
    pathRoute("GET", `${dwm}/(?<pid>DWM-[^/]+)/FieldMappings`, (_req, p) =>
      ok(runtime.fieldMappings(p.pid ?? "")),
    ),

    pathRoute("GET", "api/dataset/(?<org>.+)/IntegrationKeys", (_req, p) =>
      ok(runtime.integrationKeys(p.org ?? "")),
    ),
    pathRoute("POST", "api/dataset/(?<org>.+)/IntegrationKeys", async (req, p) => {
      const body = validate(keysSchema, parseJson(req), "body");
      return persisted(ok(runtime.setIntegrationKeys(p.org ?? "", body.integrationKeys)));
    }),

    pathRoute("GET", "api/ProjectExecutionWithCompanies/(?<pid>[^/]+)", (_req, p) =>
      ok(runtime.projectExecutions(p.pid ?? "")),
    ),

    // The UI's "Refresh tables": the emulator's schemas never go stale, so there is nothing to do.
    pathRoute("POST", "api/Project/(?<name>[^/]+)/Refresh", () => ok({})),
  ];
}

/** The JSON body, or undefined when empty; 400 when it is not JSON. */
function parseJson(req: EmulatorRequest): unknown {
  const text = req.body.toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw gatewayErrors.badRequest("The request body is not valid JSON.");
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw gatewayErrors.badRequest(describeIssues(what, result.error));
  return result.data;
}

function parseBody<T>(
  req: EmulatorRequest,
  schema: z.ZodType<T>,
  what: string,
  optional: boolean,
): T | undefined {
  const raw = parseJson(req);
  if (raw === undefined) {
    if (optional) return undefined;
    throw gatewayErrors.badRequest(`${what}: a JSON body is required.`);
  }
  return validate(schema, raw, what);
}

/** The action of `POST Start`: a number or a numeric string among 1, 2, 3, 4, 8. */
function parseAction(action: unknown): number {
  const n =
    typeof action === "number"
      ? action
      : typeof action === "string" && /^\d+$/.test(action.trim())
        ? Number(action)
        : NaN;
  if (!mapActions.includes(n)) throw gatewayErrors.invalidAction(action);
  return n;
}

function parseBoolean(value: string | null, name: string): boolean {
  if (value === null || value === "") return false;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw gatewayErrors.badRequest(`${name} must be true or false, got '${value}'.`);
}
