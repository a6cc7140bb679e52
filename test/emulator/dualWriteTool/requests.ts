/**
 * The requests of Microsoft's own dual-write tool (microsoft/Dual-write-automations @ f14edd6,
 * `DWLibary/`), transcribed from its C# source so that the contract suite can replay them byte for
 * byte: method, path, query, headers and body. Each builder names the lines it follows. Nothing
 * here comes from `provider/`: these are the evidence, not our client.
 *
 * What every request shares:
 * - URLs are built on `scheme://host` of the gateway (`DWHttp.cs:44-57`; `DWCommonEngine.cs:366`
 *   and the other `/api/…` call sites). The tool drops any port; the emulator listens on one, so
 *   the suite keeps it — the only deliberate difference from the tool's bytes.
 * - GETs carry only `Authorization: Bearer …` (`DWHttp.cs:59-78,80-91`).
 * - POSTs add `Accept`, `Origin` and `User-Agent` (`DWHttp.cs:19,27-42`; the Origin is
 *   `new UriBuilder("https://dataintegrator.trafficmanager.net").Uri.AbsoluteUri`,
 *   `GlobalVar.cs:175-191`) and a body sent as `new StringContent(text, Encoding.UTF8,
 *   "application/json")`, i.e. `Content-Type: application/json; charset=utf-8`.
 * - Bodies the tool serializes with `Formatting.Indented` and `NullValueHandling.Ignore` are
 *   Newtonsoft's indented JSON: two spaces, `"name": value`, one element per line, nulls left out,
 *   and `Environment.NewLine` between lines — CRLF on Windows, where the tool runs (its
 *   User-Agent says so; Edge driver, `EdgeUniversal.cs`). Properties come in C# declaration order.
 */

import {
  connectionSetEnvironment,
  type ConnectionSetView,
  type ConnSetEnvironmentView,
} from "./dtos";

/** The base path of the DualWriteManagement API on the gateway host (`DWHttp.cs:51`). */
export const DWM = "/api/DualWriteManagement/1.0/";

/** The tool's User-Agent on every POST (`DWHttp.cs:19,35`). */
export const TOOL_USER_AGENT = "DualWriteHelper/1.0 (Windows NT 10.0; Win64; x64)";

/** The Origin on every POST and on the refresh-token grant (`DWHttp.cs:34`, `TokenRefresh.cs:136`). */
export const TOOL_ORIGIN = "https://dataintegrator.trafficmanager.net/";

/** The content type `new StringContent(…, Encoding.UTF8, "application/json")` sends. */
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/** The first-party client the tool signs in with (`TokenRefresh.cs:143`). */
export const TOOL_CLIENT_ID = "2e49aa60-1bd3-43b6-8ab6-03ada3d9f08b";

/** The tool's token scope (`TokenRefresh.cs:144`; `ServicePrincipalAuth.cs:36` asks `.default` only). */
export const TOOL_SCOPE = "https://IntegratorApp.com/.default openid profile offline_access";

/** One request of the tool, relative to the gateway host. */
export interface ToolRequest {
  /** Where the tool builds it, e.g. `DWLibary/DWEnvCalls.cs:24-34`. */
  readonly source: string;
  readonly method: "GET" | "POST";
  /** Path and query from the host's root, as `UriBuilder` leaves them. */
  readonly pathAndQuery: string;
  /** The exact body text of a POST. */
  readonly body?: string;
}

/**
 * Newtonsoft's `SerializeObject(value, Formatting.Indented, NullValueHandling.Ignore)` on Windows.
 * `JSON.stringify` with two spaces lays out objects and arrays the same way; raw newlines appear
 * only between tokens (a newline inside a string is escaped), so turning them into CRLF is exact.
 */
export function newtonsoftIndented(value: unknown): string {
  return JSON.stringify(withoutNulls(value), null, 2).replace(/\n/g, "\r\n");
}

/** Newtonsoft's default `SerializeObject(value)`: compact, nulls kept. */
export function newtonsoftCompact(value: unknown): string {
  return JSON.stringify(value);
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/** A path segment as `UriBuilder.Path` escapes it (spaces and other non-URI characters). */
function segment(text: string): string {
  return encodeURI(text).replace(/%5B/g, "[").replace(/%5D/g, "]");
}

// ── requests ─────────────────────────────────────────────────────────────────────────────────

/** Resolve the F&O environment by its host name (`DWEnvCalls.cs:24-34`, `ArgsHandler.cs:28,76-98`). */
export function environments(host: string): ToolRequest {
  return {
    source: "DWLibary/DWEnvCalls.cs:24-34",
    method: "GET",
    pathAndQuery: `${DWM}Environments?targetType=AX&identifier=${host}`,
  };
}

/** The maps of an environment (`DWCommonEngine.cs:64-79`). */
export function entities(cid: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWCommonEngine.cs:64-79",
    method: "GET",
    pathAndQuery: `${DWM}Entities?targetType=AX&cid=${cid}`,
  };
}

/** The connection set (`DWCommonEngine.cs:361-375`). */
export function connectionSet(cname: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWCommonEngine.cs:361-375",
    method: "GET",
    pathAndQuery: `/api/ConnectionSet/${segment(cname)}`,
  };
}

/** The field mappings of a project (`DWCommonEngine.cs:282-295`). */
export function fieldMappings(pid: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWCommonEngine.cs:282-295",
    method: "GET",
    pathAndQuery: `${DWM}${pid}/FieldMappings`,
  };
}

/** The orchestration solutions (`DWCommonEngine.cs:215-230`). */
export function solutions(cid: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWCommonEngine.cs:215-230",
    method: "GET",
    pathAndQuery: `${DWM}SolutionAware/${cid}/Solutions/`,
  };
}

/** Apply ONE orchestration solution (`DWSolutionEngine.cs:107-126,151-173`, `Struct/SolutionHelpers.cs:12-26`). */
export function restoreTemplates(cid: string, uniquename: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWSolutionEngine.cs:107-126,151-173",
    method: "POST",
    pathAndQuery: `${DWM}SolutionAware/${cid}/RestoreTemplates`,
    // SolutionApplyObj {action, solutions:[SolutionCriteria {criteria {uniquename}}]}, compact.
    body: newtonsoftCompact({ action: "2", solutions: [{ criteria: { uniquename } }] }),
  };
}

/** Poll a solution request (`DWSolutionEngine.cs:53-66`). */
export function solutionStatus(cid: string, requestId: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWSolutionEngine.cs:53-66",
    method: "GET",
    pathAndQuery: `${DWM}SolutionAware/${cid}/Status/${requestId}`,
  };
}

/** One detail of a `Start` body (`Struct/MapsHelper.cs:31-37`: tid, pid, cid, parameters). */
export interface StartDetail {
  readonly tid: string;
  readonly pid?: string | null;
  readonly cid: string;
  readonly parameters?: unknown;
}

/**
 * `MapStartStopActionParameters` (`Struct/MapsHelper.cs:19-23`, conflict resolution 13-17): built
 * for every single-map call, with `option` "1" and `master` = the description of `DataMaster`
 * ("CRM" for CE, "AX" for FO, `DWEnums.cs:91-98`) (`DWMapEngine.cs:1804-1812`).
 */
export function startParameters(skipInitialSync: boolean, master: "CRM" | "AX" = "CRM"): unknown {
  return { skipInitialSync, conflictResolution: { option: "1", master } };
}

/**
 * `POST DWM/Start` (`DWMapEngine.cs:1698-1831`): `{action, details}` Newtonsoft-indented without
 * nulls (1826). Single-map calls (1789-1818) give one detail with `parameters`, except `"8"`
 * whose detail has neither `pid` (1798-1799) nor `parameters` (1814-1815); pause and resume send
 * every map in one call without parameters (1740-1788).
 */
export function start(action: "1" | "4" | "5" | "6" | "8", details: StartDetail[]): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1698-1831",
    method: "POST",
    pathAndQuery: `${DWM}Start`,
    body: newtonsoftIndented({
      action,
      details: details.map((d) => ({
        tid: d.tid,
        pid: d.pid ?? null,
        cid: d.cid,
        parameters: d.parameters ?? null,
      })),
    }),
  };
}

/** Poll a map request (`DWMapEngine.cs:1860-1873`). */
export function status(requestId: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1860-1873",
    method: "GET",
    pathAndQuery: `${DWM}Status/${requestId}`,
  };
}

/** The prerequisites of one template (`DWMapEngine.cs:1548-1561`): body `["<id>"]`, built as text. */
export function prerequisites(cid: string, templateId: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1548-1561",
    method: "POST",
    pathAndQuery: `${DWM}GetTemplatePrerequisiteSequences/${cid}`,
    body: `["${templateId}"]`,
  };
}

/** Refresh a project's tables (`DWMapEngine.cs:1433-1448`): the literal body `{"tokens":[""]}`. */
export function refresh(projectName: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1433-1448",
    method: "POST",
    pathAndQuery: `/api/Project/${segment(projectName)}/Refresh`,
    body: `{"tokens":[""]}`,
  };
}

/**
 * Set a map's integration keys (`DWMapEngine.cs:1494-1518`, `Struct/IntegrationKeys.cs:13-17`):
 * on the dataset named after the CRM environment of the connection set, body
 * `DWIntegrationKeyUpdate {integrationKeys, datasetName}` compact.
 */
export function integrationKeys(
  datasetName: string,
  entitySet: string,
  keys: readonly string[],
): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1494-1518",
    method: "POST",
    pathAndQuery: `/api/dataset/${segment(datasetName)}/IntegrationKeys`,
    body: newtonsoftCompact({ integrationKeys: { [entitySet]: keys }, datasetName }),
  };
}

/**
 * Switch a map's active version (`DWMapEngine.cs:1948-1965`): the query `pid=…` and the RAW
 * template id as body — `new StringContent(applyTemplate.id, …, "application/json")`, not JSON-quoted.
 */
export function switchActive(cid: string, templateId: string, pid: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1948-1965",
    method: "POST",
    pathAndQuery: `${DWM}SolutionAware/${cid}/SwitchActive/${templateId}?pid=${pid}`,
    body: templateId,
  };
}

/** A project's initial-sync results (`DWMapEngine.cs:1600-1614`). */
export function projectExecutions(pid: string): ToolRequest {
  return {
    source: "DWLibary/Engines/DWMapEngine.cs:1600-1614",
    method: "GET",
    pathAndQuery: `/api/ProjectExecutionWithCompanies/${pid}`,
  };
}

/** One environment of a Reset body (`Struct/ResetLinkPayload.cs:16-24`). */
export interface ResetEnvironment {
  readonly targetType: string | null;
  readonly name: string | null;
  readonly displayName: string | null;
  readonly id: string | null;
  readonly isDevInstance: boolean;
  readonly directUrl: string | null;
}

/** A Reset body (`Struct/ResetLinkPayload.cs:9-14`). */
export interface ResetPayload {
  readonly powerAppsEnvironmentName: string | null;
  readonly environments: readonly ResetEnvironment[];
  readonly legalEntities: readonly string[];
}

/**
 * `POST /api/ConnectionSet/<cid>/Reset?targetType=AX&forceReset=True|False`
 * (`ResetLinkEngine.cs:51-73`): C#'s `bool.ToString()` gives `True`/`False`; the body is
 * Newtonsoft-indented without nulls (64).
 */
export function reset(cid: string, forceReset: boolean, payload: ResetPayload): ToolRequest {
  return {
    source: "DWLibary/Engines/ResetLinkEngine.cs:51-73",
    method: "POST",
    pathAndQuery: `/api/ConnectionSet/${cid}/Reset?targetType=AX&forceReset=${forceReset ? "True" : "False"}`,
    body: newtonsoftIndented(payload),
  };
}

/**
 * The Reset body the tool builds from the connection set (`ResetLinkEngine.cs:100-147`): the CE
 * environment, then the FO one, each mapped field by field (135-147); `powerAppsEnvironmentName`
 * = the CE environment's `powerAppsEnvironment` (131); the distinct `left.name` of the legal-entity
 * mappings (100-116).
 */
export function resetPayloadFrom(set: ConnectionSetView): ResetPayload {
  const toResetEnvironment = (env: ConnSetEnvironmentView | undefined): ResetEnvironment => ({
    targetType: env?.targetType ?? null,
    name: env?.name ?? null,
    displayName: env?.environmentDisplayName ?? null,
    id: env?.powerAppsEnvironment ?? null,
    isDevInstance: env?.isDevInstance ?? false,
    directUrl: env?.directUrl ?? null,
  });
  const ce = connectionSetEnvironment(set, "CE");
  const fo = connectionSetEnvironment(set, "FO");
  const legalEntities: string[] = [];
  for (const m of set.dualWriteDetail.legalEntityMappings.mappings ?? []) {
    const name = m.left.name;
    if (name !== null && !legalEntities.includes(name)) legalEntities.push(name);
  }
  return {
    powerAppsEnvironmentName: ce?.powerAppsEnvironment ?? null,
    environments: [toResetEnvironment(ce), toResetEnvironment(fo)],
    legalEntities,
  };
}
