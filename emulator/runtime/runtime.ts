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
 * solution and key endpoints of the gateway stay here.
 */
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { TokenClaims } from "../core/http";
import type { TableSet, WriteEvent } from "../store/tables";
import {
  jobsView,
  linksView,
  mapsView,
  removeLegalEntityByHand,
  setActiveTemplateByHand,
  setMapStateByHand,
  setVirtualRows,
  virtualRowsView,
} from "./controlViews";
import { gatewayErrors } from "./errors";
import { notStartedView, runView } from "./initialSync";
import {
  connectionSet,
  editLegalEntities,
  reset,
  resolveEnvironments,
  type ResetBody,
} from "./links";
import { handleClientWrite } from "./liveSync";
import {
  mapSpec,
  mapSpecs,
  mapsOfSolution,
  orchestrationSolutions,
  prerequisiteSequence,
  requiredSolutionVersions,
} from "./maps";
import { launch, newRequest, newStep, noteRequest, resumeBackground } from "./requests";
import {
  envByCid,
  fnoUrl,
  linkByOrg,
  linkForDataset,
  mapByPid,
  mapByTid,
  requireLink,
  sidesOf,
  type RuntimeCore,
} from "./runtimeCore";
import { installedSolution } from "./solutions";
import {
  emptyState,
  mapActions,
  mapStateName,
  RequestState,
  stoppedStates,
  type MapRuntime,
  type RuntimeState,
  type StepParameters,
  type VirtualRowsEntry,
} from "./state";
import {
  keysOf,
  mapView,
  pidOf,
  sortedMaps,
  templatesOf,
  tidOf,
  versionTextOf,
  type TemplateView,
} from "./views";
import { setVirtualRowCount } from "./virtualRows";

export { maxLegalEntitiesWithInitialWrites } from "./jobs";
export { maxLegalEntitiesPerLink, type ResetBody } from "./links";
export { normalizeCodes, parseInstance } from "./names";
export type { TemplateView } from "./views";

/** One detail of `POST Start`, already validated. */
export interface StartDetail {
  tid: string;
  pid?: string;
  cid: string;
  parameters: StepParameters;
}

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
    if (s.version !== 1 || typeof s.links !== "object" || typeof s.requests !== "object") {
      throw new Error(
        "The persisted dual-write runtime state has an unknown format (expected version 1).",
      );
    }
    this.core.state = { ...emptyState(), ...structuredClone(s as RuntimeState) };
    this.resumeNeeded = true;
  }

  /**
   * Hooks the live-sync listeners onto a pair's table sets and puts its virtual row counts back.
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
    for (const v of this.core.state.virtualRows) {
      const set =
        v.kind === "fno" ? this.ctx.fno.get(v.instance) : this.ctx.dataverse.get(v.instance);
      if (set) setVirtualRowCount(set, v.table, v.company, v.count);
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

  /** `RetrieveFinanceAndOperationsIntegrationDetails` for a Dataverse org, or undefined when not linked. */
  integrationDetails(org: string): { Url: string; TenantId: string; Id: string } | undefined {
    const link = linkByOrg(this.core, org);
    if (!link) return undefined;
    return { Url: fnoUrl(this.core, link.fnoEnv), TenantId: link.tenantId, Id: link.cid };
  }

  // ------------------------------------------------------------------ environments and links

  /** `GET Environments`: the F&O environment a URL (or name) identifies, `[]` when unknown. */
  resolveEnvironments(targetType: string, identifier: string): unknown[] {
    return resolveEnvironments(this.core, targetType, identifier);
  }

  /** `GET /api/ConnectionSet/<cname>`. */
  connectionSet(cname: string): unknown {
    return connectionSet(this.core, cname);
  }

  /**
   * Reset link: clears the current link's maps, keys, legal-entity mapping and initial-sync
   * history (never business rows), then links again when `body` names a Dataverse environment.
   */
  reset(
    cid: string,
    body: ResetBody,
    forceReset: boolean,
    claims?: TokenClaims,
  ): { requestId: string } {
    return reset(this.core, cid, body, forceReset, claims);
  }

  /** `PUT /api/ConnectionSet/<cid>/LegalEntities`: adds and removes legal entities in place. */
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

  /** Validates and accepts a `POST Start`; the transitions run in the background. */
  start(action: number, details: readonly StartDetail[]): { requestId: string } {
    if (!mapActions.includes(action)) throw gatewayErrors.invalidAction(action);
    if (details.length === 0)
      throw gatewayErrors.badRequest("details must name at least one map ({tid, cid}).");
    const cids = new Set(details.map((d) => d.cid));
    if (cids.size > 1)
      throw gatewayErrors.badRequest("All details of one request must have the same cid.");
    const env = envByCid(this.core, details[0]?.cid ?? "");
    const link = requireLink(this.core, env.name);
    const seen = new Set<string>();
    const targets: Array<{ map: MapRuntime; detail: StartDetail }> = [];
    for (const d of details) {
      const map = mapByTid(link, d.tid);
      if (!map) throw gatewayErrors.mapNotFound(`with tid ${d.tid} in environment '${env.name}'`);
      if (seen.has(map.name))
        throw gatewayErrors.badRequest(`details names map '${map.name}' twice.`);
      seen.add(map.name);
      if (d.pid !== undefined && d.pid !== "" && d.pid !== pidOf(link, map.name)) {
        throw gatewayErrors.badRequest(
          `pid ${d.pid} is not the project of map '${map.name}' (tid ${d.tid}).`,
        );
      }
      const busy = map.busyRequestId;
      if (busy && this.core.state.requests[busy]?.state === RequestState.Waiting)
        throw gatewayErrors.mapBusy(map.name, busy);
      targets.push({ map, detail: d });
    }
    const request = newRequest(this.core, "map", env, link.generation, action);
    for (const { map, detail } of targets) {
      request.steps.push(newStep(map.name, action, detail.parameters));
      map.busyRequestId = request.requestId;
      noteRequest(map, request, action);
    }
    launch(this.core, request);
    return { requestId: request.requestId };
  }

  /** `GET Status/<requestId>`. */
  requestStatus(requestId: string): unknown {
    const request = this.core.state.requests[requestId];
    if (!request) throw gatewayErrors.requestNotFound(requestId);
    const link = this.core.state.links[request.fnoEnv];
    const maps =
      link && link.generation === request.generation
        ? request.steps.flatMap((s) => {
            const m = link.maps[s.map];
            return m ? [mapView(link, m)] : [];
          })
        : [];
    return {
      requestId: request.requestId,
      action: request.action,
      state: request.state,
      errorMessage: request.errorMessage,
      maps,
    };
  }

  /** `POST GetTemplatePrerequisiteSequences/<cid>`: per tid, its prerequisites' tids in start order. */
  prerequisiteSequences(cid: string, tids: readonly string[]): string[][] {
    const env = envByCid(this.core, cid);
    return tids.map((tid) => {
      const spec = mapSpecs.find((s) => tidOf(env.cid, s.name) === tid);
      if (!spec) throw gatewayErrors.mapNotFound(`with tid ${tid} in environment '${env.name}'`);
      return prerequisiteSequence(spec.name).map((n) => tidOf(env.cid, n));
    });
  }

  /** `GET <pid>/FieldMappings` of the active version. */
  fieldMappings(pid: string): unknown {
    const { spec } = mapByPid(this.core, pid);
    return {
      entityMappingTasks: [
        {
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
    };
  }

  /** `POST SolutionAware/<cid>/SwitchActive/<templateId>?pid=`: makes a version active (map stopped). */
  switchActive(
    cid: string,
    templateId: string,
    pid: string | undefined,
  ): { tid: string; template: TemplateView } {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    const map =
      pid !== undefined && pid !== ""
        ? Object.values(link.maps).find((m) => pidOf(link, m.name) === pid)
        : Object.values(link.maps).find((m) =>
            templatesOf(link.cid, m.name).some((t) => t.id === templateId),
          );
    if (!map)
      throw gatewayErrors.mapNotFound(pid ? `with pid ${pid}` : `with a version ${templateId}`);
    const template = templatesOf(link.cid, map.name).find((t) => t.id === templateId);
    if (!template) throw gatewayErrors.templateNotFound(templateId, map.name);
    if (!stoppedStates.includes(map.state))
      throw gatewayErrors.mapNotStopped(map.name, mapStateName(map.state));
    map.activeTemplate = { author: template.author, version: versionTextOf(template) };
    return { tid: tidOf(link.cid, map.name), template };
  }

  /** `GET /api/ProjectExecutionWithCompanies/<pid>`: the latest initial sync per legal entity. */
  projectExecutions(pid: string): unknown {
    const { link, map, spec } = mapByPid(this.core, pid);
    const recorded = Object.values(map.executions);
    if (!spec.companySpecific) {
      const first = link.legalEntities[0];
      const responses =
        recorded.length > 0 ? recorded.map(runView) : first ? [notStartedView(first)] : [];
      return { projectExecutionResponses: responses };
    }
    const names = [...new Set([...link.legalEntities, ...Object.keys(map.executions)])];
    return {
      projectExecutionResponses: names.map((le) => {
        const run = map.executions[le];
        return run ? runView(run) : notStartedView(le);
      }),
    };
  }

  // ------------------------------------------------------------------ solutions and keys

  /** `GET SolutionAware/<cid>/Solutions/`. */
  solutions(cid: string): unknown[] {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    return orchestrationSolutions.map((name) => {
      const installed = installedSolution(this.core.ctx.dataverse.get(link.org), name);
      return {
        uniqueName: name,
        version: installed?.version ?? requiredSolutionVersions[name] ?? "1.0.0.0",
        installed: installed !== undefined,
        applied: link.appliedSolutions.includes(name),
        maps: mapsOfSolution(name).map((s) => s.name),
      };
    });
  }

  /** `POST SolutionAware/<cid>/RestoreTemplates`: applies solutions in the background. */
  applySolutions(cid: string, names: readonly string[]): { requestId: string } {
    const env = envByCid(this.core, cid);
    const link = requireLink(this.core, env.name);
    if (names.length === 0)
      throw gatewayErrors.badRequest(
        "solutions must name at least one solution ({criteria:{uniquename}}).",
      );
    const canonical = names.map((n) => {
      const found = orchestrationSolutions.find((s) => s.toLowerCase() === n.toLowerCase());
      if (!found) throw gatewayErrors.unknownSolution(n);
      return found;
    });
    const request = newRequest(this.core, "solution", env, link.generation, "RestoreTemplates");
    request.solutions = [...new Set(canonical)];
    launch(this.core, request);
    return { requestId: request.requestId };
  }

  /** `GET SolutionAware/<cid>/Status/<requestId>`. */
  solutionStatus(cid: string, requestId: string): unknown {
    const env = envByCid(this.core, cid);
    const request = this.core.state.requests[requestId];
    if (!request || request.fnoEnv !== env.name) throw gatewayErrors.requestNotFound(requestId);
    return { requestId, state: request.state, errorMessage: request.errorMessage };
  }

  /** `GET /api/dataset/<org>/IntegrationKeys`: the keys of every applied map. */
  integrationKeys(orgOrUrl: string): {
    datasetName: string;
    integrationKeys: Record<string, string[]>;
  } {
    const link = linkForDataset(this.core, orgOrUrl);
    const keys: Record<string, string[]> = {};
    for (const m of sortedMaps(link)) {
      const spec = mapSpec(m.name);
      if (spec) keys[spec.dataverseEntitySet] = keysOf(link, spec);
    }
    return { datasetName: link.org, integrationKeys: keys };
  }

  /** `POST /api/dataset/<org>/IntegrationKeys`: sets keys per entity set (maps must be stopped). */
  setIntegrationKeys(orgOrUrl: string, keys: Readonly<Record<string, readonly string[]>>): unknown {
    const link = linkForDataset(this.core, orgOrUrl);
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
    return this.integrationKeys(link.org);
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

  /** Removes a legal entity from a link by hand, without the guards (drift). */
  removeLegalEntityByHand(envName: string, code: string): { legalEntities: string[] } {
    return removeLegalEntityByHand(this.core, envName, code);
  }

  /** Every initial-sync job with its progress, for `GET /_emulator/jobs`. */
  jobsView(): unknown[] {
    return jobsView(this.core);
  }

  /** Sets a virtual row count (see `virtualRows.ts`). */
  setVirtualRows(entry: VirtualRowsEntry): void {
    setVirtualRows(this.core, entry);
  }

  /** Every virtual row count. */
  virtualRowsView(): VirtualRowsEntry[] {
    return virtualRowsView(this.core);
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
