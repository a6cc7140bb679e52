/**
 * The dual-write runtime between emulated F&O environments and Dataverse orgs: links (1:1, with
 * legal entities), enabling companies, maps of applied solutions with versions, keys and the
 * state machine, requests that run on the server, initial-sync jobs, live sync and reset.
 *
 * The gateway (`emulator/gateway/routes.ts`) and the control API (`control.ts`) are thin HTTP
 * layers over the public methods here; the Dataverse surface calls `integrationDetails`. Every
 * method that changes state returns after the change is in memory; callers persist. Background
 * work (transitions that take `transitionMs`, jobs moving `jobRowsPerSecond` rows) sleeps on the
 * emulator's clock and stops for good after `close()`.
 *
 * The class is the facade; the work lives in small modules over one shared `RuntimeCore`
 * (`runtimeCore.ts`): links and legal entities (`links.ts`), the request engine (`requests.ts`),
 * initial-sync jobs (`jobs.ts`) and the control API's views (`controlViews.ts`). The map,
 * solution and key endpoints of the gateway stay here. Every answer's shape cites the tool's DTO
 * (microsoft/Dual-write-automations @ f14edd6, `DWLibary/…`); docs/emulator.md lists them.
 */
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { TokenClaims } from "../core/http";
import { DataverseTables } from "../store/schema";
import type { TableSet, WriteEvent } from "../store/tables";
import {
  jobsView,
  linksView,
  mapsView,
  removeLegalEntityByHand,
  setActiveTemplateByHand,
  setIntegratedByHand,
  setMapStateByHand,
} from "./controlViews";
import { gatewayErrors } from "./errors";
import { executionView } from "./initialSync";
import {
  connectionSet,
  editLegalEntities,
  reset,
  resolveEnvironments,
  solutionRequestView,
  type ResetBody,
} from "./links";
import { handleClientWrite } from "./liveSync";
import {
  defaultTemplate,
  mapSpec,
  mapSpecs,
  orchestrationSolutions,
  prerequisiteSequence,
  type MapSpec,
} from "./maps";
import { cellText } from "./names";
import { launch, newRequest, newStep, noteRequest, resumeBackground } from "./requests";
import {
  envByCid,
  fnoUrl,
  linkByDatasetName,
  linkByOrg,
  mapByPid,
  mapByTemplateId,
  requireLink,
  sidesOf,
  type RuntimeCore,
} from "./runtimeCore";
import { installedSolution } from "./solutions";
import {
  emptyState,
  MapAction,
  mapStateName,
  RequestState,
  stoppedStates,
  type MapActionCode,
  type MapRuntime,
  type RuntimeState,
  type StepParameters,
} from "./state";
import {
  activeTemplateOf,
  mapView,
  projectNameOf,
  sortedMaps,
  templateIdOf,
  templatesOf,
  tidOf,
  versionTextOf,
} from "./views";

export { maxLegalEntitiesWithInitialWrites } from "./jobs";
export { maxLegalEntitiesPerLink, type ResetBody, type ResetEnvironment } from "./links";
export { normalizeCodes } from "./names";
export { powerPlatformEnvironmentId } from "./ids";
export type { TemplateView } from "./views";

/** One detail of `POST Start`, already parsed (DWLibary/Struct/MapsHelper.cs:31-37). */
export interface StartDetail {
  tid: string;
  pid?: string | undefined;
  cid: string;
  /** Parsed parameters with defaults; undefined when the detail had none. */
  parameters?: StepParameters | undefined;
}

/** What `RetrieveFinanceAndOperationsIntegrationDetails` answers for an integrated org. */
export interface IntegrationDetails {
  Url: string;
  TenantId: string;
  Id: string;
}

/** Parameters of a detail without any: a plain start (skip initial sync), master Dataverse. */
const defaultParameters: StepParameters = {
  skipInitialSync: true,
  master: "CRM",
  legalEntities: null,
  catchUp: "replay",
};

/** The dual-write runtime. One per emulator. */
export class DualWriteRuntime {
  /** State shared with the runtime's modules; `restore` replaces `core.state`. */
  private readonly core: RuntimeCore;
  private readonly attached = new WeakSet<TableSet>();
  private resumeNeeded = false;

  constructor(private readonly ctx: EmulatorContext) {
    this.core = { ctx, state: emptyState(), closed: false, running: new Set<string>() };
  }

  // ------------------------------------------------------------------ lifecycle

  /** Plain JSON of the runtime state, for persistence. */
  snapshot(): unknown {
    return structuredClone(this.core.state);
  }

  /**
   * Replaces the state with a `snapshot()`. Work that was under way resumes once the table sets
   * are attached again.
   */
  restore(data: unknown): void {
    if (data === undefined || data === null) {
      this.core.state = emptyState();
      return;
    }
    const s = data as Partial<RuntimeState>;
    if (s.version !== 2 || typeof s.links !== "object" || typeof s.requests !== "object") {
      throw new Error(
        `The persisted dual-write runtime state has an unknown format (version ${String(s.version)}; expected 2, the gateway dialect of Microsoft's tool). Start with a new data directory.`,
      );
    }
    this.core.state = { ...emptyState(), ...structuredClone(s as RuntimeState) };
    this.resumeNeeded = true;
  }

  /**
   * Hooks the live-sync listeners onto a pair's table sets.
   * Call after seeding and after restore; attaching the same table set twice does nothing.
   */
  attach(pair: EnvironmentPair): void {
    const fno = this.ctx.fno.get(pair.name);
    const dv = this.ctx.dataverse.get(pair.name);
    for (const set of [fno, dv]) {
      if (!set || this.attached.has(set)) continue;
      this.attached.add(set);
      set.onWrite((event) => this.onWrite(event));
    }
    if (this.resumeNeeded) {
      this.resumeNeeded = false;
      // After the caller has attached every pair (same tick), pick up unfinished work.
      setImmediate(() => resumeBackground(this.core));
    }
  }

  /** Stops background work for good (pending transitions and jobs never finish). */
  close(): void {
    this.core.closed = true;
  }

  /**
   * `RetrieveFinanceAndOperationsIntegrationDetails` for a Dataverse org: the F&O environment it is
   * integrated with in Power Platform (its seeded pair), whether or not dual-write links them;
   * undefined when the integration was removed (control API) or the org has no F&O pair.
   */
  integrationDetails(org: string, tenantId: string): IntegrationDetails | undefined {
    const pair = this.ctx.environments.get(org);
    if (!pair || !this.ctx.fno.has(pair.name) || this.core.state.unintegrated.includes(org))
      return undefined;
    return { Url: fnoUrl(this.core, pair.name), TenantId: tenantId, Id: pair.cid };
  }

  // ------------------------------------------------------------------ environments and links

  /** `GET Environments?targetType=AX&identifier=<host>`: the linked F&O environment at that host. */
  resolveEnvironments(identifier: string): unknown[] {
    return resolveEnvironments(this.core, identifier);
  }

  /** `GET /api/ConnectionSet/<cname>`. */
  connectionSet(cname: string): unknown {
    return connectionSet(this.core, cname);
  }

  /** `POST /api/ConnectionSet/<cid>/Reset`: validated now, done after the transition time. */
  reset(
    cid: string,
    body: ResetBody,
    forceReset: boolean,
    claims?: TokenClaims,
  ): Record<string, never> {
    return reset(this.core, cid, body, forceReset, claims);
  }

  /** `PUT /api/ConnectionSet/<cid>/LegalEntities` [choice]: adds and removes legal entities in place. */
  editLegalEntities(
    cid: string,
    requested: readonly string[],
    skipInitialWrites: boolean,
  ): { legalEntities: string[] } {
    return editLegalEntities(this.core, cid, requested, skipInitialWrites);
  }

  // ------------------------------------------------------------------ maps

  /** `GET Entities`: the maps of the applied solutions (`[]` when not linked). */
  listMaps(cid: string): unknown[] {
    const env = envByCid(this.core, cid);
    const link = this.core.state.links[env.name];
    if (!link) return [];
    return sortedMaps(link).map((m) => mapView(link, m));
  }

  /**
   * Validates and accepts a `POST Start` (DWLibary/Engines/DWMapEngine.cs:1698-1852); the
   * transitions run in the background. Refused (400): a `tid` that is no template id of the
   * environment's maps, a missing or foreign `pid` for `"1"`/`"4"`/`"5"`/`"6"`, a `pid` or
   * parameters with `"8"` (the tool sends neither, ~1795-1815). Several details are allowed for
   * every action (pause and resume come in bulk, ~1740-1788).
   */
  start(action: MapActionCode, details: readonly StartDetail[]): { requestId: string } {
    if (details.length === 0)
      throw gatewayErrors.badRequest("details must name at least one map ({tid, pid, cid}).");
    const cids = new Set(details.map((d) => d.cid.toLowerCase()));
    if (cids.size > 1)
      throw gatewayErrors.badRequest("All details of one request must have the same cid.");
    const env = envByCid(this.core, details[0]?.cid ?? "");
    const link = requireLink(this.core, env.name);
    const seen = new Set<string>();
    const targets: Array<{ map: MapRuntime; parameters: StepParameters }> = [];
    for (const d of details) {
      const map = mapByTemplateId(link, d.tid);
      if (!map) throw gatewayErrors.unknownTemplate(d.tid, env.name);
      if (seen.has(map.name))
        throw gatewayErrors.badRequest(`details names map '${map.name}' twice.`);
      seen.add(map.name);
      if (action === MapAction.Init) {
        if (d.pid !== undefined || d.parameters !== undefined)
          throw gatewayErrors.badRequest(
            `Action "8" initializes a map that has no project: send its detail without pid and without parameters (map '${map.name}').`,
          );
      } else {
        if (d.pid === undefined)
          throw gatewayErrors.badRequest(
            `details[].pid is required for action "${action}" (map '${map.name}'); a map without a pid must be initialized first with action "8".`,
          );
        if (map.pid === null || d.pid.toLowerCase() !== map.pid)
          throw gatewayErrors.badRequest(
            map.pid === null
              ? `Map '${map.name}' has no project yet (no pid); initialize it with action "8" first.`
              : `pid ${d.pid} is not the project of map '${map.name}' (tid ${d.tid}).`,
          );
      }
      const busy = map.busyRequestId;
      if (busy && this.core.state.requests[busy]?.state === RequestState.Waiting)
        throw gatewayErrors.mapBusy(map.name, busy);
      targets.push({ map, parameters: d.parameters ?? defaultParameters });
    }
    const request = newRequest(this.core, "map", env, link.generation, action);
    for (const { map, parameters } of targets) {
      request.steps.push(newStep(map.name, action, parameters));
      map.busyRequestId = request.requestId;
      noteRequest(map, request);
    }
    launch(this.core, request);
    return { requestId: request.requestId };
  }

  /**
   * `GET Status/<requestId>`: the request's maps as `Entities` items; its outcome is each map's
   * `detail.lastRequests` entry (DWLibary/Engines/DWMapEngine.cs:1854-1928). `[]` once the link
   * the request belonged to is gone.
   */
  requestStatus(requestId: string): unknown[] {
    const request = this.core.state.requests[requestId.trim().toLowerCase()];
    if (!request || (request.kind !== "map" && request.kind !== "legalEntities"))
      throw gatewayErrors.requestNotFound(requestId);
    const link = this.core.state.links[request.fnoEnv];
    if (!link || link.generation !== request.generation) return [];
    return request.steps.flatMap((s) => {
      const m = link.maps[s.map];
      return m ? [mapView(link, m)] : [];
    });
  }

  /**
   * `POST GetTemplatePrerequisiteSequences/<cid>` with template ids: per id, the active template
   * ids of its prerequisites in start order, the map itself excluded (the tool skips it anyway
   * and matches the ids against `detail.tid`, DWLibary/Engines/DWMapEngine.cs:1541-1591).
   */
  prerequisiteSequences(cid: string, templateIds: readonly string[]): string[][] {
    const env = envByCid(this.core, cid);
    const link = this.core.state.links[env.name];
    const activeIdOf = (spec: MapSpec): string => {
      const map = link?.maps[spec.name];
      return map && link
        ? tidOf(link, map)
        : templateIdOf(env.cid, spec.name, defaultTemplate(spec));
    };
    return templateIds.map((id) => {
      const wanted = id.trim().toLowerCase();
      const spec = mapSpecs.find((s) => templatesOf(env.cid, s.name).some((t) => t.id === wanted));
      if (!spec) throw gatewayErrors.unknownTemplate(id, env.name);
      return prerequisiteSequence(spec.name).map((n) => activeIdOf(mapSpec(n) as MapSpec));
    });
  }

  /**
   * `GET <pid>/FieldMappings` of the active version (DWLibary/Struct/DWFieldMapping.cs:177-204):
   * the project's `name` (for `api/Project/<name>/Refresh`) and `id`, one task with one leg.
   */
  fieldMappings(pid: string): unknown {
    const { link, map, spec } = mapByPid(this.core, pid);
    const template = activeTemplateOf(link, map);
    const projectName = projectNameOf(link, pid.toLowerCase());
    return {
      name: projectName,
      id: map.pid,
      displayName: map.name,
      entityMappingTasks: [
        {
          name: map.name,
          order: 0,
          connectionSetName: link.cname,
          legs: [
            {
              sourceSchema: spec.financeOperationsEntitySet,
              destinationSchema: spec.dataverseEntitySet,
              sourceFilter: spec.sourceFilter,
              reversedSourceFilter: spec.reversedSourceFilter,
              fieldMappings: spec.fieldMappings.map((f) => ({ ...f })),
            },
          ],
        },
      ],
      templateIdentifier: {
        name: template.name,
        version: { ...template.version },
        id: template.id,
        displayName: template.displayName,
      },
      // [choice] Whether the last start skipped initial sync is not remembered.
      skipInitialSync: true,
      isDualWriteProject: true,
      tenant: link.tenantId,
    };
  }

  /**
   * `POST api/Project/<name>/Refresh` `{"tokens":[""]}` (DWLibary/Engines/DWMapEngine.cs:1423-1476):
   * "Refresh tables". The emulator's schemas never go stale, so only the name is checked.
   */
  refreshProject(name: string): Record<string, never> {
    const wanted = name.trim().toLowerCase();
    for (const link of Object.values(this.core.state.links)) {
      for (const map of Object.values(link.maps)) {
        if (map.pid !== null && projectNameOf(link, map.pid).toLowerCase() === wanted) return {};
      }
    }
    throw gatewayErrors.projectNotFound(name);
  }

  /**
   * `POST SolutionAware/<cid>/SwitchActive/<templateId>?pid=` with the raw template id as body
   * (DWLibary/Engines/DWMapEngine.cs:1940-1982): makes that version active; the map's `tid`
   * follows. The map must be stopped (409 otherwise). The tool ignores the answer [choice: `{}`].
   */
  switchActive(
    cid: string,
    templateId: string,
    pid: string | undefined,
    body: string,
  ): Record<string, never> {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    const wanted = templateId.trim().toLowerCase();
    if (body.trim().toLowerCase() !== wanted) {
      throw gatewayErrors.badRequest(
        `The body must be the template id as plain text (${templateId}), as in the path; got ${JSON.stringify(body.slice(0, 80))}.`,
      );
    }
    const map =
      pid !== undefined && pid !== ""
        ? Object.values(link.maps).find((m) => m.pid !== null && m.pid === pid.toLowerCase())
        : mapByTemplateId(link, wanted);
    if (!map)
      throw gatewayErrors.mapNotFound(pid ? `with pid ${pid}` : `with a version ${templateId}`);
    const template = templatesOf(link.cid, map.name).find((t) => t.id === wanted);
    if (!template) throw gatewayErrors.templateNotFound(templateId, map.name);
    if (!stoppedStates.includes(map.state))
      throw gatewayErrors.mapNotStopped(map.name, mapStateName(map.state));
    map.activeTemplate = { author: template.author, version: versionTextOf(template) };
    return {};
  }

  /**
   * `GET /api/ProjectExecutionWithCompanies/<pid>` (DWLibary/Struct/InitialSyncDetails.cs): the
   * latest run per legal entity, newest first, so the first response's `initialSyncRequestId`
   * names the latest run (DWLibary/Engines/DWMapEngine.cs:1593-1631). No runs: an empty list.
   */
  projectExecutions(pid: string): unknown {
    const { link, map } = mapByPid(this.core, pid);
    const projectName = projectNameOf(link, pid.toLowerCase());
    const dv = this.ctx.dataverse.get(link.org);
    const companyId = (code: string): string | undefined => {
      const row = dv
        ?.all(DataverseTables.companies)
        .find((r) => cellText(r.row.cdm_companycode).toUpperCase() === code)?.row;
      return row ? cellText(row.cdm_companyid) : undefined;
    };
    const runs = Object.values(map.executions).sort((a, b) => b.startedAt - a.startedAt);
    return {
      projectName,
      projectExecutionResponses: runs.map((r) =>
        executionView(r, { projectName, mapName: map.name, companyId }),
      ),
    };
  }

  // ------------------------------------------------------------------ solutions and keys

  /**
   * `GET SolutionAware/<cid>/Solutions/` (DWLibary/Struct/SolutionList.cs): the orchestration
   * solutions installed in the linked Dataverse org, from its `solutions` table [choice: only
   * installed ones, as the portal's "Apply solution" list].
   */
  solutions(cid: string): unknown[] {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    const dv = this.ctx.dataverse.get(link.org);
    return orchestrationSolutions.flatMap((name) => {
      const row = dv
        ?.all(DataverseTables.solutions)
        .find((r) => cellText(r.row.uniquename).toLowerCase() === name.toLowerCase())?.row;
      if (!row) return [];
      const solutionId = cellText(row.solutionid);
      return [
        {
          uniquename: name,
          version: installedSolution(dv, name)?.version ?? "",
          friendlyname: cellText(row.friendlyname) || name,
          ismanaged: row.ismanaged === true,
          solutionid: solutionId,
          id: solutionId,
          description: cellText(row.description),
        },
      ];
    });
  }

  /**
   * `POST SolutionAware/<cid>/RestoreTemplates` `{action:"2", solutions:[{criteria:{uniquename}}]}`:
   * applies ONE solution in the background — the tool sends each alone, "otherwise duplicates
   * will appear" (DWLibary/Engines/DWSolutionEngine.cs:102-173); several are refused (400).
   */
  applySolutions(cid: string, names: readonly string[]): { requestId: string } {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    if (names.length !== 1)
      throw gatewayErrors.badRequest(
        `solutions must name exactly one solution per request (got ${names.length}); apply each in its own RestoreTemplates call.`,
      );
    const name = names[0] as string;
    const found = orchestrationSolutions.find((s) => s.toLowerCase() === name.toLowerCase());
    if (!found) throw gatewayErrors.unknownSolution(name);
    const request = newRequest(this.core, "solution", env, link.generation, "2");
    request.solutions = [found];
    launch(this.core, request);
    return { requestId: request.requestId };
  }

  /** `GET SolutionAware/<cid>/Status/<requestId>` (DWLibary/Struct/SolutionHelpers.cs:35-51). */
  solutionStatus(cid: string, requestId: string): unknown {
    const env = envByCid(this.core, cid);
    const request = this.core.state.requests[requestId.trim().toLowerCase()];
    if (!request || request.kind !== "solution" || request.fnoEnv !== env.name)
      throw gatewayErrors.requestNotFound(requestId);
    return solutionRequestView(request);
  }

  /**
   * `POST /api/dataset/<CRM environment name>/IntegrationKeys` `{integrationKeys, datasetName}`
   * (DWLibary/Engines/DWMapEngine.cs:1480-1533, Struct/IntegrationKeys.cs): sets keys per entity
   * set (the maps of that set must be stopped). Read back from the connection set (`userKeys`).
   * The tool only logs the answer [choice: `{}`].
   */
  setIntegrationKeys(
    dataset: string,
    datasetName: string | undefined,
    keys: Readonly<Record<string, readonly string[]>>,
  ): Record<string, never> {
    const link = linkByDatasetName(this.core, dataset);
    if (datasetName !== undefined && datasetName.trim().toLowerCase() !== dataset.toLowerCase()) {
      throw gatewayErrors.badRequest(
        `datasetName '${datasetName}' differs from the dataset in the path ('${dataset}'); the tool sends the same name in both.`,
      );
    }
    if (Object.keys(keys).length === 0)
      throw gatewayErrors.badRequest("integrationKeys must name at least one entity set.");
    for (const [set, fields] of Object.entries(keys)) {
      const specs = mapSpecs.filter((s) => s.dataverseEntitySet === set);
      if (specs.length === 0) throw gatewayErrors.unknownEntitySet(set);
      if (fields.length === 0 || fields.some((f) => typeof f !== "string" || f.trim() === "")) {
        throw gatewayErrors.badRequest(
          `integrationKeys.${set} must be a non-empty list of column names.`,
        );
      }
      for (const spec of specs) {
        const m = link.maps[spec.name];
        if (m && !stoppedStates.includes(m.state))
          throw gatewayErrors.mapNotStopped(m.name, mapStateName(m.state));
      }
    }
    for (const [set, fields] of Object.entries(keys))
      link.integrationKeys[set] = fields.map((f) => f.trim());
    return {};
  }

  // ------------------------------------------------------------------ control API

  /** Every link, for `GET /_emulator/links`. */
  linksView(): unknown[] {
    return linksView(this.core);
  }

  /** Runtime state of the maps of an environment's link, for `GET /_emulator/maps?env=`. */
  mapsView(envName: string): unknown[] {
    return mapsView(this.core, envName);
  }

  /** Sets a map's state by hand (drift: "stopped in the UI"); no transition, no request. */
  setMapStateByHand(envName: string, mapName: string, state: number): unknown {
    return setMapStateByHand(this.core, envName, mapName, state);
  }

  /** Makes a version active by hand, ignoring the map's state (drift: "version switched in the UI"). */
  setActiveTemplateByHand(
    envName: string,
    mapName: string,
    version: string,
    author?: string,
  ): unknown {
    return setActiveTemplateByHand(this.core, envName, mapName, version, author);
  }

  /** Removes or restores a Dataverse org's Power Platform integration by hand (drift). */
  setIntegratedByHand(org: string, integrated: boolean): { org: string; integrated: boolean } {
    return setIntegratedByHand(this.core, org, integrated);
  }

  /** Removes a legal entity from a link by hand, without the guards (drift). */
  removeLegalEntityByHand(envName: string, code: string): { legalEntities: string[] } {
    return removeLegalEntityByHand(this.core, envName, code);
  }

  /** Every initial-sync job with its progress, for `GET /_emulator/jobs`. */
  jobsView(): unknown[] {
    return jobsView(this.core);
  }

  // ------------------------------------------------------------------ live sync

  private onWrite(event: WriteEvent): void {
    // Writes of clients and of the control API are a person's writes; the runtime's own copies
    // (origin "runtime") must not echo back, and seeds describe the state before any link.
    if ((event.origin !== "client" && event.origin !== "control") || this.core.closed) return;
    const link =
      event.kind === "fno"
        ? this.core.state.links[event.instance]
        : linkByOrg(this.core, event.instance);
    if (!link) return;
    const sides = sidesOf(this.core, link);
    if (!sides) return;
    handleClientWrite(link, sides, event);
  }
}
