/**
 * Client of the DualWriteManagement gateway (docs/wire-contract.md): environments, the link,
 * legal entities, maps and their actions, request status, prerequisites, solutions, versions,
 * integration keys and initial-sync results.
 *
 * | method                 | HTTP                                                               |
 * |------------------------|--------------------------------------------------------------------|
 * | findEnvironment        | GET DWM/Environments?targetType=AX&identifier=<F&O URL>            |
 * | getConnectionSet       | GET /api/ConnectionSet/<cname>                                     |
 * | link / unlink          | POST /api/ConnectionSet/<cid>/Reset?targetType=AX&forceReset=…    |
 * | setLegalEntities       | PUT /api/ConnectionSet/<cid>/LegalEntities                         |
 * | listMaps               | GET DWM/Entities?targetType=AX&cid=<cid>                           |
 * | startAction            | POST DWM/Start                                                     |
 * | getRequestStatus/wait… | GET DWM/Status/<requestId>                                         |
 * | prerequisiteSequences  | POST DWM/GetTemplatePrerequisiteSequences/<cid>                    |
 * | fieldMappings          | GET DWM/<pid>/FieldMappings                                        |
 * | listSolutions          | GET DWM/SolutionAware/<cid>/Solutions/                             |
 * | applySolutions         | POST DWM/SolutionAware/<cid>/RestoreTemplates, poll …/Status/<id>  |
 * | switchActive           | POST DWM/SolutionAware/<cid>/SwitchActive/<templateId>?pid=<pid>   |
 * | get/setIntegrationKeys | GET/POST /api/dataset/<org>/IntegrationKeys                        |
 * | initialSyncResults     | GET /api/ProjectExecutionWithCompanies/<pid>                       |
 *
 * Starts are not idempotent: after an ambiguous answer the request is looked up in the maps'
 * `lastRequests`, and sent again only when the gateway has no record of it.
 */
import type { z } from "zod";
import { AmbiguousResponseError, DualWriteError, TimeoutError } from "../errors";
import { realSleep, validate, type HttpClient, type HttpRequest } from "./http";
import { parseRetryAfter } from "./retry";
import {
  connectionSetSchema,
  entityItemSchema,
  environmentsSchema,
  fieldMappingsSchema,
  integrationKeysSchema,
  legalEntitiesSchema,
  prerequisitesSchema,
  projectExecutionSchema,
  requestIdSchema,
  solutionStatusSchema,
  solutionsSchema,
  statusSchema,
  switchActiveSchema,
  templateSchema,
} from "./gatewaySchemas";
import { SharedReads } from "./sharedReads";
import { DEFAULT_GATEWAY_SCOPE } from "../config";

/** Map state numbers of the gateway. */
export const MapState = {
  None: 0,
  Stopped: 1,
  InitialSync: 2,
  CatchUp: 3,
  Running: 4,
  Paused: 5,
  NotRunning: 6,
} as const;
/** A map state number (0–6). */
export type MapState = (typeof MapState)[keyof typeof MapState];

/** Request state numbers of the gateway. */
export const RequestState = { Waiting: 1, Completed: 2, Error: 3 } as const;
/** A request state number (1–3). */
export type RequestState = (typeof RequestState)[keyof typeof RequestState];

/** Map actions of `POST Start` (docs/adr/0003-gateway-surface.md). */
export const MapAction = { Start: 1, Stop: 2, Pause: 3, Resume: 4, InitialSync: 8 } as const;
/** A map action number. */
export type MapAction = (typeof MapAction)[keyof typeof MapAction];

/** One map version. */
export interface MapTemplate {
  readonly id: string;
  /** Publisher, e.g. `Microsoft`; empty when the gateway gives none. */
  readonly author: string;
  /** Dotted version, e.g. `1.0.0.5`. */
  readonly version: string;
}

/** One request in a map's history. */
export interface LastRequest {
  readonly requestId: string;
  /** The action number; undefined when the gateway does not say. */
  readonly action: number | undefined;
  readonly state: number;
  readonly errorMessage: string | undefined;
}

/** A map (table map) of a linked environment. */
export interface GatewayMap {
  /** Map family id, stable per map name and environment. */
  readonly tid: string;
  /** Map name, e.g. `accounts - Customers V3`. */
  readonly tName: string;
  /** Runtime project id (`DWM-…`); empty before the map first ran. */
  readonly pid: string;
  readonly state: MapState;
  /** The F&O entity label (left side). */
  readonly financeOperationsEntity: string;
  /** The Dataverse entity set (right side). */
  readonly dataverseEntitySet: string;
  /** The active version; undefined when the gateway names none. */
  readonly activeTemplate: MapTemplate | undefined;
  /** Every available version. */
  readonly templates: readonly MapTemplate[];
  readonly integrationKeys: readonly string[];
  readonly lastRequests: readonly LastRequest[];
}

/** What `findEnvironment` returns. */
export interface GatewayEnvironment {
  /** F&O environment id. */
  readonly cid: string;
  /** Connection-set name (used by `getConnectionSet`). */
  readonly cname: string;
  /** The Dataverse URL it is linked to, when linked. */
  readonly linkedDataverseUrl?: string;
  readonly linked: boolean;
}

/** What `getConnectionSet` returns. */
export interface ConnectionSet {
  readonly cid: string;
  readonly cname: string;
  /** The linked Dataverse environment's URL. */
  readonly dataverseUrl?: string;
  /** The linked F&O environment's URL. */
  readonly financeOperationsUrl?: string;
  /** Codes of the legal entities in the link, as the gateway lists them. */
  readonly legalEntities: readonly string[];
}

/** Which side wins when a row exists on both during initial sync. */
export type SyncMaster = "Dataverse" | "FinanceOperations";

/** One map of a `startAction` call. */
export interface ActionDetail {
  readonly tid: string;
  /** Project id; omitted for initial sync (action 8), required for the others. */
  readonly pid?: string;
  readonly cid: string;
  /** Which side wins conflicts in initial sync. @default "Dataverse" (as the admin UI's Run dialog) */
  readonly master?: SyncMaster;
  /** Restrict initial sync to these legal entities. */
  readonly legalEntities?: readonly string[];
}

/** The state of an asynchronous request. */
export interface RequestStatus {
  readonly requestId: string;
  readonly action: number | undefined;
  /** A `RequestState` number. */
  readonly state: number;
  readonly errorMessage: string | undefined;
  /** The maps the request acted on, as they are now. */
  readonly maps: readonly GatewayMap[];
}

/** How to wait for an asynchronous request. */
export interface WaitOptions {
  /** Give up after this long. @default 1800000 (30 minutes) */
  readonly timeoutMs?: number;
  /** Called after every poll, e.g. to print progress. */
  readonly onProgress?: (status: RequestStatus) => void;
}

/** A solution as the gateway lists it. */
export interface GatewaySolution {
  readonly uniqueName: string;
  readonly version: string | undefined;
  readonly installed: boolean;
  readonly applied: boolean;
  /** Names of the maps it brings. */
  readonly maps: readonly string[];
}

/** Initial-sync outcome for one legal entity. */
export interface LegalEntitySyncResult {
  readonly legalEntity: string;
  /** `NotStarted`, `Running`, `Succeeded` or `Failed`. */
  readonly status: string;
  readonly requestId: string | undefined;
  readonly upserted: number;
  readonly errors: number;
  readonly total: number;
  /** The first errors the gateway reports (at most five). */
  readonly firstErrors: readonly { recordId: string; field: string; message: string }[];
}

/** One leg of a map's field mapping. */
export interface MappingLeg {
  readonly sourceSchema: string;
  readonly destinationSchema: string;
  readonly sourceFilter: string;
  readonly fieldMappings: readonly {
    sourceField: string;
    destinationField: string;
    syncDirection: string;
  }[];
}

/** Options of `GatewayClient`. */
export interface GatewayClientOptions {
  /** Token scope. @default "https://IntegratorApp.com/.default" */
  readonly scope?: string;
  /** Shared-read cache; pass one per process and configuration. @default a new one */
  readonly shared?: SharedReads;
  /** Waits between polls; tests inject a fast one. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Clock for poll timeouts. @default Date.now */
  readonly now?: () => number;
  /** First poll interval; it grows by half each poll up to `maxPollMs`. @default 250 */
  readonly pollMs?: number;
  /** @default 5000 */
  readonly maxPollMs?: number;
  /** Lookups after an ambiguous start (the request may still be registering). @default 3 */
  readonly lookupAttempts?: number;
}

/** The gateway client; see the file comment for the calls. */
export class GatewayClient {
  /** Shared reads of this client; invalidated by every write through it. */
  readonly shared: SharedReads;
  private readonly dwm: string;
  private readonly api: string;
  private readonly scope: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;
  private readonly lookupAttempts: number;

  /** @param gatewayUrl base URL, e.g. `https://127.0.0.1:8443/gateway` */
  constructor(
    gatewayUrl: string,
    private readonly http: HttpClient,
    options: GatewayClientOptions = {},
  ) {
    const base = gatewayUrl.replace(/\/+$/, "");
    this.api = `${base}/api/`;
    this.dwm = `${base}/api/DualWriteManagement/1.0/`;
    this.scope = options.scope ?? DEFAULT_GATEWAY_SCOPE;
    this.shared = options.shared ?? new SharedReads();
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.pollMs = options.pollMs ?? 250;
    this.maxPollMs = options.maxPollMs ?? 5_000;
    this.lookupAttempts = options.lookupAttempts ?? 3;
  }

  // ── environments and the link ──────────────────────────────────────────────────────────────

  /** The gateway's record of an F&O environment, or undefined when it does not know the URL. */
  async findEnvironment(
    financeOperationsUrl: string,
    options: { fresh?: boolean } = {},
  ): Promise<GatewayEnvironment | undefined> {
    const url = `${this.dwm}Environments?${query({ targetType: "AX", identifier: financeOperationsUrl })}`;
    const list = await this.shared.read(
      `env:${financeOperationsUrl}`,
      () => this.get(url, environmentsSchema),
      options,
    );
    const env = list[0];
    if (!env) return undefined;
    const linkedDataverseUrl = env.powerAppsEnvironment ?? undefined;
    return {
      cid: env.cid,
      cname: env.cname,
      linked: env.linked ?? linkedDataverseUrl !== undefined,
      ...(linkedDataverseUrl !== undefined && { linkedDataverseUrl }),
    };
  }

  /** The link of an environment (by connection-set name), or undefined when not linked. */
  async getConnectionSet(
    cname: string,
    options: { fresh?: boolean } = {},
  ): Promise<ConnectionSet | undefined> {
    const url = `${this.api}ConnectionSet/${seg(cname)}`;
    const set = await this.shared.read(
      `connectionSet:${cname}`,
      async () => {
        const response = await this.http.request({
          method: "GET",
          url,
          scope: this.scope,
          accept: [200, 404],
        });
        return response.status === 404
          ? undefined
          : validate(connectionSetSchema, response.body, "GET", url);
      },
      options,
    );
    if (!set) return undefined;
    const byType = (t: string) =>
      set.environments.find((e) => e.targetType.toUpperCase() === t)?.directUrl ?? undefined;
    const dataverseUrl = byType("CRM");
    const financeOperationsUrl = byType("AX");
    return {
      cid: set.cid,
      cname: set.cname,
      legalEntities: (set.dualWriteDetail?.legalEntityMappings?.mappings ?? []).map(
        (m) => m.left.name,
      ),
      ...(dataverseUrl !== undefined && { dataverseUrl }),
      ...(financeOperationsUrl !== undefined && { financeOperationsUrl }),
    };
  }

  /**
   * Links (or relinks) an F&O environment to a Dataverse environment with the given legal
   * entities. The gateway's reset is not idempotent (with `forceReset` it clears maps), so after an
   * ambiguous answer the link is looked up: already in place → done; not in place → sent once more.
   *
   * @returns the request id, or undefined when an ambiguous answer was resolved by the lookup
   */
  async link(
    cid: string,
    args: {
      readonly dataverseUrl: string;
      readonly financeOperationsUrl: string;
      readonly legalEntities: readonly string[];
      readonly skipInitialWrites: boolean;
      readonly forceReset: boolean;
    },
  ): Promise<string | undefined> {
    const request: HttpRequest = {
      method: "POST",
      url: `${this.api}ConnectionSet/${seg(cid)}/Reset?${query({ targetType: "AX", forceReset: String(args.forceReset) })}`,
      scope: this.scope,
      json: {
        powerAppsEnvironmentName: args.dataverseUrl,
        environments: [args.financeOperationsUrl, args.dataverseUrl],
        legalEntities: args.legalEntities,
        skipInitialWritesForNewLegalEntities: args.skipInitialWrites,
      },
      accept: [200, 202],
      idempotent: false,
    };
    const inPlace = async (): Promise<Lookup> => {
      const env = await this.findEnvironment(args.financeOperationsUrl, { fresh: true });
      if (!env?.linked || !sameUrl(env.linkedDataverseUrl, args.dataverseUrl))
        return { applied: false };
      const set = await this.getConnectionSet(env.cname, { fresh: true });
      return { applied: set !== undefined && sameSet(set.legalEntities, args.legalEntities) };
    };
    return this.writeOnce(request, requestIdSchema, inPlace).then((r) => r?.requestId);
  }

  /** Removes the link (maps, keys and legal-entity mapping go; no business row is touched). */
  async unlink(cid: string, args: { readonly forceReset: boolean }): Promise<string> {
    // Unlinking twice leaves the environment unlinked either way, so a retry is safe.
    const { requestId } = await this.write(
      {
        method: "POST",
        url: `${this.api}ConnectionSet/${seg(cid)}/Reset?${query({ targetType: "AX", forceReset: String(args.forceReset) })}`,
        scope: this.scope,
        json: {},
        accept: [200, 202],
        idempotent: true,
      },
      requestIdSchema,
    );
    return requestId;
  }

  /** Sets the legal entities of a link; returns them as the gateway now lists them. */
  async setLegalEntities(
    cid: string,
    codes: readonly string[],
    skipInitialWrites: boolean,
  ): Promise<string[]> {
    const result = await this.write(
      {
        method: "PUT",
        url: `${this.api}ConnectionSet/${seg(cid)}/LegalEntities`,
        scope: this.scope,
        json: { legalEntities: codes, skipInitialWritesForNewLegalEntities: skipInitialWrites },
        accept: [200],
      },
      legalEntitiesSchema,
    );
    return result.legalEntities;
  }

  // ── maps ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The maps of a linked environment. Concurrent and near-simultaneous calls for the same `cid`
   * share one request (see `SharedReads`); `fresh` forces a new one.
   */
  async listMaps(cid: string, options: { fresh?: boolean } = {}): Promise<GatewayMap[]> {
    const url = `${this.dwm}Entities?${query({ targetType: "AX", cid })}`;
    const items = await this.shared.read(
      `maps:${cid}`,
      () => this.get(url, entityItemsSchema),
      options,
    );
    return items.map(toGatewayMap);
  }

  /**
   * Starts an action (1 start, 2 stop, 3 pause, 4 resume, 8 initial sync) on maps and returns the
   * request id; wait for it with `waitForRequest`. Start always skips initial sync (that is
   * action 8's job). After an ambiguous answer the request is looked up in the maps'
   * `lastRequests` (same action and map, not known before the call); it is sent again only when
   * the gateway has no record of it.
   */
  async startAction(action: MapAction, details: readonly ActionDetail[]): Promise<string> {
    if (details.length === 0)
      throw new DualWriteError("startAction needs at least one map.", "InvalidArgument");
    const cids = [...new Set(details.map((d) => d.cid))];
    const before = await this.knownRequestIds(cids, false);
    const request: HttpRequest = {
      method: "POST",
      url: `${this.dwm}Start`,
      scope: this.scope,
      json: {
        action,
        details: details.map((d) => ({
          tid: d.tid,
          ...(action !== MapAction.InitialSync && d.pid !== undefined && { pid: d.pid }),
          cid: d.cid,
          parameters: {
            skipInitialSync: action !== MapAction.InitialSync,
            conflictResolution: {
              option: "1",
              master: d.master === "FinanceOperations" ? "AX" : "CRM",
            },
            ...(d.legalEntities !== undefined && { legalEntities: d.legalEntities }),
          },
        })),
      },
      accept: [200, 202],
      idempotent: false,
    };
    const tids = new Set(details.map((d) => d.tid));
    const lookup = async (): Promise<Lookup> => {
      for (const cid of cids) {
        for (const map of await this.listMaps(cid, { fresh: true })) {
          if (!tids.has(map.tid)) continue;
          const found = map.lastRequests.find(
            (r) => !before.has(r.requestId) && (r.action === undefined || r.action === action),
          );
          if (found) return { applied: true, requestId: found.requestId };
        }
      }
      return { applied: false };
    };
    const result = await this.writeOnce(request, requestIdSchema, lookup);
    if (!result)
      throw new DualWriteError(
        "The gateway recorded the request but its id could not be read.",
        "RequestLost",
      );
    return result.requestId;
  }

  /** The current state of an asynchronous request; undefined when the gateway does not know it. */
  async getRequestStatus(requestId: string): Promise<RequestStatus | undefined> {
    const url = `${this.dwm}Status/${seg(requestId)}`;
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
    });
    if (response.status === 404) return undefined;
    return toRequestStatus(validate(statusSchema, response.body, "GET", url));
  }

  /**
   * Polls `Status/<requestId>` until the request completes, with growing intervals and the
   * server's `Retry-After` when it gives one.
   *
   * @returns the final status (state Completed)
   * @throws DualWriteError code `RequestFailed` with the gateway's error message when it failed
   * @throws TimeoutError when it is still waiting after `timeoutMs`
   */
  async waitForRequest(requestId: string, options: WaitOptions = {}): Promise<RequestStatus> {
    const url = `${this.dwm}Status/${seg(requestId)}`;
    return this.poll(url, options, statusSchema, toRequestStatus, `request ${requestId}`);
  }

  /** For each map, the maps it needs Running first, in start order (itself excluded). */
  async prerequisiteSequences(cid: string, tids: readonly string[]): Promise<string[][]> {
    return this.http.requestJson(
      {
        method: "POST",
        url: `${this.dwm}GetTemplatePrerequisiteSequences/${seg(cid)}`,
        scope: this.scope,
        json: tids,
        accept: [200],
        idempotent: true, // a read sent as POST
      },
      prerequisitesSchema,
    );
  }

  /** The field mapping of a map's project. */
  async fieldMappings(pid: string): Promise<MappingLeg[]> {
    const body = await this.get(`${this.dwm}${seg(pid)}/FieldMappings`, fieldMappingsSchema);
    return body.entityMappingTasks.flatMap((task) =>
      task.legs.map((leg) => ({
        sourceSchema: leg.sourceSchema ?? "",
        destinationSchema: leg.destinationSchema ?? "",
        sourceFilter: leg.sourceFilter ?? "",
        fieldMappings: leg.fieldMappings.map((f) => ({
          sourceField: f.sourceField ?? "",
          destinationField: f.destinationField ?? "",
          syncDirection:
            f.syncDirection === null || f.syncDirection === undefined
              ? ""
              : String(f.syncDirection),
        })),
      })),
    );
  }

  // ── solutions and versions ─────────────────────────────────────────────────────────────────

  /** The orchestration solutions of an environment and whether each is applied. */
  async listSolutions(cid: string, options: { fresh?: boolean } = {}): Promise<GatewaySolution[]> {
    const url = `${this.dwm}SolutionAware/${seg(cid)}/Solutions/`;
    const list = await this.shared.read(
      `solutions:${cid}`,
      () => this.get(url, solutionsSchema),
      options,
    );
    return list.map((s) => ({ ...s, version: s.version ?? undefined }));
  }

  /**
   * Applies solutions (their maps appear in `listMaps`) and waits until the gateway is done.
   * After an ambiguous answer: already applied → done; otherwise sent once more.
   */
  async applySolutions(
    cid: string,
    uniqueNames: readonly string[],
    options: WaitOptions = {},
  ): Promise<void> {
    if (uniqueNames.length === 0) return;
    const request: HttpRequest = {
      method: "POST",
      url: `${this.dwm}SolutionAware/${seg(cid)}/RestoreTemplates`,
      scope: this.scope,
      json: {
        action: "2",
        solutions: uniqueNames.map((uniquename) => ({ criteria: { uniquename } })),
      },
      accept: [200, 202],
      idempotent: false,
    };
    const applied = async (): Promise<Lookup> => {
      const solutions = await this.listSolutions(cid, { fresh: true });
      return {
        applied: uniqueNames.every((n) =>
          solutions.some((s) => s.uniqueName.toLowerCase() === n.toLowerCase() && s.applied),
        ),
      };
    };
    const result = await this.writeOnce(request, requestIdSchema, applied);
    if (!result) return;
    const url = `${this.dwm}SolutionAware/${seg(cid)}/Status/${seg(result.requestId)}`;
    await this.poll(
      url,
      options,
      solutionStatusSchema,
      (s) => ({
        requestId: s.requestId,
        action: undefined,
        state: s.state,
        errorMessage: s.errorMessage ?? undefined,
        maps: [],
      }),
      `solution apply ${result.requestId}`,
    );
  }

  /** Makes `templateId` the active version of the map with project `pid` (the map must be stopped). */
  async switchActive(
    cid: string,
    templateId: string,
    pid: string,
  ): Promise<{ tid: string; template: MapTemplate }> {
    const result = await this.write(
      {
        method: "POST",
        url: `${this.dwm}SolutionAware/${seg(cid)}/SwitchActive/${seg(templateId)}?${query({ pid })}`,
        scope: this.scope,
        accept: [200],
        idempotent: true, // "make X active" twice is still X
      },
      switchActiveSchema,
    );
    return { tid: result.tid, template: toTemplate(result.template) };
  }

  // ── integration keys and initial-sync results ──────────────────────────────────────────────

  /**
   * Integration keys per Dataverse entity set of a dataset (the Dataverse org). A shared read:
   * every map binding of a connection asks for the same dataset in one preview.
   */
  async getIntegrationKeys(
    org: string,
    options: { fresh?: boolean } = {},
  ): Promise<Record<string, string[]>> {
    const body = await this.shared.read(
      `integrationKeys:${org}`,
      () => this.get(`${this.api}dataset/${seg(org)}/IntegrationKeys`, integrationKeysSchema),
      options,
    );
    return body.integrationKeys;
  }

  /** Sets the integration keys of one entity set; returns all keys of the dataset. */
  async setIntegrationKeys(
    org: string,
    entitySet: string,
    fields: readonly string[],
  ): Promise<Record<string, string[]>> {
    const body = await this.write(
      {
        method: "POST",
        url: `${this.api}dataset/${seg(org)}/IntegrationKeys`,
        scope: this.scope,
        json: { datasetName: org, integrationKeys: { [entitySet]: fields } },
        accept: [200],
        idempotent: true, // sets fixed values
      },
      integrationKeysSchema,
    );
    return body.integrationKeys;
  }

  /** Initial-sync results of a map's project, per legal entity; empty when none ran. */
  async initialSyncResults(pid: string): Promise<LegalEntitySyncResult[]> {
    const url = `${this.api}ProjectExecutionWithCompanies/${seg(pid)}`;
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
    });
    if (response.status === 404) return [];
    const body = validate(projectExecutionSchema, response.body, "GET", url);
    return body.projectExecutionResponses.map((r) => ({
      legalEntity: r.legalEntityName,
      status: r.executionStatus,
      requestId: r.initialSyncRequestId ?? undefined,
      upserted: r.upsertCount,
      errors: r.errorCount,
      total: r.totalCount,
      firstErrors: r.taskExecutionStatuses
        .flatMap((t) => t.legs.flatMap((l) => l.importErrors))
        .slice(0, 5)
        .map((e) => ({
          recordId: e.recordId ?? "",
          field: e.sourceField ?? "",
          message: e.errorMessage ?? "",
        })),
    }));
  }

  // ── plumbing ───────────────────────────────────────────────────────────────────────────────

  private get<S extends z.ZodType>(url: string, schema: S): Promise<z.output<S>> {
    return this.http.requestJson({ method: "GET", url, scope: this.scope, accept: [200] }, schema);
  }

  /** A write: invalidates shared reads before and after, whatever the outcome. */
  private async write<S extends z.ZodType>(request: HttpRequest, schema: S): Promise<z.output<S>> {
    this.shared.invalidate();
    try {
      return await this.http.requestJson(request, schema);
    } finally {
      this.shared.invalidate();
    }
  }

  /**
   * A non-idempotent write, sent at most twice: after an ambiguous answer, `lookup` says whether
   * the gateway shows its effect (asked a few times, since the request may still be registering).
   * Applied → its request id when the lookup found one, else undefined. Not applied → the gateway
   * has no record of it, so it never acted on it and it is sent once more; a second ambiguous
   * answer is final.
   */
  private async writeOnce<S extends z.ZodType<{ requestId: string }>>(
    request: HttpRequest,
    schema: S,
    lookup: () => Promise<Lookup>,
  ): Promise<{ requestId: string } | undefined> {
    for (let round = 1; ; round++) {
      let ambiguous: AmbiguousResponseError;
      try {
        return await this.write(request, schema);
      } catch (error) {
        if (!(error instanceof AmbiguousResponseError)) throw error;
        ambiguous = error;
      }
      for (let look = 1; look <= this.lookupAttempts; look++) {
        const result = await lookup();
        if (result.applied)
          return result.requestId === undefined ? undefined : { requestId: result.requestId };
        if (look < this.lookupAttempts)
          await this.sleep(Math.min(this.maxPollMs, this.pollMs * 2 ** look));
      }
      if (round >= 2) throw ambiguous;
    }
  }

  /** Request ids already in the maps' histories, so a lookup can tell ours from older ones. */
  private async knownRequestIds(cids: readonly string[], fresh: boolean): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const cid of cids) {
      for (const map of await this.listMaps(cid, { fresh }))
        for (const r of map.lastRequests) ids.add(r.requestId);
    }
    return ids;
  }

  private async poll<
    S extends z.ZodType<{ state: number; errorMessage?: string | null | undefined }>,
  >(
    url: string,
    options: WaitOptions,
    schema: S,
    convert: (body: z.output<S>) => RequestStatus,
    what: string,
  ): Promise<RequestStatus> {
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const deadline = this.now() + timeoutMs;
    let interval = this.pollMs;
    for (;;) {
      const response = await this.http.request({
        method: "GET",
        url,
        scope: this.scope,
        accept: [200, 202],
      });
      const status = convert(validate(schema, response.body, "GET", url));
      options.onProgress?.(status);
      if (status.state === RequestState.Completed) {
        this.shared.invalidate(); // maps changed state on the server
        return status;
      }
      if (status.state === RequestState.Error) {
        this.shared.invalidate();
        throw new DualWriteError(
          `The gateway reports that ${what} failed: ${status.errorMessage ?? "no message given"}`,
          "RequestFailed",
        );
      }
      const retryAfter = parseRetryAfter(response.headers["retry-after"], this.now());
      const left = deadline - this.now();
      if (left <= 0) {
        throw new TimeoutError(
          `${what} was still running after ${formatDuration(timeoutMs)} (state ${status.state}); ` +
            "it goes on on the server: run `pulumi up` again later, or raise the timeout.",
          timeoutMs,
        );
      }
      // One last poll at the deadline rather than giving up early.
      await this.sleep(Math.min(Math.max(interval, retryAfter ?? 0), left));
      interval = Math.min(this.maxPollMs, Math.round(interval * 1.5));
    }
  }
}

const entityItemsSchema = entityItemSchema.array();

type EntityItem = z.output<typeof entityItemSchema>;

/** What a lookup after an ambiguous answer found. */
interface Lookup {
  readonly applied: boolean;
  readonly requestId?: string;
}

function toTemplate(t: z.output<typeof templateSchema>): MapTemplate {
  const v = t.version;
  return {
    id: t.id,
    author: t.author ?? "",
    version: `${v.major}.${v.minor}.${v.build}.${v.revision}`,
  };
}

function toGatewayMap(item: EntityItem): GatewayMap {
  const d = item.detail;
  return {
    tid: d.tid,
    tName: d.tName,
    pid: d.pid ?? "",
    state: d.state as MapState,
    financeOperationsEntity: item.leftEntity?.name ?? "",
    dataverseEntitySet: item.rightEntity?.name ?? "",
    activeTemplate: d.template ? toTemplate(d.template) : undefined,
    templates: d.templates.map(toTemplate),
    integrationKeys: d.integrationKeys,
    lastRequests: d.lastRequests.map((r) => ({
      requestId: r.requestId,
      action: r.action,
      state: r.state,
      errorMessage: r.errorMessage ?? undefined,
    })),
  };
}

function toRequestStatus(s: z.output<typeof statusSchema>): RequestStatus {
  return {
    requestId: s.requestId,
    action: s.action,
    state: s.state,
    errorMessage: s.errorMessage ?? undefined,
    maps: s.maps.map(toGatewayMap),
  };
}

/** `300 ms`, `45 s`, `15 min`, `2 h`. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

/** One path segment, escaped. */
function seg(value: string): string {
  return encodeURIComponent(value);
}

function query(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

function sameUrl(a: string | undefined, b: string): boolean {
  return (
    a !== undefined && a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase()
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const norm = (xs: readonly string[]) =>
    [...new Set(xs.map((x) => x.toUpperCase()))].sort().join(",");
  return norm(a) === norm(b);
}
