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
 */
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import type { TokenClaims } from "../core/http";
import type { TableSet, WriteEvent } from "../store/tables";
import { DataverseTables } from "../store/schema";
import { adapters, type LinkSides } from "./adapters";
import { checkCompanies, disableCompany, enableCompany } from "./companies";
import { gatewayErrors } from "./errors";
import { guidFrom } from "./ids";
import { advanceRun, notStartedView, planRun, runView } from "./initialSync";
import { handleClientWrite, replayQueue } from "./liveSync";
import {
  mapSpec,
  mapSpecs,
  mapsOfSolution,
  orchestrationSolutions,
  prerequisiteSequence,
  requiredSolutionVersions,
  versionText,
  type MapSpec,
} from "./maps";
import { normalizeCodes, parseInstance } from "./names";
import { clearRuntimeConfigs, writeRuntimeConfig } from "./runtimeConfigs";
import { applySolutionMaps, checkSolutionsInstalled, installedSolution } from "./solutions";
import {
  emptyState,
  MapAction,
  mapActions,
  mapStateName,
  MapState,
  RequestState,
  stoppedStates,
  type JobRecord,
  type LinkState,
  type MapRuntime,
  type Master,
  type RequestKind,
  type RequestRecord,
  type RequestStep,
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

export { normalizeCodes, parseInstance } from "./names";
export type { TemplateView } from "./views";

/** Legal entities with initial writes or initial sync (DW/initial-sync-guidance.md). */
export const maxLegalEntitiesWithInitialWrites = 40;
/** Legal entities per link (DW/dual-write-troubleshooting-initial-setup.md). */
export const maxLegalEntitiesPerLink = 250;
/** Emulated milliseconds between two steps of an initial-sync job. */
const jobTickMs = 100;
/** Requests remembered (older ones are forgotten). */
const maxRequests = 1000;
/** `lastRequests` entries per map. */
const maxLastRequests = 5;

/** Body of a link / relink / unlink (`POST /api/ConnectionSet/<cid>/Reset`). */
export interface ResetBody {
  powerAppsEnvironmentName?: string;
  environments?: string[];
  legalEntities?: string[];
  skipInitialWritesForNewLegalEntities?: boolean;
}

/** One detail of `POST Start`, already validated. */
export interface StartDetail {
  tid: string;
  pid?: string;
  cid: string;
  parameters: StepParameters;
}

/** The dual-write runtime. One per emulator. */
export class DualWriteRuntime {
  private state: RuntimeState = emptyState();
  private closed = false;
  private readonly attached = new WeakSet<TableSet>();
  /** Requests whose background loop runs in this process. */
  private readonly running = new Set<string>();
  private resumeNeeded = false;

  constructor(private readonly ctx: EmulatorContext) {}

  // ------------------------------------------------------------------ lifecycle

  /** Plain JSON of the runtime state, for persistence. */
  snapshot(): unknown {
    return structuredClone(this.state);
  }

  /**
   * Replaces the state with a `snapshot()`. Work that was under way resumes once the table sets
   * are attached again.
   */
  restore(data: unknown): void {
    if (data === undefined || data === null) {
      this.state = emptyState();
      return;
    }
    const s = data as Partial<RuntimeState>;
    if (s.version !== 1 || typeof s.links !== "object" || typeof s.requests !== "object") {
      throw new Error(
        "The persisted dual-write runtime state has an unknown format (expected version 1).",
      );
    }
    this.state = { ...emptyState(), ...structuredClone(s as RuntimeState) };
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
    for (const v of this.state.virtualRows) {
      const set =
        v.kind === "fno" ? this.ctx.fno.get(v.instance) : this.ctx.dataverse.get(v.instance);
      if (set) setVirtualRowCount(set, v.table, v.company, v.count);
    }
    if (this.resumeNeeded) {
      this.resumeNeeded = false;
      // After the caller has attached every pair (same tick), pick up unfinished work.
      setImmediate(() => this.resumeBackground());
    }
  }

  /** Stops background work for good (pending transitions and jobs never finish). */
  close(): void {
    this.closed = true;
  }

  /** `RetrieveFinanceAndOperationsIntegrationDetails` for a Dataverse org, or undefined when not linked. */
  integrationDetails(org: string): { Url: string; TenantId: string; Id: string } | undefined {
    const link = this.linkByOrg(org);
    if (!link) return undefined;
    return { Url: this.fnoUrl(link.fnoEnv), TenantId: link.tenantId, Id: link.cid };
  }

  // ------------------------------------------------------------------ environments and links

  /** `GET Environments`: the F&O environment a URL (or name) identifies, `[]` when unknown. */
  resolveEnvironments(targetType: string, identifier: string): unknown[] {
    let env: EnvironmentPair | undefined;
    if (targetType.toUpperCase() === "CRM") {
      const org = parseInstance(identifier, "dataverse");
      const link = org ? this.linkByOrg(org) : undefined;
      env = link ? this.ctx.environments.get(link.fnoEnv) : undefined;
    } else {
      const name = parseInstance(identifier, "fno");
      env = name ? this.ctx.environments.get(name) : undefined;
      if (env && !this.ctx.fno.has(env.name)) env = undefined;
    }
    if (!env) return [];
    const link = this.state.links[env.name];
    return [
      {
        cid: env.cid,
        cname: env.name,
        detail: { isSolutionAware: true },
        powerAppsEnvironment: link ? this.dvUrl(link.org) : null,
        linked: link !== undefined,
      },
    ];
  }

  /** `GET /api/ConnectionSet/<cname>`. */
  connectionSet(cname: string): unknown {
    const link =
      this.state.links[cname] ?? Object.values(this.state.links).find((l) => l.cid === cname);
    if (!link) throw gatewayErrors.connectionSetNotFound(cname);
    const dv = this.dvOf(link);
    return {
      cid: link.cid,
      cname: link.fnoEnv,
      environments: [
        { name: link.fnoEnv, targetType: "AX", directUrl: this.fnoUrl(link.fnoEnv) },
        { name: link.org, targetType: "CRM", directUrl: this.dvUrl(link.org) },
      ],
      dualWriteDetail: {
        legalEntityMappings: {
          leftEnvironment: this.fnoUrl(link.fnoEnv),
          rightEnvironment: this.dvUrl(link.org),
          mappings: link.legalEntities.map((code) => ({
            left: { name: code, id: code },
            right: {
              name: code,
              id:
                dv
                  ?.all(DataverseTables.companies)
                  .find((r) => String(r.row.cdm_companycode).toUpperCase() === code)?.row
                  .cdm_companyid ?? null,
            },
          })),
        },
        conflictResolution: { option: "1", master: "CRM" },
        skipInitialWritesForNewLegalEntities: link.skipInitialWritesForNewLegalEntities,
        isSolutionAware: true,
      },
    };
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
    const env = this.envByCid(cid);
    const current = this.state.links[env.name];
    const orgUrl = body.powerAppsEnvironmentName;
    let org: string | undefined;
    let codes: string[] = [];
    const skip = body.skipInitialWritesForNewLegalEntities === true;

    if (current && !forceReset) {
      const notStopped = Object.values(current.maps)
        .filter((m) => !stoppedStates.includes(m.state))
        .map((m) => m.name);
      if (notStopped.length > 0) throw gatewayErrors.mapsNotStopped(notStopped);
    }
    if (orgUrl !== undefined) {
      org = parseInstance(orgUrl, "dataverse");
      if (!org || !this.ctx.dataverse.has(org))
        throw gatewayErrors.dataverseNotFound(`'${orgUrl}'`);
      for (const e of body.environments ?? []) {
        const fnoName = parseInstance(e, "fno");
        if (fnoName !== undefined && fnoName !== env.name) {
          throw gatewayErrors.badRequest(
            `environments names the Finance and Operations environment '${fnoName}', but the request is for '${env.name}' (cid ${cid}).`,
          );
        }
      }
      const other = Object.values(this.state.links).find(
        (l) => l.org === org && l.fnoEnv !== env.name,
      );
      if (other) throw gatewayErrors.dataverseAlreadyLinked(org, other.fnoEnv);
      codes = normalizeCodes(body.legalEntities ?? []);
      this.checkLegalEntityCount(codes.length, skip);
      checkCompanies(codes, this.fnoSet(env.name), this.dvSet(org), env.name);
    }

    // Everything is valid: tear down the old link, then build the new one.
    if (current) this.teardown(current);
    const request = this.newRequest("reset", env, current?.generation ?? 0, "Reset");
    if (org !== undefined) {
      const generation = (current?.generation ?? 0) + 1;
      const link: LinkState = {
        fnoEnv: env.name,
        org,
        cid: env.cid,
        tenantId: claims?.tid ?? "",
        generation,
        linkedAt: this.ctx.clock.now(),
        legalEntities: [],
        skipInitialWritesForNewLegalEntities: skip,
        appliedSolutions: [],
        integrationKeys: {},
        maps: {},
      };
      this.state.links[env.name] = link;
      for (const code of codes)
        enableCompany(code, this.fnoSet(env.name), this.dvSet(org), org, this.ctx.clock.now());
      link.legalEntities = codes;
      request.generation = generation;
    }
    this.complete(request, null);
    return { requestId: request.requestId };
  }

  /** `PUT /api/ConnectionSet/<cid>/LegalEntities`: adds and removes legal entities in place. */
  editLegalEntities(
    cid: string,
    requested: readonly string[],
    skipInitialWrites: boolean,
  ): { legalEntities: string[] } {
    const env = this.envByCid(cid);
    const link = this.requireLink(env.name);
    const codes = normalizeCodes(requested);
    const added = codes.filter((c) => !link.legalEntities.includes(c));
    const removed = link.legalEntities.filter((c) => !codes.includes(c));
    const maps = Object.values(link.maps);
    const initializing = maps.filter((m) => m.state === MapState.InitialSync).map((m) => m.name);
    if (initializing.length > 0) throw gatewayErrors.mapInitializing(initializing);
    const paused = maps.filter((m) => m.state === MapState.Paused).map((m) => m.name);
    if (removed.length > 0 && paused.length > 0) throw gatewayErrors.mapPaused(paused);
    this.checkLegalEntityCount(codes.length, skipInitialWrites);
    const fno = this.fnoSet(env.name);
    const dv = this.dvSet(link.org);
    checkCompanies(added, fno, dv, env.name);

    const now = this.ctx.clock.now();
    for (const code of added) enableCompany(code, fno, dv, link.org, now);
    for (const code of removed) disableCompany(code, dv, now);
    link.legalEntities = codes;
    link.skipInitialWritesForNewLegalEntities = skipInitialWrites;

    // Running and paused company maps run initial writes for the new companies.
    if (added.length > 0 && !skipInitialWrites) {
      const targets = maps.filter(
        (m) =>
          (m.state === MapState.Running || m.state === MapState.Paused) &&
          mapSpec(m.name)?.companySpecific,
      );
      if (targets.length > 0) {
        const request = this.newRequest("legalEntities", env, link.generation, "InitialWrites");
        for (const m of targets) {
          request.steps.push(
            this.newStep(m.name, MapAction.InitialSync, {
              skipInitialSync: false,
              master: "AX",
              legalEntities: added,
            }),
          );
          m.busyRequestId = request.requestId;
          this.noteRequest(m, request, MapAction.InitialSync);
        }
        this.launch(request);
      }
    }
    return { legalEntities: [...link.legalEntities] };
  }

  // ------------------------------------------------------------------ maps

  /** `GET Entities`: the maps of the applied solutions (`[]` when not linked). */
  listMaps(cid: string): unknown[] {
    const env = this.envByCid(cid);
    const link = this.state.links[env.name];
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
    const env = this.envByCid(details[0]?.cid ?? "");
    const link = this.requireLink(env.name);
    const seen = new Set<string>();
    const targets: Array<{ map: MapRuntime; detail: StartDetail }> = [];
    for (const d of details) {
      const map = this.mapByTid(link, d.tid);
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
      if (busy && this.state.requests[busy]?.state === RequestState.Waiting)
        throw gatewayErrors.mapBusy(map.name, busy);
      targets.push({ map, detail: d });
    }
    const request = this.newRequest("map", env, link.generation, action);
    for (const { map, detail } of targets) {
      request.steps.push(this.newStep(map.name, action, detail.parameters));
      map.busyRequestId = request.requestId;
      this.noteRequest(map, request, action);
    }
    this.launch(request);
    return { requestId: request.requestId };
  }

  /** `GET Status/<requestId>`. */
  requestStatus(requestId: string): unknown {
    const request = this.state.requests[requestId];
    if (!request) throw gatewayErrors.requestNotFound(requestId);
    const link = this.state.links[request.fnoEnv];
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
    const env = this.envByCid(cid);
    return tids.map((tid) => {
      const spec = mapSpecs.find((s) => tidOf(env.cid, s.name) === tid);
      if (!spec) throw gatewayErrors.mapNotFound(`with tid ${tid} in environment '${env.name}'`);
      return prerequisiteSequence(spec.name).map((n) => tidOf(env.cid, n));
    });
  }

  /** `GET <pid>/FieldMappings` of the active version. */
  fieldMappings(pid: string): unknown {
    const { spec } = this.mapByPid(pid);
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
    const env = this.envByCid(cid);
    const link = this.requireLink(env.name);
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
    const { link, map, spec } = this.mapByPid(pid);
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
    const env = this.envByCid(cid);
    const link = this.requireLink(env.name);
    return orchestrationSolutions.map((name) => {
      const installed = installedSolution(this.ctx.dataverse.get(link.org), name);
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
    const env = this.envByCid(cid);
    const link = this.requireLink(env.name);
    if (names.length === 0)
      throw gatewayErrors.badRequest(
        "solutions must name at least one solution ({criteria:{uniquename}}).",
      );
    const canonical = names.map((n) => {
      const found = orchestrationSolutions.find((s) => s.toLowerCase() === n.toLowerCase());
      if (!found) throw gatewayErrors.unknownSolution(n);
      return found;
    });
    const request = this.newRequest("solution", env, link.generation, "RestoreTemplates");
    request.solutions = [...new Set(canonical)];
    this.launch(request);
    return { requestId: request.requestId };
  }

  /** `GET SolutionAware/<cid>/Status/<requestId>`. */
  solutionStatus(cid: string, requestId: string): unknown {
    const env = this.envByCid(cid);
    const request = this.state.requests[requestId];
    if (!request || request.fnoEnv !== env.name) throw gatewayErrors.requestNotFound(requestId);
    return { requestId, state: request.state, errorMessage: request.errorMessage };
  }

  /** `GET /api/dataset/<org>/IntegrationKeys`: the keys of every applied map. */
  integrationKeys(orgOrUrl: string): {
    datasetName: string;
    integrationKeys: Record<string, string[]>;
  } {
    const link = this.linkForDataset(orgOrUrl);
    const keys: Record<string, string[]> = {};
    for (const m of sortedMaps(link)) {
      const spec = mapSpec(m.name);
      if (spec) keys[spec.dataverseEntitySet] = keysOf(link, spec);
    }
    return { datasetName: link.org, integrationKeys: keys };
  }

  /** `POST /api/dataset/<org>/IntegrationKeys`: sets keys per entity set (maps must be stopped). */
  setIntegrationKeys(orgOrUrl: string, keys: Readonly<Record<string, readonly string[]>>): unknown {
    const link = this.linkForDataset(orgOrUrl);
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
    return Object.values(this.state.links).map((l) => ({
      fnoEnv: l.fnoEnv,
      org: l.org,
      cid: l.cid,
      generation: l.generation,
      legalEntities: [...l.legalEntities],
      skipInitialWritesForNewLegalEntities: l.skipInitialWritesForNewLegalEntities,
      appliedSolutions: [...l.appliedSolutions],
      tenantId: l.tenantId,
    }));
  }

  /** Runtime state of the maps of an environment's link, for `GET /_emulator/maps?env=`. */
  mapsView(envName: string): unknown[] {
    const link = this.requireLink(envName);
    return sortedMaps(link).map((m) => ({
      name: m.name,
      tid: tidOf(link.cid, m.name),
      pid: pidOf(link, m.name),
      state: m.state,
      stateName: mapStateName(m.state),
      activeTemplate: { ...m.activeTemplate },
      queueLength: m.queue.length,
      catchUpErrors: m.catchUpErrors.map((e) => ({ ...e })),
      busyRequestId: m.busyRequestId,
      executions: Object.values(m.executions).map(runView),
    }));
  }

  /** Sets a map's state by hand (drift: "stopped in the UI"); no transition, no request. */
  setMapStateByHand(envName: string, mapName: string, state: number): unknown {
    const link = this.requireLink(envName);
    const map = link.maps[mapName];
    if (!map) throw gatewayErrors.mapNotFound(`'${mapName}' in environment '${envName}'`);
    if (!Object.values(MapState).includes(state as never)) {
      throw gatewayErrors.badRequest(`state must be one of 0–6 (or a state name); got ${state}.`);
    }
    map.state = state;
    if (stoppedStates.includes(state)) map.queue = [];
    if (state === MapState.Running) this.configure(link, map.name);
    return mapView(link, map);
  }

  /** Makes a version active by hand, ignoring the map's state (drift: "version switched in the UI"). */
  setActiveTemplateByHand(
    envName: string,
    mapName: string,
    version: string,
    author?: string,
  ): unknown {
    const link = this.requireLink(envName);
    const map = link.maps[mapName];
    const spec = mapSpec(mapName);
    if (!map || !spec) throw gatewayErrors.mapNotFound(`'${mapName}' in environment '${envName}'`);
    const t = spec.templates.find(
      (x) => versionText(x.version) === version && (author === undefined || x.author === author),
    );
    if (!t)
      throw gatewayErrors.badRequest(
        `Map '${mapName}' has no version ${version}${author ? ` by ${author}` : ""}.`,
      );
    map.activeTemplate = { author: t.author, version };
    return mapView(link, map);
  }

  /** Removes a legal entity from a link by hand, without the guards (drift). */
  removeLegalEntityByHand(envName: string, code: string): { legalEntities: string[] } {
    const link = this.requireLink(envName);
    const upper = code.toUpperCase();
    if (!link.legalEntities.includes(upper)) {
      throw gatewayErrors.badRequest(`Legal entity '${upper}' is not in the link of '${envName}'.`);
    }
    link.legalEntities = link.legalEntities.filter((c) => c !== upper);
    return { legalEntities: [...link.legalEntities] };
  }

  /** Every initial-sync job with its progress, for `GET /_emulator/jobs`. */
  jobsView(): unknown[] {
    return Object.values(this.state.jobs).map((j) => {
      const map = this.state.links[j.fnoEnv]?.maps[j.map];
      return {
        ...j,
        runs: j.legalEntities.flatMap((le) => {
          const run = map?.executions[le];
          return run && run.initialSyncRequestId === j.requestId ? [runView(run)] : [];
        }),
      };
    });
  }

  /** Sets a virtual row count (see `virtualRows.ts`). */
  setVirtualRows(entry: VirtualRowsEntry): void {
    const set =
      entry.kind === "fno"
        ? this.ctx.fno.get(entry.instance)
        : this.ctx.dataverse.get(entry.instance);
    if (!set) {
      throw entry.kind === "fno"
        ? gatewayErrors.environmentNotFound(`'${entry.instance}'`)
        : gatewayErrors.dataverseNotFound(`'${entry.instance}'`);
    }
    if (!set.definition(entry.table))
      throw gatewayErrors.badRequest(`'${entry.instance}' has no table '${entry.table}'.`);
    if (!Number.isInteger(entry.count) || entry.count < 0)
      throw gatewayErrors.badRequest("count must be a non-negative integer.");
    const company = entry.company.toUpperCase();
    this.state.virtualRows = this.state.virtualRows.filter(
      (v) =>
        !(
          v.kind === entry.kind &&
          v.instance === entry.instance &&
          v.table === entry.table &&
          v.company === company
        ),
    );
    if (entry.count > 0) this.state.virtualRows.push({ ...entry, company });
    setVirtualRowCount(set, entry.table, company, entry.count);
  }

  /** Every virtual row count. */
  virtualRowsView(): VirtualRowsEntry[] {
    return this.state.virtualRows.map((v) => ({ ...v }));
  }

  // ------------------------------------------------------------------ live sync

  private onWrite(event: WriteEvent): void {
    // Writes of clients and of the control API are a person's writes; the runtime's own copies
    // (origin "runtime") must not echo back, and seeds describe the state before any link.
    if ((event.origin !== "client" && event.origin !== "control") || this.closed) return;
    const link =
      event.kind === "fno" ? this.state.links[event.instance] : this.linkByOrg(event.instance);
    if (!link) return;
    const sides = this.sidesOf(link);
    if (!sides) return;
    handleClientWrite(link, sides, event);
  }

  // ------------------------------------------------------------------ requests in the background

  private newRequest(
    kind: RequestKind,
    env: EnvironmentPair,
    generation: number,
    action: number | string,
  ): RequestRecord {
    const requestId = guidFrom("request", env.cid, this.state.counter++);
    const request: RequestRecord = {
      requestId,
      kind,
      cid: env.cid,
      fnoEnv: env.name,
      generation,
      action,
      state: RequestState.Waiting,
      errorMessage: null,
      createdAt: this.ctx.clock.now(),
      completedAt: null,
      steps: [],
      solutions: [],
    };
    this.state.requests[requestId] = request;
    this.state.requestOrder.push(requestId);
    while (this.state.requestOrder.length > maxRequests) {
      const old = this.state.requestOrder.shift() as string;
      if (this.state.requests[old]?.state !== RequestState.Waiting) delete this.state.requests[old];
    }
    return request;
  }

  private newStep(map: string, action: number, parameters: StepParameters): RequestStep {
    return {
      map,
      action,
      parameters,
      state: RequestState.Waiting,
      errorMessage: null,
      jobId: null,
    };
  }

  private noteRequest(map: MapRuntime, request: RequestRecord, action: number): void {
    map.lastRequests.unshift({
      requestId: request.requestId,
      action,
      state: RequestState.Waiting,
      errorMessage: null,
    });
    map.lastRequests.splice(maxLastRequests);
  }

  private complete(request: RequestRecord, errorMessage: string | null): void {
    request.state = errorMessage === null ? RequestState.Completed : RequestState.Error;
    request.errorMessage = errorMessage;
    request.completedAt = this.ctx.clock.now();
  }

  private launch(request: RequestRecord): void {
    if (this.running.has(request.requestId)) return;
    this.running.add(request.requestId);
    this.runRequest(request)
      .catch((e: unknown) => {
        if (request.state === RequestState.Waiting) {
          this.complete(
            request,
            `Internal emulator error: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
      })
      .finally(() => {
        this.running.delete(request.requestId);
        if (!this.closed) this.persistSoon();
      });
  }

  private resumeBackground(): void {
    if (this.closed) return;
    for (const id of this.state.requestOrder) {
      const request = this.state.requests[id];
      if (request?.state === RequestState.Waiting) this.launch(request);
    }
  }

  /** Sleeps the transition time; false when the emulator closed or the link changed meanwhile. */
  private async transition(request: RequestRecord): Promise<boolean> {
    await this.ctx.clock.sleep(this.ctx.settings.transitionMs);
    return !this.closed && this.currentLink(request) !== undefined;
  }

  private currentLink(request: RequestRecord): LinkState | undefined {
    const link = this.state.links[request.fnoEnv];
    return link && link.generation === request.generation ? link : undefined;
  }

  private async runRequest(request: RequestRecord): Promise<void> {
    if (request.kind === "solution") {
      if (!(await this.transition(request))) return this.abandon(request);
      const link = this.currentLink(request) as LinkState;
      const error = checkSolutionsInstalled(
        this.ctx.dataverse.get(link.org),
        link.org,
        request.solutions,
      );
      if (error === null) applySolutionMaps(link, request.solutions);
      this.complete(request, error);
      return;
    }
    for (const step of request.steps) {
      if (step.state !== RequestState.Waiting) continue;
      let error: string | null;
      try {
        error = await this.runStep(request, step);
      } catch (e) {
        error = `Internal emulator error: ${e instanceof Error ? e.message : String(e)}`;
      }
      if (this.closed) return;
      this.finishStep(request, step, error);
    }
    const errors = request.steps
      .filter((s) => s.errorMessage !== null)
      .map((s) => s.errorMessage as string);
    this.complete(request, errors.length > 0 ? errors.join(" ") : null);
  }

  private abandon(request: RequestRecord): void {
    if (this.closed) return;
    this.complete(request, "The link was reset while the request was running.");
  }

  private finishStep(request: RequestRecord, step: RequestStep, error: string | null): void {
    step.state = error === null ? RequestState.Completed : RequestState.Error;
    step.errorMessage = error;
    const link = this.currentLink(request);
    const map = link?.maps[step.map];
    if (!map) return;
    if (map.busyRequestId === request.requestId) map.busyRequestId = null;
    const ref = map.lastRequests.find((r) => r.requestId === request.requestId);
    if (ref) {
      ref.state = step.state;
      ref.errorMessage = error;
    }
    this.persistSoon();
  }

  /** Runs one map's part of a request; returns its error text, or null. */
  private async runStep(request: RequestRecord, step: RequestStep): Promise<string | null> {
    const gone = "The link was reset while the request was running.";
    const link = this.currentLink(request);
    const map = link?.maps[step.map];
    if (!link || !map) return gone;
    const name = map.name;
    const stateText = (): string => mapStateName(map.state);
    const jobKind = request.kind === "legalEntities" ? "initialWrites" : "initialSync";
    // A restored request whose job had started: carry on with the job.
    if (step.jobId !== null) return this.runInitialSync(request, step, link, map, jobKind);

    switch (step.action) {
      case MapAction.Start: {
        if (map.state === MapState.Running) return null;
        if (!stoppedStates.includes(map.state)) {
          return `Map '${name}' is ${stateText()} and cannot be started${map.state === MapState.Paused ? "; resume it instead" : ""}.`;
        }
        if (!(await this.transition(request))) return gone;
        // The lookup metadata needs the prerequisite maps live: Running, or on their way back to
        // Running (catching up, or in an initial sync that started from Running or a start).
        const live: readonly number[] = [MapState.Running, MapState.CatchUp, MapState.InitialSync];
        const missing = prerequisiteSequence(name).filter(
          (p) => !live.includes(link.maps[p]?.state ?? MapState.None),
        );
        if (missing.length > 0) {
          return `Unable to build dual-write lookup metadata. Missing: ${missing.join(", ")}. Start the prerequisite maps first (they must be Running).`;
        }
        if (!step.parameters.skipInitialSync)
          return this.runInitialSync(request, step, link, map, "initialSync");
        map.state = MapState.Running;
        this.configure(link, name);
        return null;
      }
      case MapAction.Stop: {
        if (stoppedStates.includes(map.state)) return null;
        if (map.state === MapState.InitialSync)
          return `Map '${name}' is initializing; no action is possible until initial sync ends.`;
        if (!(await this.transition(request))) return gone;
        map.state = MapState.Stopped;
        map.queue = [];
        return null;
      }
      case MapAction.Pause: {
        if (map.state === MapState.Paused) return null;
        if (map.state !== MapState.Running)
          return `Map '${name}' is ${stateText()}; only a Running map can be paused.`;
        if (!(await this.transition(request))) return gone;
        map.state = MapState.Paused;
        return null;
      }
      case MapAction.Resume: {
        if (map.state === MapState.Running) return null;
        // A restored request may find its map half-way, catching up already.
        const resuming = map.state === MapState.CatchUp && map.busyRequestId === request.requestId;
        if (map.state !== MapState.Paused && !resuming)
          return `Map '${name}' is ${stateText()}; only a Paused map can be resumed.`;
        map.state = MapState.CatchUp;
        this.persistSoon();
        if (!(await this.transition(request))) return gone;
        const sides = this.sidesOf(link);
        if (sides) replayQueue(map, adapters.get(name), sides);
        map.state = MapState.Running;
        this.configure(link, name);
        return null;
      }
      case MapAction.InitialSync: {
        // Initial writes for added legal entities also run on paused maps (DW/edit-legal-entity.md).
        const pausedOk = request.kind === "legalEntities" && map.state === MapState.Paused;
        if (
          map.state === MapState.InitialSync ||
          map.state === MapState.CatchUp ||
          (map.state === MapState.Paused && !pausedOk)
        ) {
          return `Map '${name}' is ${stateText()}; initial sync needs a Running or stopped map.`;
        }
        return this.runInitialSync(request, step, link, map, jobKind);
      }
      default:
        return `Unknown action ${step.action}.`;
    }
  }

  /** Runs an initial-sync job for a step to its end; returns the step's error text, or null. */
  private async runInitialSync(
    request: RequestRecord,
    step: RequestStep,
    link: LinkState,
    map: MapRuntime,
    kind: JobRecord["kind"],
  ): Promise<string | null> {
    const spec = mapSpec(map.name) as MapSpec;
    let job = step.jobId ? this.state.jobs[step.jobId] : undefined;
    if (!job) {
      const requested = step.parameters.legalEntities
        ? normalizeCodes(step.parameters.legalEntities)
        : [...link.legalEntities];
      const unknown = requested.filter((c) => !link.legalEntities.includes(c));
      if (unknown.length > 0)
        return `Legal entities ${unknown.join(", ")} are not in the link; add them first.`;
      if (requested.length === 0 && spec.companySpecific)
        return `The link has no legal entity to synchronize for map '${map.name}'.`;
      if (requested.length > maxLegalEntitiesWithInitialWrites) {
        return `Initial sync supports at most ${maxLegalEntitiesWithInitialWrites} legal entities; this run has ${requested.length}. Run it in groups of at most ${maxLegalEntitiesWithInitialWrites}.`;
      }
      const companies = spec.companySpecific ? requested : requested.slice(0, 1);
      job = this.startJob(
        request,
        link,
        map,
        spec,
        kind,
        step.parameters.master,
        companies.length > 0 ? companies : [""],
      );
      step.jobId = job.jobId;
      this.persistSoon();
    }
    await this.runJob(job, link, map, spec);
    if (this.closed) return null;
    if (job.state === "Cancelled") return "The link was reset while the initial sync was running.";
    if (job.state === "Succeeded") return null;
    const failures = job.legalEntities
      .map((le) => map.executions[le])
      .filter(
        (r) => r && r.executionStatus === "Failed" && r.initialSyncRequestId === request.requestId,
      )
      .map((r) => {
        const first = r?.legs.flatMap((l) => l.importErrors)[0];
        return `${r?.legalEntityName || "(global)"}: ${r?.errorCount} error(s)${first ? `, first: ${first.errorMessage}` : ""}`;
      });
    return `Initial sync of '${map.name}' failed for ${failures.join("; ")}`;
  }

  private startJob(
    request: RequestRecord,
    link: LinkState,
    map: MapRuntime,
    spec: MapSpec,
    kind: JobRecord["kind"],
    master: Master,
    companies: string[],
  ): JobRecord {
    const now = this.ctx.clock.now();
    const job: JobRecord = {
      jobId: guidFrom("job", link.cid, this.state.counter++),
      requestId: request.requestId,
      fnoEnv: link.fnoEnv,
      generation: link.generation,
      map: map.name,
      kind,
      master,
      legalEntities: companies,
      state: "Running",
      startedAt: now,
      finishedAt: null,
      lastTick: now,
      resumeState: kind === "initialWrites" ? map.state : null,
    };
    this.state.jobs[job.jobId] = job;
    map.state = MapState.InitialSync;
    const sides = this.sidesOf(link);
    for (const company of companies) {
      if (sides)
        map.executions[company] = planRun(
          spec,
          adapters.get(map.name),
          sides,
          company,
          request.requestId,
        );
    }
    return job;
  }

  /** Advances a job on the clock until every legal entity is done, then sets the map's state. */
  private async runJob(
    job: JobRecord,
    link: LinkState,
    map: MapRuntime,
    spec: MapSpec,
  ): Promise<void> {
    const adapter = adapters.get(map.name);
    while (job.state === "Running") {
      const runs = job.legalEntities.map((le) => map.executions[le]).filter((r) => r !== undefined);
      if (runs.every((r) => r.executionStatus !== "Running")) break;
      await this.ctx.clock.sleep(jobTickMs);
      if (this.closed) return;
      const current = this.state.links[job.fnoEnv];
      if (!current || current.generation !== job.generation || job.state !== "Running") {
        if (job.state === "Running") job.state = "Cancelled";
        job.finishedAt = this.ctx.clock.now();
        return;
      }
      const sides = this.sidesOf(link);
      if (!sides) continue;
      const now = this.ctx.clock.now();
      const elapsed = Math.max(0, now - job.lastTick);
      job.lastTick = now;
      for (const run of runs) {
        if (run.executionStatus !== "Running") continue;
        run.budget += (elapsed * this.ctx.settings.jobRowsPerSecond) / 1000;
        const allowed = Math.floor(run.budget);
        const used = advanceRun(run, spec, adapter, job.master, sides, allowed);
        run.budget -= used;
      }
    }
    const runs = job.legalEntities.map((le) => map.executions[le]);
    job.state = runs.every((r) => r?.executionStatus === "Succeeded") ? "Succeeded" : "Failed";
    job.finishedAt = this.ctx.clock.now();
    const sides = this.sidesOf(link);
    if (job.kind === "initialWrites") {
      map.state = job.resumeState ?? MapState.Running;
      if (map.state === MapState.Running && sides) replayQueue(map, adapter, sides);
    } else if (job.state === "Succeeded") {
      if (sides) replayQueue(map, adapter, sides);
      map.state = MapState.Running;
      this.configure(link, map.name);
    } else {
      // A failed initial sync leaves the map Not running (DW/dual-write-troubleshooting-initial-sync.md).
      map.state = MapState.NotRunning;
      map.queue = [];
    }
    this.persistSoon();
  }

  // ------------------------------------------------------------------ reset

  private teardown(link: LinkState): void {
    for (const id of this.state.requestOrder) {
      const r = this.state.requests[id];
      if (r && r.fnoEnv === link.fnoEnv && r.state === RequestState.Waiting) {
        this.complete(r, "The link was reset while the request was running.");
      }
    }
    for (const job of Object.values(this.state.jobs)) {
      if (job.fnoEnv === link.fnoEnv && job.state === "Running") {
        job.state = "Cancelled";
        job.finishedAt = this.ctx.clock.now();
      }
    }
    // Reset clears the Dataverse table "Dual Write Runtime Configurations" (DW/reset.md).
    const dv = this.ctx.dataverse.get(link.org);
    if (dv) clearRuntimeConfigs(dv);
    delete this.state.links[link.fnoEnv];
  }

  /** Writes the runtime configuration row of a map that runs. */
  private configure(link: LinkState, mapName: string): void {
    const dv = this.ctx.dataverse.get(link.org);
    const spec = mapSpec(mapName);
    const map = link.maps[mapName];
    if (dv && spec && map)
      writeRuntimeConfig(
        dv,
        link.org,
        pidOf(link, mapName),
        spec,
        map.activeTemplate.version,
        this.ctx.clock.now(),
      );
  }

  // ------------------------------------------------------------------ lookups

  private mapByTid(link: LinkState, tid: string): MapRuntime | undefined {
    return Object.values(link.maps).find((m) => tidOf(link.cid, m.name) === tid);
  }

  private mapByPid(pid: string): { link: LinkState; map: MapRuntime; spec: MapSpec } {
    for (const link of Object.values(this.state.links)) {
      for (const map of Object.values(link.maps)) {
        if (pidOf(link, map.name) === pid) return { link, map, spec: mapSpec(map.name) as MapSpec };
      }
    }
    throw gatewayErrors.mapNotFound(`with pid ${pid}`);
  }

  private envByCid(cid: string): EnvironmentPair {
    const env = [...this.ctx.environments.values()].find(
      (e) => e.cid.toLowerCase() === cid.toLowerCase(),
    );
    if (!env) throw gatewayErrors.environmentNotFound(`with cid ${cid}`);
    return env;
  }

  private requireLink(envName: string): LinkState {
    const link = this.state.links[envName];
    if (!link) {
      if (!this.ctx.environments.has(envName))
        throw gatewayErrors.environmentNotFound(`'${envName}'`);
      throw gatewayErrors.notLinked(envName);
    }
    return link;
  }

  private linkByOrg(org: string): LinkState | undefined {
    return Object.values(this.state.links).find((l) => l.org === org);
  }

  private linkForDataset(orgOrUrl: string): LinkState {
    const org = parseInstance(orgOrUrl, "dataverse") ?? orgOrUrl;
    const link = this.linkByOrg(org);
    if (!link) {
      if (!this.ctx.dataverse.has(org)) throw gatewayErrors.dataverseNotFound(`'${orgOrUrl}'`);
      throw gatewayErrors.dataverseNotLinked(org);
    }
    return link;
  }

  private checkLegalEntityCount(count: number, skipInitialWrites: boolean): void {
    if (count > maxLegalEntitiesPerLink)
      throw gatewayErrors.tooManyLegalEntities(count, maxLegalEntitiesPerLink);
    if (!skipInitialWrites && count > maxLegalEntitiesWithInitialWrites) {
      throw gatewayErrors.tooManyLegalEntities(count, maxLegalEntitiesWithInitialWrites);
    }
  }

  private sidesOf(link: LinkState): LinkSides | undefined {
    const fno = this.ctx.fno.get(link.fnoEnv);
    const dv = this.ctx.dataverse.get(link.org);
    if (!fno || !dv) return undefined;
    return {
      fno,
      dv,
      fnoEnv: link.fnoEnv,
      org: link.org,
      baseUrl: this.ctx.baseUrl,
      companies: new Set(link.legalEntities),
      now: this.ctx.clock.now(),
    };
  }

  private fnoSet(name: string): TableSet {
    const set = this.ctx.fno.get(name);
    if (!set) throw gatewayErrors.environmentNotFound(`'${name}'`);
    return set;
  }

  private dvSet(org: string): TableSet {
    const set = this.ctx.dataverse.get(org);
    if (!set) throw gatewayErrors.dataverseNotFound(`'${org}'`);
    return set;
  }

  private dvOf(link: LinkState): TableSet | undefined {
    return this.ctx.dataverse.get(link.org);
  }

  private fnoUrl(env: string): string {
    return `${this.ctx.baseUrl}/fno/${env}`;
  }

  private dvUrl(org: string): string {
    return `${this.ctx.baseUrl}/dataverse/${org}`;
  }

  private persistSoon(): void {
    if (this.closed) return;
    this.ctx.persist().catch(() => {
      // Persistence reports its own failures; a background save must not crash the emulator.
    });
  }
}
