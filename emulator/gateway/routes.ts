/**
 * The DualWriteManagement gateway, at the root of its host (`gatewayUrl`): the dialect of
 * Microsoft's own tool, microsoft/Dual-write-automations @ f14edd6 (`DWLibary/…`, cited per route
 * below and in docs/emulator.md). `DWM/` stands for `api/DualWriteManagement/1.0/` (DWHttp.cs:44-57);
 * the `api/ConnectionSet`, `api/dataset`, `api/Project` and `api/ProjectExecutionWithCompanies`
 * routes hang off the host itself (DWCommonEngine.cs:366, DWMapEngine.cs:1438,1499,1605, ResetLinkEngine.cs:57). The
 * server has already checked the bearer token. Handlers parse and validate, call the runtime,
 * persist acknowledged changes and answer; the behaviour lives in `emulator/runtime/`.
 *
 * | call                                                           | runtime method          |
 * |----------------------------------------------------------------|-------------------------|
 * | `GET DWM/Environments?targetType=AX&identifier=<host>`         | `resolveEnvironments`   |
 * | `GET api/ConnectionSet/<cname>`                                | `connectionSet`         |
 * | `POST api/ConnectionSet/<cid>/Reset?targetType=AX&forceReset=` | `reset`                 |
 * | `PUT api/ConnectionSet/<cid>/LegalEntities` [choice]           | `editLegalEntities`     |
 * | `GET DWM/Entities?targetType=AX&cid=`                          | `listMaps`              |
 * | `POST DWM/Start`                                               | `start`                 |
 * | `GET DWM/Status/<requestId>`                                   | `requestStatus`         |
 * | `POST DWM/GetTemplatePrerequisiteSequences/<cid>`              | `prerequisiteSequences` |
 * | `GET DWM/<pid>/FieldMappings`                                  | `fieldMappings`         |
 * | `POST api/Project/<name>/Refresh`                              | `refreshProject`        |
 * | `GET DWM/SolutionAware/<cid>/Solutions/`                       | `solutions`             |
 * | `POST DWM/SolutionAware/<cid>/RestoreTemplates`                | `applySolutions`        |
 * | `GET DWM/SolutionAware/<cid>/Status/<requestId>`               | `solutionStatus`        |
 * | `POST DWM/SolutionAware/<cid>/SwitchActive/<templateId>?pid=`  | `switchActive`          |
 * | `POST api/dataset/<CRM environment name>/IntegrationKeys`      | `setIntegrationKeys`    |
 * | `GET api/ProjectExecutionWithCompanies/<pid>`                  | `projectExecutions`     |
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
import type { DualWriteRuntime, ResetBody, StartDetail } from "../runtime/runtime";
import { mapActionCodes, type MapActionCode, type StepParameters } from "../runtime/state";

const dwm = "api/DualWriteManagement/1\\.0";

/** Optional members the tool omits when null (Newtonsoft `NullValueHandling.Ignore`). */
const optionalText = z.string().nullish();

/** One environment of a Reset body (DWLibary/Struct/ResetLinkPayload.cs:16-24). */
const resetEnvironmentSchema = z
  .object({
    targetType: z.string().min(1),
    name: z.string().trim().min(1),
    displayName: optionalText,
    id: z.string().min(1),
    isDevInstance: z.boolean().nullish(),
    directUrl: z.string().min(1),
  })
  .passthrough();

/** The Reset body (DWLibary/Struct/ResetLinkPayload.cs:9-14, ResetLinkEngine.cs:44-97). */
const resetSchema = z
  .object({
    powerAppsEnvironmentName: optionalText,
    environments: z.array(resetEnvironmentSchema),
    legalEntities: z.array(z.string()).nullish(),
    // [choice] The emulator's extension for links of more than 40 legal entities.
    skipInitialWritesForNewLegalEntities: z.boolean().optional(),
  })
  .passthrough();

const legalEntitiesSchema = z.object({
  legalEntities: z.array(z.string()),
  skipInitialWritesForNewLegalEntities: z.boolean().optional(),
});

/**
 * The parameters of a Start detail: `MapStartStopActionParameters` or, for bulk pause/resume,
 * `MapCatchUpParameter` (DWLibary/Struct/MapsHelper.cs:13-29, DWMapEngine.cs:1759-1815). The
 * DTO is `dynamic`, so other members pass.
 */
const parametersSchema = z
  .object({
    skipInitialSync: z.boolean().optional(),
    conflictResolution: z
      .object({ option: z.string().optional(), master: z.enum(["CRM", "AX"]).optional() })
      .passthrough()
      .optional(),
    dualWriteSkipCatchUpSyncParameters: z
      .object({ skipCatchUpSyncPreserveData: z.boolean().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/** The Start body (DWLibary/Struct/MapsHelper.cs:31-43); `action` is checked first. */
const startSchema = z.object({
  action: z.string(),
  details: z.array(
    z.object({
      tid: z.string().trim().min(1),
      pid: z.string().trim().min(1).nullish(),
      cid: z.string().trim().min(1),
      parameters: parametersSchema.nullish(),
    }),
  ),
});

/** The RestoreTemplates body (DWLibary/Struct/SolutionHelpers.cs:12-26; action "2" = apply). */
const restoreTemplatesSchema = z.object({
  action: z.literal("2"),
  solutions: z.array(z.object({ criteria: z.object({ uniquename: z.string().min(1) }) })).min(1),
});

/** The IntegrationKeys body (DWLibary/Struct/IntegrationKeys.cs). */
const keysSchema = z.object({
  datasetName: z.string().nullish(),
  integrationKeys: z.record(z.string(), z.array(z.string())),
});

/** The gateway's routes. */
export function gatewayRoutes(ctx: EmulatorContext, runtime: DualWriteRuntime): Route[] {
  const persisted = async (response: EmulatorResponse): Promise<EmulatorResponse> => {
    await ctx.persist();
    return response;
  };

  return [
    // DWLibary/DWEnvCalls.cs:24-38: the host alone (ArgsHandler.cs:76-100).
    pathRoute("GET", `${dwm}/Environments`, (req) => {
      checkTargetType(req);
      const identifier = req.query.get("identifier");
      if (identifier === null)
        throw gatewayErrors.badRequest(
          "identifier is required: the Finance and Operations environment's host name, e.g. contoso.operations.dynamics.com.",
        );
      return ok(runtime.resolveEnvironments(identifier));
    }),

    // DWLibary/Engines/DWCommonEngine.cs:337-411.
    pathRoute("GET", "api/ConnectionSet/(?<cname>[^/]+)", (_req, p) =>
      ok(runtime.connectionSet(p.cname ?? "")),
    ),

    // DWLibary/Engines/ResetLinkEngine.cs:44-97.
    pathRoute("POST", "api/ConnectionSet/(?<cid>[^/]+)/Reset", async (req, p) => {
      checkTargetType(req);
      const raw = parseJson(req);
      if (raw === undefined)
        throw gatewayErrors.badRequest(
          "body: a JSON body {powerAppsEnvironmentName, environments, legalEntities} is required.",
        );
      const environments = (raw as { environments?: unknown }).environments;
      if (Array.isArray(environments) && environments.some((e) => typeof e === "string")) {
        throw gatewayErrors.badRequest(
          "body.environments must hold environment objects {targetType, name, displayName, id, isDevInstance, directUrl}, not URLs.",
        );
      }
      const body = validate(resetSchema, raw, "body");
      const force = parseBoolean(req.query.get("forceReset"), "forceReset");
      const resetBody: ResetBody = {
        powerAppsEnvironmentName: body.powerAppsEnvironmentName ?? undefined,
        environments: body.environments.map((e) => ({
          targetType: e.targetType,
          name: e.name,
          displayName: e.displayName ?? undefined,
          id: e.id,
          isDevInstance: e.isDevInstance ?? undefined,
          directUrl: e.directUrl,
        })),
        legalEntities: body.legalEntities ?? undefined,
        skipInitialWritesForNewLegalEntities: body.skipInitialWritesForNewLegalEntities,
      };
      return persisted(ok(runtime.reset(p.cid ?? "", resetBody, force, req.claims)));
    }),

    // [choice] No evidence; kept from the project's own contract.
    pathRoute("PUT", "api/ConnectionSet/(?<cid>[^/]+)/LegalEntities", async (req, p) => {
      const body = parseBody(req, legalEntitiesSchema, "body");
      const answer = runtime.editLegalEntities(
        p.cid ?? "",
        body.legalEntities,
        body.skipInitialWritesForNewLegalEntities ?? false,
      );
      return persisted(ok(answer));
    }),

    // DWLibary/Engines/DWCommonEngine.cs:43-124.
    pathRoute("GET", `${dwm}/Entities`, (req) => {
      checkTargetType(req);
      const cid = req.query.get("cid");
      if (!cid)
        throw gatewayErrors.badRequest(
          "cid is required: the environment id from GET Environments.",
        );
      return ok(runtime.listMaps(cid));
    }),

    // DWLibary/Engines/DWMapEngine.cs:1698-1852.
    pathRoute("POST", `${dwm}/Start`, async (req) => {
      const raw = parseJson(req);
      const action = (raw as { action?: unknown } | undefined)?.action;
      if (typeof action !== "string" || !mapActionCodes.includes(action))
        throw gatewayErrors.invalidAction(action);
      const body = validate(startSchema, raw, "body");
      const details: StartDetail[] = body.details.map((d) => ({
        tid: d.tid,
        cid: d.cid,
        pid: d.pid ?? undefined,
        parameters: d.parameters ? stepParameters(d.parameters) : undefined,
      }));
      const answer = runtime.start(action as MapActionCode, details);
      return persisted(ok(answer));
    }),

    // DWLibary/Engines/DWMapEngine.cs:1854-1928.
    pathRoute("GET", `${dwm}/Status/(?<requestId>[^/]+)`, (_req, p) =>
      ok(runtime.requestStatus(p.requestId ?? "")),
    ),

    // DWLibary/Engines/DWMapEngine.cs:1541-1591: `["<template id>"]`.
    pathRoute("POST", `${dwm}/GetTemplatePrerequisiteSequences/(?<cid>[^/]+)`, (req, p) => {
      const ids = validate(z.array(z.string().min(1)), parseJson(req), "body");
      return ok(runtime.prerequisiteSequences(p.cid ?? "", ids));
    }),

    // DWLibary/Engines/DWCommonEngine.cs:210-253.
    pathRoute("GET", `${dwm}/SolutionAware/(?<cid>[^/]+)/Solutions/?`, (_req, p) =>
      ok(runtime.solutions(p.cid ?? "")),
    ),

    // DWLibary/Engines/DWSolutionEngine.cs:102-173.
    pathRoute("POST", `${dwm}/SolutionAware/(?<cid>[^/]+)/RestoreTemplates`, async (req, p) => {
      const body = validate(restoreTemplatesSchema, parseJson(req), "body");
      const answer = runtime.applySolutions(
        p.cid ?? "",
        body.solutions.map((s) => s.criteria.uniquename),
      );
      return persisted(ok(answer));
    }),

    // DWLibary/Engines/DWSolutionEngine.cs:47-99.
    pathRoute("GET", `${dwm}/SolutionAware/(?<cid>[^/]+)/Status/(?<requestId>[^/]+)`, (_req, p) =>
      ok(runtime.solutionStatus(p.cid ?? "", p.requestId ?? "")),
    ),

    // DWLibary/Engines/DWMapEngine.cs:1940-1982: the body is the template id as plain text
    // (`new StringContent(applyTemplate.id, …, "application/json")`), so it is read raw, not as JSON.
    pathRoute(
      "POST",
      `${dwm}/SolutionAware/(?<cid>[^/]+)/SwitchActive/(?<templateId>[^/]+)`,
      async (req, p) => {
        const answer = runtime.switchActive(
          p.cid ?? "",
          p.templateId ?? "",
          req.query.get("pid") ?? undefined,
          req.body.toString("utf8"),
        );
        return persisted(ok(answer));
      },
    ),

    // DWLibary/Engines/DWCommonEngine.cs:256-335. After the SolutionAware routes, so that
    // `SolutionAware` is never read as a pid.
    pathRoute("GET", `${dwm}/(?<pid>[^/]+)/FieldMappings`, (_req, p) =>
      ok(runtime.fieldMappings(p.pid ?? "")),
    ),

    // DWLibary/Engines/DWMapEngine.cs:1480-1533. Keys are read back from the connection set only.
    pathRoute("POST", "api/dataset/(?<dataset>[^/]+)/IntegrationKeys", async (req, p) => {
      const body = validate(keysSchema, parseJson(req), "body");
      return persisted(
        ok(
          runtime.setIntegrationKeys(
            p.dataset ?? "",
            body.datasetName ?? undefined,
            body.integrationKeys,
          ),
        ),
      );
    }),

    // DWLibary/Engines/DWMapEngine.cs:1593-1631.
    pathRoute("GET", "api/ProjectExecutionWithCompanies/(?<pid>[^/]+)", (_req, p) =>
      ok(runtime.projectExecutions(p.pid ?? "")),
    ),

    // DWLibary/Engines/DWMapEngine.cs:1423-1476: body `{"tokens":[""]}`, only the status is read.
    pathRoute("POST", "api/Project/(?<name>[^/]+)/Refresh", (req, p) => {
      const body = parseJson(req);
      if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body)))
        throw gatewayErrors.badRequest('body: expected an object such as {"tokens":[""]}.');
      return ok(runtime.refreshProject(p.name ?? ""));
    }),
  ];
}

/** A Start detail's parameters with the runtime's defaults filled in. */
function stepParameters(p: z.infer<typeof parametersSchema>): StepParameters {
  const catchUp = p.dualWriteSkipCatchUpSyncParameters;
  return {
    // A start skips initial sync unless told otherwise; `false` is the initial sync.
    skipInitialSync: p.skipInitialSync ?? true,
    // The master defaults to Dataverse, as the tool's default (DWMapEngine.cs:1808, DataMaster.CE).
    master: p.conflictResolution?.master ?? "CRM",
    legalEntities: null,
    catchUp:
      catchUp === undefined
        ? "replay"
        : catchUp.skipCatchUpSyncPreserveData === true
          ? "preserve"
          : "discard",
  };
}

/** `targetType`, when given, must be `AX` (the only value the tool sends). */
function checkTargetType(req: EmulatorRequest): void {
  const targetType = req.query.get("targetType");
  if (targetType !== null && targetType.toUpperCase() !== "AX") {
    throw gatewayErrors.badRequest(
      `targetType must be AX (the Finance and Operations side), got '${targetType}'.`,
    );
  }
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

function parseBody<T>(req: EmulatorRequest, schema: z.ZodType<T>, what: string): T {
  const raw = parseJson(req);
  if (raw === undefined) throw gatewayErrors.badRequest(`${what}: a JSON body is required.`);
  return validate(schema, raw, what);
}

function parseBoolean(value: string | null, name: string): boolean {
  if (value === null || value === "") return false;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw gatewayErrors.badRequest(`${name} must be true or false, got '${value}'.`);
}
