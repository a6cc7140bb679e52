/**
 * Client of the DualWriteManagement gateway (docs/wire-contract.md): environments, the link,
 * legal entities, maps and their actions, request status, prerequisites, solutions, versions,
 * integration keys and initial-sync results — in the dialect of Microsoft's own tool,
 * microsoft/Dual-write-automations at f14edd6 (`DWLibary/…`), which is the judge of every shape.
 * Two calls have no public evidence (`unlink`, `setLegalEntities`); each is one method marked
 * CHOICE so that whoever learns the real shape changes one place, as are two economies of
 * requests: several template ids in one prerequisites call (`prerequisiteLists`) and waiting for
 * map actions through the map list (`waitForMapRequest`). The provider's other guesses
 * live outside this client, one function each: the values of a NEW link
 * (`resources/dualWriteConnection/newLinkRequest.ts`) and when a solution counts as applied
 * (`resources/common/solutions.ts`, `solutionStates`).
 *
 * DWM = `<gatewayUrl>/api/DualWriteManagement/1.0/`; the other routes hang off the gateway's root
 * (`scheme://host`, DWCommonEngine.cs:366, DWMapEngine.cs:1438).
 *
 * | method               | HTTP                                                                     | evidence |
 * |----------------------|--------------------------------------------------------------------------|----------|
 * | findEnvironment      | GET DWM/Environments?targetType=AX&identifier=<F&O host>                 | DWEnvCalls.cs:24-38; ArgsHandler.cs:28,78-100 (host only) |
 * | getConnectionSet     | GET /api/ConnectionSet/<cname>                                           | DWCommonEngine.cs:337-412; Struct/DWConnectionSet.cs |
 * | link                 | POST /api/ConnectionSet/<cid>/Reset?targetType=AX&forceReset=True\|False, ResetLinkPayload; then GET Environments + ConnectionSet until it shows | ResetLinkEngine.cs:44-147 (relink); Struct/ResetLinkPayload.cs; a new link's values: CHOICE (`newLinkRequest`) |
 * | unlink               | the same Reset with no environments                                      | CHOICE (no evidence) |
 * | setLegalEntities     | PUT /api/ConnectionSet/<cid>/LegalEntities                               | CHOICE (no evidence) |
 * | listMaps             | GET DWM/Entities?targetType=AX&cid=<cid>                                 | DWCommonEngine.cs:43-124; Struct/DWMaps.cs |
 * | startAction          | POST DWM/Start `{action:"1"\|"4"\|"5"\|"6"\|"8", details}`                 | DWMapEngine.cs:1698-1852; Struct/MapsHelper.cs |
 * | getRequestStatus/wait… | GET DWM/Status/<requestId> → the request's maps                        | DWMapEngine.cs:1854-1928 |
 * | waitForMapRequest    | GET DWM/Entities (one poller per cid; the `lastRequests` entry), else Status | CHOICE; DWMapEngine.cs:1881, DWCommonEngine.cs:87 |
 * | initialize           | POST DWM/Start "8", then waitForMapRequest (the map with its pid)        | DWMapEngine.cs:1351-1358, 1798-1815 |
 * | prerequisiteSequence | POST DWM/GetTemplatePrerequisiteSequences/<cid> `["<id>", …]`, kept per id | DWMapEngine.cs:1541-1591; several ids: CHOICE (`prerequisiteLists`) |
 * | fieldMappings        | GET DWM/<pid>/FieldMappings                                              | DWCommonEngine.cs:256-335; Struct/DWFieldMapping.cs |
 * | refreshTables        | POST /api/Project/<fieldMappings.name>/Refresh `{"tokens":[""]}`          | DWMapEngine.cs:1423-1476 |
 * | listSolutions        | GET DWM/SolutionAware/<cid>/Solutions/                                   | DWCommonEngine.cs:210-253; Struct/SolutionList.cs |
 * | applySolution        | POST DWM/SolutionAware/<cid>/RestoreTemplates (one solution), poll …/Status/<id> | DWSolutionEngine.cs:47-173; Struct/SolutionHelpers.cs |
 * | switchActive         | POST DWM/SolutionAware/<cid>/SwitchActive/<templateId>?pid=<pid>, raw id as body | DWMapEngine.cs:1940-1982 |
 * | setIntegrationKeys   | POST /api/dataset/<CRM environment name>/IntegrationKeys                 | DWMapEngine.cs:1480-1533; Struct/IntegrationKeys.cs |
 * | (integration keys read) | from getConnectionSet: CRM schemas' `userKeys`, else `userKey`        | DWCommonEngine.cs:168-208 |
 * | initialSyncResults   | GET /api/ProjectExecutionWithCompanies/<pid>                             | DWMapEngine.cs:1118-1161, 1593-1631; Struct/InitialSyncDetails.cs |
 *
 * Every POST (and the PUT) carries `Accept: application/json` and
 * `Origin: https://dataintegrator.trafficmanager.net/` (DWHttp.cs:27-42).
 *
 * Reads are shared (`SharedReads`): a write forgets what it can change (integration keys the
 * connection sets, a version switch or table refresh the map lists, a link change everything); a
 * map action marks the maps it acts on, so that a caller deciding on one of them reads the list
 * again (`listMaps`, `current`); and a list read that shows a request done replaces the shared
 * list. So no read a decision rests on is older than this process's latest write to what it
 * decides on, or than the latest request it waited for.
 *
 * Starts are not idempotent: after an ambiguous answer the request is looked up in the maps'
 * `lastRequests`, and sent again only when the gateway has no record of it. A Reset is never sent
 * again after an ambiguous answer: the link is read, and waited for, instead.
 */
import type { z } from "zod";
import { AmbiguousResponseError, DualWriteError, formatDuration, TimeoutError } from "../errors";
import { realSleep, validate, type HttpClient, type HttpRequest } from "./http";
import { parseRetryAfter } from "./retry";
import {
  connectionSetSchema,
  entityItemSchema,
  entityItemsSchema,
  environmentsSchema,
  fieldMappingsSchema,
  prerequisitesSchema,
  projectExecutionSchema,
  requestIdSchema,
  solutionStatusSchema,
  solutionsSchema,
  statusSchema,
  templateSchema,
} from "./gatewaySchemas";
import { SharedReads } from "./sharedReads";
import { cancellableSleep, cancelled, throwIfCancelled } from "./cancel";
import { DEFAULT_GATEWAY_SCOPE } from "../config";

/** Map states (DWLibary/DWEnums.cs:43-55); the wire sends them as strings, e.g. `"4"`. */
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

/** Request states of `lastRequests` and solution requests (DWMapEngine.cs:1893-1916). */
export const RequestState = { Waiting: 1, Completed: 2, Error: 3 } as const;
/** A request state number (1–3). */
export type RequestState = (typeof RequestState)[keyof typeof RequestState];

/**
 * Action codes of `POST Start`, strings on the wire (DWMapEngine.cs:1713-1738). An initial sync is
 * a `Start` with `skipInitialSync: false` (DWMapEngine.cs:1225); `Initialize` gives a map that has
 * no project yet its `pid` (DWMapEngine.cs:1351-1358).
 */
export const MapAction = {
  Start: "1",
  Stop: "4",
  Pause: "5",
  Resume: "6",
  Initialize: "8",
} as const;
/** An action code. */
export type MapAction = (typeof MapAction)[keyof typeof MapAction];

/** The `Origin` the tool sends with every POST (DWHttp.cs:34; GlobalVar.dataintegratorURL). */
export const GATEWAY_ORIGIN = "https://dataintegrator.trafficmanager.net/";

/** One map version. */
export interface MapTemplate {
  /** The template id: what `Start`, prerequisites and `SwitchActive` take. */
  readonly id: string;
  /** Publisher, e.g. `Microsoft`; empty when the gateway gives none. */
  readonly author: string;
  /** Dotted version, e.g. `1.0.0.5`. */
  readonly version: string;
}

/** One request in a map's history. */
export interface LastRequest {
  readonly requestId: string;
  /** The action code; undefined when the gateway does not say. */
  readonly action: string | undefined;
  /** When it was made, as the gateway gives it (ISO 8601); undefined when it does not say. */
  readonly createdOn: string | undefined;
  /** When it last changed (for a finished request: when it ended); undefined when not given. */
  readonly modifiedOn: string | undefined;
  /** A `RequestState` number. */
  readonly state: number;
  readonly errorMessage: string | undefined;
}

/** A map (table map) of a linked environment. */
export interface GatewayMap {
  /**
   * The ACTIVE template id (`detail.tid` == `detail.template.id`): what `Start` and the
   * prerequisite call take. It changes when another version is made active, so it identifies a
   * version, not the map; the map's stable identity is its name, `tName`.
   */
  readonly tid: string;
  /** Map name, e.g. `accounts - Customers V3`: the stable identity of a map on a link. */
  readonly tName: string;
  /** Runtime project id; undefined until the map is initialized (action "8"). */
  readonly pid: string | undefined;
  readonly state: MapState;
  /** The F&O entity label (left side). */
  readonly financeOperationsEntity: string;
  /** The Dataverse entity set (right side); the key of its integration keys. */
  readonly dataverseEntitySet: string;
  /** The active version; undefined when the gateway names none. */
  readonly activeTemplate: MapTemplate | undefined;
  /** Every available version. */
  readonly templates: readonly MapTemplate[];
  /** Action codes the gateway allows on the map now, e.g. `["4", "5"]`. */
  readonly actions: readonly string[];
  readonly lastRequests: readonly LastRequest[];
}

/** What `findEnvironment` returns: a LINKED F&O environment (the gateway lists no other). */
export interface GatewayEnvironment {
  /** F&O environment id. */
  readonly cid: string;
  /** Connection-set name (used by `getConnectionSet`). */
  readonly cname: string;
  /** The Power Platform environment id of the linked Dataverse, when the gateway gives it. */
  readonly powerAppsEnvironment: string | undefined;
}

/** One environment of a connection set. */
export interface ConnectionSetEnvironment {
  /** Its name in the set: for the CRM side, the dataset of integration keys. */
  readonly name: string;
  readonly displayName: string | undefined;
  readonly powerAppsEnvironment: string | undefined;
  /** The environment's URL. */
  readonly directUrl: string | undefined;
  readonly isDevInstance: boolean;
}

/** What `getConnectionSet` returns. */
export interface ConnectionSet {
  /** The F&O environment id (`id`). */
  readonly cid: string;
  /** The connection-set name (`name`). */
  readonly cname: string;
  /** The CRM (Dataverse) environment of the set. */
  readonly dataverse: ConnectionSetEnvironment | undefined;
  /** The AX (F&O) environment of the set. */
  readonly financeOperations: ConnectionSetEnvironment | undefined;
  /** Codes of the legal entities in the link (`mappings[].left.name`), as the gateway lists them. */
  readonly legalEntities: readonly string[];
  /** Integration keys per Dataverse entity set, from the CRM environment's schemas. */
  readonly integrationKeys: Readonly<Record<string, readonly string[]>>;
}

/** A link as `findLink` sees it: the environment's record and its connection set. */
export interface GatewayLink extends GatewayEnvironment {
  /** The connection set; undefined when the gateway lists the environment but has no set. */
  readonly set: ConnectionSet | undefined;
  /** The linked Dataverse environment's URL (the set's CRM `directUrl`). */
  readonly dataverseUrl: string | undefined;
  readonly legalEntities: readonly string[];
}

/** One environment of a `Reset` body (Struct/ResetLinkPayload.cs:16-24). */
export interface ResetLinkEnvironment {
  readonly targetType: "CRM" | "AX";
  readonly name: string;
  readonly displayName: string;
  /** The Power Platform environment id (ResetLinkEngine.cs:141). */
  readonly id: string;
  readonly isDevInstance: boolean;
  readonly directUrl: string;
}

/** The body of `Reset` (Struct/ResetLinkPayload.cs:9-14). */
export interface ResetLinkPayload {
  /** The Power Platform environment id of the Dataverse side (ResetLinkEngine.cs:131). */
  readonly powerAppsEnvironmentName: string;
  readonly environments: readonly ResetLinkEnvironment[];
  readonly legalEntities: readonly string[];
  /**
   * Not in the tool's body: sent only when a new link asks to skip initial writes (CHOICE, see
   * `newLinkRequest`).
   */
  readonly skipInitialWritesForNewLegalEntities?: boolean;
}

/** A link to make: where to send `Reset`, and what. */
export interface LinkRequest {
  /** The F&O environment id (the Reset's path). */
  readonly cid: string;
  readonly payload: ResetLinkPayload;
}

/** Which side wins when a row exists on both during initial sync. */
export type SyncMaster = "Dataverse" | "FinanceOperations";

/** One map of a `startAction` call. */
export interface ActionDetail {
  /** The ACTIVE template id of the map (`GatewayMap.tid`). */
  readonly tid: string;
  /** Project id; required by every action but "8" (which must not carry one). */
  readonly pid?: string | undefined;
  readonly cid: string;
  /** Start only: `false` runs an initial sync. @default true */
  readonly skipInitialSync?: boolean;
  /** Start only: which side wins conflicts. @default "Dataverse" (`CRM`, the tool's default) */
  readonly master?: SyncMaster;
}

/** The state of an asynchronous request. */
export interface RequestStatus {
  readonly requestId: string;
  readonly action: string | undefined;
  /** A `RequestState` number. */
  readonly state: number;
  readonly errorMessage: string | undefined;
  /** The maps the request acted on, as they are now. */
  readonly maps: readonly GatewayMap[];
}

/** How to wait for an asynchronous operation. */
export interface WaitOptions {
  /** Give up after this long. @default 1800000 (30 minutes) */
  readonly timeoutMs?: number;
  /** Called after every poll, e.g. to print progress. */
  readonly onProgress?: (status: RequestStatus) => void;
  /** Ends the wait early, with the status read, when it holds for a status still Waiting. */
  readonly until?: (status: RequestStatus) => boolean;
  /**
   * Stops the wait at once (a `CancelledError`) when aborted; the request goes on at the gateway.
   * @default the client's `signal`
   */
  readonly signal?: AbortSignal;
}

/** A solution as the gateway lists it (no "applied" flag exists on the wire). */
export interface GatewaySolution {
  readonly uniqueName: string;
  readonly version: string | undefined;
  readonly friendlyName: string | undefined;
  /** The Dataverse solution id. */
  readonly solutionId: string | undefined;
}

/**
 * One initial-sync run of a map's project: the `ProjectExecutionWithCompanies` responses that share
 * an `initialSyncRequestId` (DWMapEngine.cs:1125-1128) — the request id of the `Start` "1" with
 * `skipInitialSync:false` that began it.
 */
export interface InitialSyncRunRecord {
  /** The run's `initialSyncRequestId`: the start request's id. */
  readonly runId: string;
  /** When the run was submitted (its earliest `submittedOn`), as the gateway gives it; "" if none. */
  readonly submittedOn: string;
  /** Per legal entity. */
  readonly results: readonly LegalEntitySyncResult[];
}

/** Initial-sync outcome for one legal entity, from the latest run. */
export interface LegalEntitySyncResult {
  readonly legalEntity: string;
  /** The gateway's `executionStatus` text, shown as is (never compared). */
  readonly executionStatus: string;
  /** The run's `initialSyncRequestId`. */
  readonly runId: string | undefined;
  readonly upserted: number;
  readonly errors: number;
  /** Rows exported by the run's legs. */
  readonly total: number;
  /** The first errors the gateway reports (at most five). */
  readonly firstErrors: readonly { recordId: string; field: string; message: string }[];
}

/** One leg of a map's field mapping. */
export interface MappingLeg {
  readonly sourceSchema: string;
  readonly destinationSchema: string;
  readonly sourceFilter: string;
  /**
   * The filter of the other side's rows (`reversedSourceFilter`, Struct/DWFieldMapping.cs:138): for
   * a map from F&O to Dataverse, the Dataverse rows it syncs back, as OData (e.g.
   * `customertypecode eq 3`); empty when none.
   */
  readonly reversedSourceFilter: string;
  readonly fieldMappings: readonly {
    sourceField: string;
    destinationField: string;
    syncDirection: string;
  }[];
}

/** A map's field mapping (`GET <pid>/FieldMappings`). */
export interface FieldMappings {
  /** The project name, which `refreshTables` takes; empty when the gateway gives none. */
  readonly name: string;
  readonly id: string;
  readonly legs: readonly MappingLeg[];
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
  /**
   * Ask for the prerequisites of several templates in one call (CHOICE, see
   * `prerequisiteLists`); false sends one id per call, as the tool does. @default true
   */
  readonly batchPrerequisites?: boolean;
  /**
   * The provider's cancellation (`provider/cancellation.ts`): every wait of this client — request
   * polls, link waits — ends at once with a `CancelledError` when it is aborted, leaving the
   * gateway's work running. @default never cancelled
   */
  readonly signal?: AbortSignal;
}

/** Per-attempt timeout of `Reset`, as the tool allows it (ResetLinkEngine.cs:52). */
const RESET_TIMEOUT_MS = 300_000;
/** Per-attempt timeout of `Start` (DWMapEngine.cs:1701). */
const START_TIMEOUT_MS = 180_000;
/** How long a link change may take to show. @default 30 minutes */
const DEFAULT_LINK_TIMEOUT_MS = 30 * 60_000;

/** The gateway client; see the file comment for the calls. */
export class GatewayClient {
  /** Shared reads of this client; invalidated by every write through it. */
  readonly shared: SharedReads;
  private readonly dwm: string;
  private readonly root: string;
  private readonly scope: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly pollMs: number;
  private readonly maxPollMs: number;
  private readonly lookupAttempts: number;
  private readonly signal: AbortSignal | undefined;
  /** Prerequisite sequences per `cid|template id` (lower case), kept until a version or link changes. */
  private readonly prerequisites = new Map<string, Promise<string[]>>();
  /** Links whose maps were asked for in passing (`prerequisiteSequence`). */
  private readonly prefetched = new Set<string>();
  /** Prerequisite questions waiting for the next call, per cid (`prerequisiteLists`). */
  private readonly prerequisiteQueues = new Map<string, PrerequisiteQueue>();
  /** False once the gateway answered a several-id call without one list per id. */
  private batchPrerequisites: boolean;
  /** The latest map list read per cid (for request lookups and the pace of polls). */
  private readonly lastSeen = new Map<string, { seq: number; maps: readonly GatewayMap[] }>();
  /** Counts map actions; a list read remembers the count when it was sent. */
  private actionSeq = 0;
  /** Per cid: when (`actionSeq`) this process last acted on each map, by name. */
  private readonly actedOn = new Map<string, Map<string, number>>();
  /** Requests waited for per cid, served by one poller of the cid's map list (`pollMaps`). */
  private readonly mapWaiters = new Map<string, MapWaiter[]>();

  /** @param gatewayUrl the gateway's root, e.g. `https://127.0.0.2:8443` */
  constructor(
    gatewayUrl: string,
    private readonly http: HttpClient,
    options: GatewayClientOptions = {},
  ) {
    const base = gatewayUrl.replace(/\/+$/, "");
    this.root = `${base}/api/`;
    this.dwm = `${base}/api/DualWriteManagement/1.0/`;
    this.scope = options.scope ?? DEFAULT_GATEWAY_SCOPE;
    this.shared = options.shared ?? new SharedReads();
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.pollMs = options.pollMs ?? 250;
    this.maxPollMs = options.maxPollMs ?? 5_000;
    this.lookupAttempts = options.lookupAttempts ?? 3;
    this.signal = options.signal;
    this.batchPrerequisites = options.batchPrerequisites ?? true;
  }

  // ── environments and the link ──────────────────────────────────────────────────────────────

  /**
   * The gateway's record of a LINKED F&O environment, looked up by its host name; undefined when
   * the gateway lists none (an unknown host and an environment not linked both answer `[]`).
   */
  async findEnvironment(
    financeOperationsUrl: string,
    options: { fresh?: boolean } = {},
  ): Promise<GatewayEnvironment | undefined> {
    const identifier = environmentIdentifier(financeOperationsUrl);
    const url = `${this.dwm}Environments?${query({ targetType: "AX", identifier })}`;
    const list = await this.shared.read(
      `env:${identifier}`,
      () => this.get(url, environmentsSchema),
      options,
    );
    const env = list[0];
    if (!env) return undefined;
    return {
      cid: env.cid,
      cname: env.cname,
      powerAppsEnvironment: env.powerAppsEnvironment ?? undefined,
    };
  }

  /** A connection set by name, or undefined when the gateway has none of that name. */
  async getConnectionSet(
    cname: string,
    options: { fresh?: boolean } = {},
  ): Promise<ConnectionSet | undefined> {
    const url = `${this.root}ConnectionSet/${seg(cname)}`;
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
    return set ? toConnectionSet(set) : undefined;
  }

  /** The link of an F&O environment (its record and connection set), or undefined when not linked. */
  async findLink(
    financeOperationsUrl: string,
    options: { fresh?: boolean } = {},
  ): Promise<GatewayLink | undefined> {
    const env = await this.findEnvironment(financeOperationsUrl, options);
    if (!env) return undefined;
    const set = await this.getConnectionSet(env.cname, options);
    return {
      ...env,
      set,
      dataverseUrl: set?.dataverse?.directUrl,
      legalEntities: set?.legalEntities ?? [],
    };
  }

  /**
   * Links (or relinks) through `Reset` with the tool's body, then waits until the link shows
   * with the requested Dataverse environment and legal entities. The gateway only answers a
   * status (the tool reads nothing else, ResetLinkEngine.cs:81) and completes the link later.
   * Reset is never sent twice: after an ambiguous answer the link is read and waited for, and
   * when it does not show the error says so rather than resetting again.
   *
   * @returns the link as the gateway shows it afterwards
   * @throws TimeoutError when the link does not show within `timeoutMs`
   */
  async link(
    request: LinkRequest,
    options: { readonly forceReset: boolean; readonly timeoutMs?: number },
  ): Promise<GatewayLink> {
    const ax = request.payload.environments.find((e) => e.targetType === "AX");
    const crm = request.payload.environments.find((e) => e.targetType === "CRM");
    if (!ax || !crm)
      throw new DualWriteError(
        "A link request needs one CRM and one AX environment.",
        "InvalidArgument",
      );
    const shows = (link: GatewayLink | undefined): link is GatewayLink =>
      link !== undefined &&
      (sameUrl(link.dataverseUrl, crm.directUrl) ||
        (link.powerAppsEnvironment !== undefined &&
          sameId(link.powerAppsEnvironment, request.payload.powerAppsEnvironmentName))) &&
      sameSet(link.legalEntities, request.payload.legalEntities);
    const linked = await this.resetOnce(request.cid, request.payload, options.forceReset, {
      financeOperationsUrl: ax.directUrl,
      done: shows,
      what: `the link of ${ax.directUrl} to ${crm.directUrl}`,
      timeoutMs: options.timeoutMs,
    });
    if (!linked) throw new DualWriteError("unreachable: a link wait returned no link", "Bug");
    return linked;
  }

  /**
   * CHOICE (no public evidence of how the portal unlinks): `Reset` with no environments and no
   * legal entities; then waits until the gateway no longer lists the environment. Maps, keys
   * and legal-entity mapping go with the link; no business row is touched.
   */
  async unlink(
    link: { readonly cid: string; readonly powerAppsEnvironment: string | undefined },
    financeOperationsUrl: string,
    options: { readonly forceReset: boolean; readonly timeoutMs?: number },
  ): Promise<void> {
    await this.resetOnce(
      link.cid,
      {
        powerAppsEnvironmentName: link.powerAppsEnvironment ?? "",
        environments: [],
        legalEntities: [],
      },
      options.forceReset,
      {
        financeOperationsUrl,
        done: (found) => found === undefined,
        what: `the reset of the link of ${financeOperationsUrl}`,
        timeoutMs: options.timeoutMs,
      },
    );
  }

  /**
   * CHOICE (no public evidence of an in-place edit; the tool only relinks): sets the legal
   * entities of a link with `PUT /api/ConnectionSet/<cid>/LegalEntities`, then waits until the
   * connection set lists exactly them.
   */
  async setLegalEntities(
    cid: string,
    financeOperationsUrl: string,
    codes: readonly string[],
    options: { readonly skipInitialWrites: boolean; readonly timeoutMs?: number },
  ): Promise<GatewayLink> {
    await this.write(
      {
        method: "PUT",
        url: `${this.root}ConnectionSet/${seg(cid)}/LegalEntities`,
        scope: this.scope,
        headers: WRITE_HEADERS,
        json: {
          legalEntities: codes,
          skipInitialWritesForNewLegalEntities: options.skipInitialWrites,
        },
        accept: [200, 202, 204],
      },
      undefined,
    );
    const found = await this.waitForLink(financeOperationsUrl, {
      done: (link): link is GatewayLink => link !== undefined && sameSet(link.legalEntities, codes),
      what: `the legal entities ${codes.join(", ")} on the link of ${financeOperationsUrl}`,
      timeoutMs: options.timeoutMs,
    });
    if (!found) throw new DualWriteError("unreachable: a link wait returned no link", "Bug");
    return found;
  }

  // ── maps ───────────────────────────────────────────────────────────────────────────────────

  /**
   * The maps of a linked environment (only those of applied solutions). Concurrent and
   * near-simultaneous calls for the same `cid` share one request (see `SharedReads`); `fresh`
   * forces a new one.
   *
   * A map action of this process does not make the shared list useless to everyone: it marks the
   * maps it acts on, and a shared list read before that mark is read again only for a caller that
   * names one of them in `current` (the maps it decides on) — or names none. So bindings that
   * start their maps one after another do not each bring a new read; the poller's reads
   * (`waitForMapRequest`) keep the shared list recent.
   */
  async listMaps(
    cid: string,
    options: { readonly fresh?: boolean; readonly current?: readonly string[] } = {},
  ): Promise<GatewayMap[]> {
    const url = `${this.dwm}Entities?${query({ targetType: "AX", cid })}`;
    const key = cid.toLowerCase();
    const load = async (): Promise<{ seq: number; items: EntityItem[] }> => {
      const seq = this.actionSeq; // taken when the read is sent
      return { seq, items: await this.get(url, entityItemsSchema) };
    };
    let read = await this.shared.read(`maps:${cid}`, load, { fresh: options.fresh ?? false });
    if (!options.fresh && this.actedSince(key, read.seq, options.current))
      read = await this.shared.read(`maps:${cid}`, load, { fresh: true });
    const maps = read.items.map(toGatewayMap);
    const seen = this.lastSeen.get(key);
    if (!seen || seen.seq <= read.seq) this.lastSeen.set(key, { seq: read.seq, maps });
    return maps;
  }

  /**
   * Whether this process acted on one of `names` (any map, when undefined) of link `key` after a
   * list read sent at `seq`.
   */
  private actedSince(key: string, seq: number, names: readonly string[] | undefined): boolean {
    const acted = this.actedOn.get(key);
    if (!acted) return false;
    if (names === undefined) return [...acted.values()].some((at) => at > seq);
    return [ANY_MAP, ...names].some((n) => (acted.get(n) ?? 0) > seq);
  }

  /** Marks the maps (by template id) a map action acts on, before it is sent and after. */
  private noteAction(cid: string, tids: readonly string[]): void {
    const key = cid.toLowerCase();
    const seq = ++this.actionSeq;
    let acted = this.actedOn.get(key);
    if (!acted) this.actedOn.set(key, (acted = new Map<string, number>()));
    const known = this.lastSeen.get(key)?.maps ?? [];
    for (const tid of tids) {
      const map = known.find((m) => sameId(m.tid, tid));
      acted.set(map ? map.tName : ANY_MAP, seq);
    }
  }

  /**
   * Sends a map action and returns its request id; wait for it with `waitForRequest`. The body
   * is the tool's (`startBody`). After an ambiguous answer the request is looked up in the
   * maps' `lastRequests` (same action and map, not known before the call); it is sent again only
   * when the gateway has no record of it.
   */
  async startAction(action: MapAction, details: readonly ActionDetail[]): Promise<string> {
    const json = startBody(action, details);
    const cids = [...new Set(details.map((d) => d.cid))];
    const before = await this.knownRequestIds(cids);
    const request: HttpRequest = {
      method: "POST",
      url: `${this.dwm}Start`,
      scope: this.scope,
      headers: WRITE_HEADERS,
      json,
      accept: [200, 202],
      idempotent: false,
      timeoutMs: START_TIMEOUT_MS,
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
    // The maps acted on are marked (listMaps' `current`) rather than the shared list forgotten.
    for (const cid of cids) this.noteAction(cid, [...tids]);
    let result: { requestId: string } | undefined;
    try {
      result = await this.writeOnce(request, lookup, "mapActions");
    } finally {
      for (const cid of cids) this.noteAction(cid, [...tids]);
    }
    if (!result)
      throw new DualWriteError(
        "The gateway recorded the request but its id could not be read.",
        "RequestLost",
      );
    return result.requestId;
  }

  /**
   * The state of an asynchronous map request: `Status/<requestId>` answers the maps it acted on,
   * and the outcome is their `lastRequests` entry with that id (DWMapEngine.cs:1881-1917).
   * Undefined when the gateway does not know the id.
   */
  async getRequestStatus(requestId: string): Promise<RequestStatus | undefined> {
    const url = `${this.dwm}Status/${seg(requestId)}`;
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
    });
    if (response.status === 404) return undefined;
    return toRequestStatus(requestId, validate(statusSchema, response.body, "GET", url));
  }

  /**
   * Polls `Status/<requestId>` until every map of the request has its entry Completed, with
   * growing intervals and the server's `Retry-After` when it gives one. An initial sync stays
   * Waiting until the map leaves InitialSync (DWMapEngine.cs:1237-1297).
   *
   * @returns the final status (state Completed)
   * @throws DualWriteError code `RequestFailed` with the gateway's error message when it failed
   * @throws TimeoutError when it is still waiting after `timeoutMs`
   */
  async waitForRequest(requestId: string, options: WaitOptions = {}): Promise<RequestStatus> {
    const url = `${this.dwm}Status/${seg(requestId)}`;
    return this.poll(
      async () => {
        const response = await this.http.request({
          method: "GET",
          url,
          scope: this.scope,
          accept: [200, 202],
        });
        return {
          status: toRequestStatus(requestId, validate(statusSchema, response.body, "GET", url)),
          retryAfter: parseRetryAfter(response.headers["retry-after"], this.now()),
        };
      },
      options,
      `request ${requestId}`,
    );
  }

  /**
   * Waits for a map request of link `cid` as `waitForRequest` does, through the link's map list:
   * its `lastRequests` entries carry the outcome that `Status/<requestId>` answers (both are
   * `DWMap` items, DWMapEngine.cs:1881; DWCommonEngine.cs:87), so ONE poller per cid reads
   * `GET Entities` and serves every request waited for on the link, and the list it read last is
   * what the maps look like after the request (the returned status's `maps`). A request the list
   * does not show is asked for with `Status/<requestId>`.
   *
   * Pace: the first read comes when a request like it took to finish before, as the finished
   * `lastRequests` of the link show (`modifiedOn` − `createdOn`; `pollMs` when none shows); then
   * a pause of half that (between 50 ms and `pollMs`), growing by half each read up to
   * `maxPollMs` — a transition that ends just after the first read is seen soon after.
   *
   * @throws as `waitForRequest`
   */
  waitForMapRequest(
    cid: string,
    requestId: string,
    options: Omit<WaitOptions, "until" | "onProgress"> = {},
  ): Promise<RequestStatus> {
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const now = this.now();
    const key = cid.toLowerCase();
    const expected = this.expectedDuration(key);
    const first = Math.min(expected ?? this.pollMs, timeoutMs);
    const floor = Math.min(this.pollMs, MIN_POLL_MS);
    return new Promise<RequestStatus>((resolve, reject) => {
      const waiter: MapWaiter = {
        requestId,
        what: `request ${requestId}`,
        timeoutMs,
        deadline: now + timeoutMs,
        signal: options.signal ?? this.signal,
        due: now + first,
        interval: Math.min(this.pollMs, Math.max(floor, Math.round(first / 2))),
        resolve,
        reject,
      };
      const waiters = this.mapWaiters.get(key);
      if (waiters) waiters.push(waiter);
      else {
        this.mapWaiters.set(key, [waiter]);
        void this.pollMaps(cid, key);
      }
    });
  }

  /**
   * How long a map request on the link takes, as its finished requests show: the median of
   * `modifiedOn` − `createdOn` of the finished `lastRequests` in the last list read, between
   * 50 ms (or `pollMs` when lower) and 4 × `pollMs` (the gateway's clock may not run as ours: a
   * long estimate waits no longer than that, then the growing pauses take over); undefined when
   * none shows.
   */
  private expectedDuration(key: string): number | undefined {
    const took = (this.lastSeen.get(key)?.maps ?? [])
      .flatMap((m) => m.lastRequests)
      .filter((r) => r.state === RequestState.Completed && r.createdOn && r.modifiedOn)
      .map((r) => Date.parse(r.modifiedOn as string) - Date.parse(r.createdOn as string))
      .filter((ms) => Number.isFinite(ms) && ms >= 0)
      .sort((a, b) => a - b);
    const median = took[Math.floor(took.length / 2)];
    const floor = Math.min(this.pollMs, MIN_POLL_MS);
    const ceiling = Math.min(this.maxPollMs, 4 * this.pollMs);
    return median === undefined ? undefined : Math.min(ceiling, Math.max(floor, median));
  }

  /**
   * The poller of one cid: reads the map list when a waiter is due, until none waits. Reads are
   * at least the expected duration of a request apart (`pollMs` when unknown): maps started one
   * after another share a read instead of each bringing its own forward.
   */
  private async pollMaps(cid: string, key: string): Promise<void> {
    let lastRead = Number.NEGATIVE_INFINITY;
    for (;;) {
      const waiters = this.mapWaiters.get(key) ?? [];
      for (const w of [...waiters]) {
        if (w.signal?.aborted) this.dropWaiter(key, w, cancelled(w.signal, w.what));
      }
      if (waiters.length === 0) {
        this.mapWaiters.delete(key);
        return;
      }
      const gap = this.expectedDuration(key) ?? this.pollMs;
      const wait = Math.max(Math.min(...waiters.map((w) => w.due)), lastRead + gap) - this.now();
      if (wait > 0) {
        try {
          await cancellableSleep(this.sleep, this.signal, "map requests")(wait);
        } catch (error) {
          for (const w of [...waiters]) this.dropWaiter(key, w, error);
          continue;
        }
      }
      const serving = [...waiters];
      lastRead = this.now();
      let maps: GatewayMap[];
      try {
        // Fresh: its result is what later readers of the list share.
        maps = await this.listMaps(cid, { fresh: true });
      } catch (error) {
        for (const w of serving) this.dropWaiter(key, w, error);
        continue;
      }
      await Promise.all(serving.map((w) => this.serveWaiter(key, w, maps)));
    }
  }

  /** Settles `w` from the list read (or its own status read), or schedules its next read. */
  private async serveWaiter(key: string, w: MapWaiter, maps: readonly GatewayMap[]): Promise<void> {
    try {
      let status = requestStatusOf(w.requestId, maps);
      if (status === undefined) {
        // Not in the list (not registered yet, or pushed out of `lastRequests`): ask for it. Done
        // there, the list read before is older than the request's end: it is not shared on.
        status = (await this.getRequestStatus(w.requestId)) ?? {
          requestId: w.requestId,
          action: undefined,
          state: RequestState.Waiting,
          errorMessage: undefined,
          maps: [],
        };
      }
      if (status.state === RequestState.Completed) {
        if (status.maps !== maps && !requestStatusOf(w.requestId, maps)) this.forget("maps");
        this.removeWaiter(key, w);
        w.resolve(status);
        return;
      }
      if (status.state === RequestState.Error) {
        throw new DualWriteError(
          `The gateway reports that ${w.what} failed: ${status.errorMessage ?? "no message given"}`,
          "RequestFailed",
        );
      }
      const now = this.now();
      const left = w.deadline - now;
      if (left <= 0)
        throw new TimeoutError(
          `${w.what} was still running after ${formatDuration(w.timeoutMs)} (state ${status.state}); ` +
            "it goes on on the server: run `pulumi up` again later, or raise the timeout.",
          w.timeoutMs,
        );
      // One last read at the deadline rather than giving up early.
      w.due = now + Math.min(w.interval, left);
      w.interval = Math.min(this.maxPollMs, Math.round(w.interval * 1.5));
    } catch (error) {
      this.dropWaiter(key, w, error);
    }
  }

  private removeWaiter(key: string, w: MapWaiter): void {
    const waiters = this.mapWaiters.get(key);
    const at = waiters?.indexOf(w) ?? -1;
    if (waiters && at >= 0) waiters.splice(at, 1);
  }

  private dropWaiter(key: string, w: MapWaiter, error: unknown): void {
    this.removeWaiter(key, w);
    w.reject(error);
  }

  /**
   * Initializes a map that has no project yet (action "8", without pid or parameters), waits
   * for the request, then re-reads the maps until it has a `pid` (DWMapEngine.cs:1351-1358).
   *
   * @returns the map with its pid
   */
  async initialize(cid: string, map: GatewayMap, options: WaitOptions = {}): Promise<GatewayMap> {
    if (map.pid) return map;
    const requestId = await this.startAction(MapAction.Initialize, [{ tid: map.tid, cid }]);
    const done = await this.waitForMapRequest(cid, requestId, options);
    const shown = done.maps.find((m) => m.tName === map.tName);
    if (shown?.pid) return shown;
    const found = await this.pollFor(
      async () => {
        const now = (await this.listMaps(cid, { fresh: true })).find((m) => m.tName === map.tName);
        return now?.pid ? now : undefined;
      },
      options.timeoutMs ?? DEFAULT_LINK_TIMEOUT_MS,
      `the project of map ${map.tName}`,
      options.signal,
    );
    return found;
  }

  /**
   * The prerequisite maps of one template, as ACTIVE template ids in start order, its own id
   * excluded: the answer's list for that id (DWMapEngine.cs:1569-1580). Kept per template id
   * until a version switch or a link change (the sequence names active template ids). The first
   * question of a link asks, in the same calls, for every map of the link as last read (at most
   * `PREREQUISITE_PREFETCH`): the bindings of one operation ask for many of them, one after
   * another as the engine reaches them. Questions asked while a call is being made go together
   * in the next one (`prerequisiteLists`).
   */
  async prerequisiteSequence(cid: string, templateId: string): Promise<string[]> {
    const key = prerequisiteKey(cid, templateId);
    if (!this.prerequisites.has(key)) {
      const link = cid.toLowerCase();
      const others = this.prefetched.has(link)
        ? []
        : (this.lastSeen.get(link)?.maps ?? []).map((m) => m.tid);
      this.prefetched.add(link);
      this.enqueuePrerequisites(cid, templateId, true);
      for (const tid of others.slice(0, PREREQUISITE_PREFETCH))
        this.enqueuePrerequisites(cid, tid, false);
    }
    const own = (ids: string[]): string[] => ids.filter((id) => id !== templateId);
    try {
      return own(await (this.prerequisites.get(key) as Promise<string[]>));
    } catch (error) {
      if (!(error instanceof NotAnswered)) throw error;
      // Asked along with others in a call whose answer was not trusted: ask for it alone.
      this.enqueuePrerequisites(cid, templateId, true);
      return own(await (this.prerequisites.get(key) as Promise<string[]>));
    }
  }

  /**
   * Queues a template id for the cid's next prerequisites call (`wanted`: someone waits for it;
   * else asked in passing), keeping its answer's promise; starts the calls if none is due.
   */
  private enqueuePrerequisites(cid: string, templateId: string, wanted: boolean): void {
    const key = prerequisiteKey(cid, templateId);
    let queue = this.prerequisiteQueues.get(cid);
    if (!queue) this.prerequisiteQueues.set(cid, (queue = { busy: false, asked: [] }));
    const queued = queue.asked.find((a) => prerequisiteKey(cid, a.templateId) === key);
    if (queued) {
      if (wanted) queued.wanted = true;
      if (!this.prerequisites.has(key)) this.prerequisites.set(key, queued.answer);
      return;
    }
    if (this.prerequisites.has(key)) return;
    let settle: Pick<PrerequisiteQueue["asked"][number], "resolve" | "reject"> | undefined;
    const answer = new Promise<string[]>((resolve, reject) => (settle = { resolve, reject }));
    this.prerequisites.set(key, answer);
    // A failure is not kept: the next caller asks again.
    answer.catch(() => {
      if (this.prerequisites.get(key) === answer) this.prerequisites.delete(key);
    });
    queue.asked.push({ templateId, wanted, answer, ...(settle as NonNullable<typeof settle>) });
    // Callers that ask in the same turn (bindings that read one shared map list) join one call.
    if (!queue.busy) {
      queue.busy = true;
      const asked = queue;
      setImmediate(() => void this.flushPrerequisites(cid, asked));
    }
  }

  /** Sends what the queue holds, `PREREQUISITE_BATCH` ids a call, until it is empty. */
  private async flushPrerequisites(cid: string, queue: PrerequisiteQueue): Promise<void> {
    while (queue.asked.length > 0) {
      const all = queue.asked.splice(0);
      const batches: (typeof all)[] = [];
      for (let i = 0; i < all.length; i += PREREQUISITE_BATCH)
        batches.push(all.slice(i, i + PREREQUISITE_BATCH));
      await Promise.all(
        batches.map(async (batch) => {
          const ids = batch.map((a) => a.templateId);
          const wanted = new Set(batch.filter((a) => a.wanted).map((a) => a.templateId));
          try {
            const lists = await this.prerequisiteLists(cid, ids, wanted);
            for (const a of batch) {
              const list = lists.get(a.templateId);
              if (list) a.resolve(list);
              else a.reject(new NotAnswered());
            }
          } catch (error) {
            for (const a of batch) a.reject(error);
          }
        }),
      );
    }
    queue.busy = false;
  }

  /**
   * CHOICE (docs/wire-contract.md, row 9): the prerequisite sequences of several templates in
   * one call. The body is a list of template ids and the answer `List<List<string>>`
   * (DWMapEngine.cs:1553-1580), but the tool sends one id and reads `[0]`, so one list per id is
   * not shown by the evidence. An answer without exactly one list per id sent is not trusted:
   * the `wanted` ids are asked one per call, as the tool does, and from then on every call
   * carries one id. Returns the sequences it has, by template id.
   */
  private async prerequisiteLists(
    cid: string,
    ids: readonly string[],
    wanted: ReadonlySet<string>,
  ): Promise<Map<string, string[]>> {
    if (ids.length > 1 && this.batchPrerequisites) {
      const lists = await this.postPrerequisites(cid, ids);
      if (lists.length === ids.length) return new Map(ids.map((id, i) => [id, lists[i] ?? []]));
      this.batchPrerequisites = false;
    }
    const asked = ids.filter((id) => wanted.has(id));
    return new Map(
      await Promise.all(
        asked.map(async (id) => [id, (await this.postPrerequisites(cid, [id]))[0] ?? []] as const),
      ),
    );
  }

  /** `POST GetTemplatePrerequisiteSequences/<cid>` with `ids` (a read sent as POST). */
  private postPrerequisites(cid: string, ids: readonly string[]): Promise<string[][]> {
    return this.http.requestJson(
      {
        method: "POST",
        url: `${this.dwm}GetTemplatePrerequisiteSequences/${seg(cid)}`,
        scope: this.scope,
        headers: WRITE_HEADERS,
        json: ids,
        accept: [200],
        idempotent: true,
      },
      prerequisitesSchema,
    );
  }

  /** The field mapping of a map's project. */
  async fieldMappings(pid: string): Promise<FieldMappings> {
    const body = await this.get(`${this.dwm}${seg(pid)}/FieldMappings`, fieldMappingsSchema);
    return {
      name: body.name ?? "",
      id: body.id ?? "",
      legs: (body.entityMappingTasks ?? []).flatMap((task) =>
        (task.legs ?? []).map((leg) => ({
          sourceSchema: leg.sourceSchema ?? "",
          destinationSchema: leg.destinationSchema ?? "",
          sourceFilter: leg.sourceFilter ?? "",
          reversedSourceFilter: leg.reversedSourceFilter ?? "",
          fieldMappings: (leg.fieldMappings ?? []).map((f) => ({
            sourceField: f.sourceField ?? "",
            destinationField: f.destinationField ?? "",
            syncDirection:
              f.syncDirection === null || f.syncDirection === undefined
                ? ""
                : String(f.syncDirection),
          })),
        })),
      ),
    };
  }

  /**
   * Refreshes the tables of a map's project (`fieldMappings(pid).name`), as the tool does
   * before every initial sync "to make sure all references are set properly"
   * (DWMapEngine.cs:1222-1224, 1423-1476).
   */
  async refreshTables(projectName: string): Promise<void> {
    await this.write(
      {
        method: "POST",
        url: `${this.root}Project/${seg(projectName)}/Refresh`,
        scope: this.scope,
        headers: WRITE_HEADERS,
        json: { tokens: [""] },
        accept: [200, 202, 204],
        idempotent: true, // a refresh twice is a refresh
      },
      undefined,
      "maps",
    );
  }

  // ── solutions and versions ─────────────────────────────────────────────────────────────────

  /** The orchestration solutions the gateway lists for an environment. */
  async listSolutions(cid: string, options: { fresh?: boolean } = {}): Promise<GatewaySolution[]> {
    const url = `${this.dwm}SolutionAware/${seg(cid)}/Solutions/`;
    const list = await this.shared.read(
      `solutions:${cid}`,
      () => this.get(url, solutionsSchema),
      options,
    );
    return list.map((s) => ({
      uniqueName: s.uniquename,
      version: s.version ?? undefined,
      friendlyName: s.friendlyname ?? undefined,
      solutionId: s.solutionid ?? undefined,
    }));
  }

  /**
   * Applies ONE solution ("each solution should be applied separately otherwise duplicates will
   * appear", DWSolutionEngine.cs:105) and waits until the gateway reports it done. After an
   * ambiguous answer, `isApplied` says whether it took effect (the gateway has no applied
   * flag); not applied → sent once more.
   */
  async applySolution(
    cid: string,
    uniqueName: string,
    options: WaitOptions & { readonly isApplied: () => Promise<boolean> },
  ): Promise<void> {
    const request: HttpRequest = {
      method: "POST",
      url: `${this.dwm}SolutionAware/${seg(cid)}/RestoreTemplates`,
      scope: this.scope,
      headers: WRITE_HEADERS,
      json: { action: "2", solutions: [{ criteria: { uniquename: uniqueName } }] },
      accept: [200, 202],
      idempotent: false,
    };
    const result = await this.writeOnce(request, async () => ({
      applied: await options.isApplied(),
    }));
    if (!result) return;
    const url = `${this.dwm}SolutionAware/${seg(cid)}/Status/${seg(result.requestId)}`;
    await this.poll(
      async () => {
        const response = await this.http.request({
          method: "GET",
          url,
          scope: this.scope,
          accept: [200, 202],
        });
        const s = validate(solutionStatusSchema, response.body, "GET", url);
        return {
          status: {
            requestId: s.requestId,
            action: s.action ?? undefined,
            state: s.state,
            errorMessage: s.result?.message ?? undefined,
            maps: [],
          },
          retryAfter: parseRetryAfter(response.headers["retry-after"], this.now()),
        };
      },
      options,
      `the apply of solution ${uniqueName}`,
      "all",
    );
  }

  /**
   * Makes `templateId` the active version of the map with project `pid` (the map must be
   * stopped). The body is the raw template id, not JSON-quoted, under the JSON content type, as
   * the tool sends it; its answer is ignored and the maps are re-read (DWMapEngine.cs:1963-1974).
   */
  async switchActive(cid: string, templateId: string, pid: string): Promise<void> {
    await this.write(
      {
        method: "POST",
        url: `${this.dwm}SolutionAware/${seg(cid)}/SwitchActive/${seg(templateId)}?${query({ pid })}`,
        scope: this.scope,
        headers: { ...WRITE_HEADERS, "content-type": "application/json; charset=utf-8" },
        body: templateId,
        accept: [200, 202, 204],
        idempotent: true, // "make X active" twice is still X
      },
      undefined,
      "versions",
    );
  }

  // ── integration keys and initial-sync results ──────────────────────────────────────────────

  /**
   * Sets the integration keys of one Dataverse entity set. `datasetName` is the name of the CRM
   * environment in the connection set (DWMapEngine.cs:1501-1514); read them back with
   * `getConnectionSet` (there is no read route).
   */
  async setIntegrationKeys(
    datasetName: string,
    entitySet: string,
    fields: readonly string[],
  ): Promise<void> {
    await this.write(
      {
        method: "POST",
        url: `${this.root}dataset/${seg(datasetName)}/IntegrationKeys`,
        scope: this.scope,
        headers: WRITE_HEADERS,
        json: { integrationKeys: { [entitySet]: fields }, datasetName },
        accept: [200, 201, 204],
        idempotent: true, // sets fixed values
      },
      undefined,
      "connectionSet",
    );
  }

  /**
   * Every initial-sync run the gateway lists for a map's project, newest first: the responses
   * grouped by `initialSyncRequestId`, in the order of their first appearance (the gateway lists the
   * latest run first, DWMapEngine.cs:1125-1128). Empty when none ran. `executionStatus` is kept as
   * text; nothing here decides success from it.
   */
  async initialSyncRuns(pid: string): Promise<InitialSyncRunRecord[]> {
    const url = `${this.root}ProjectExecutionWithCompanies/${seg(pid)}`;
    const response = await this.http.request({
      method: "GET",
      url,
      scope: this.scope,
      accept: [200, 404],
    });
    if (response.status === 404) return [];
    const responses =
      validate(projectExecutionSchema, response.body, "GET", url).projectExecutionResponses ?? [];
    const runs = new Map<string, { submittedOn: string; results: LegalEntitySyncResult[] }>();
    for (const r of responses) {
      const runId = r.initialSyncRequestId ?? "";
      let run = runs.get(runId);
      if (!run) runs.set(runId, (run = { submittedOn: "", results: [] }));
      const submitted = r.submittedOn ?? "";
      if (submitted !== "" && (run.submittedOn === "" || submitted < run.submittedOn))
        run.submittedOn = submitted;
      const legs = (r.taskExecutionStatuses ?? []).flatMap((t) => t.legs ?? []);
      run.results.push({
        legalEntity: r.legalEntityName,
        executionStatus: r.executionStatus ?? "",
        runId: runId || undefined,
        upserted: r.upsertCount ?? 0,
        errors: r.errorCount ?? 0,
        total: legs.reduce((sum, l) => sum + (l.exportRecordCount ?? 0), 0),
        firstErrors: legs
          .flatMap((l) => [...(l.exportErrors ?? []), ...(l.importErrors ?? [])])
          .slice(0, 5)
          .map((e) => ({
            recordId: e.recordId ?? "",
            field: e.sourceField ?? "",
            message: e.errorMessage ?? "",
          })),
      });
    }
    return [...runs].map(([runId, run]) => ({ runId, ...run }));
  }

  /**
   * One initial-sync run of a map's project, per legal entity: the run started by `runId`, or the
   * latest run (the responses that share the FIRST response's `initialSyncRequestId`,
   * DWMapEngine.cs:1125-1128). Empty when there is no such run.
   */
  async initialSyncResults(pid: string, runId?: string): Promise<LegalEntitySyncResult[]> {
    const runs = await this.initialSyncRuns(pid);
    const run = runId === undefined ? runs[0] : runs.find((r) => sameId(r.runId, runId));
    return [...(run?.results ?? [])];
  }

  // ── plumbing ───────────────────────────────────────────────────────────────────────────────

  private get<S extends z.ZodType>(url: string, schema: S): Promise<z.output<S>> {
    return this.http.requestJson({ method: "GET", url, scope: this.scope, accept: [200] }, schema);
  }

  /**
   * A write: invalidates shared reads before and after, whatever the outcome. With a schema the
   * answer is validated; without, it is not read (the tool ignores it too).
   */
  private async write<S extends z.ZodType>(
    request: HttpRequest,
    schema: S | undefined,
    changes: WriteScope = "all",
  ): Promise<z.output<S> | undefined> {
    this.forget(changes);
    try {
      if (schema) return await this.http.requestJson(request, schema);
      await this.http.request(request);
      return undefined;
    } finally {
      this.forget(changes);
    }
  }

  /**
   * Forgets the shared reads a write can change: `mapActions` — nothing (a map action marks the
   * maps it acts on, see `listMaps`); `maps` — the map lists (a table refresh, a request ended);
   * `versions` — the map lists and the prerequisite sequences, which name active
   * template ids (a version switch); `connectionSet` — the connection sets (integration keys);
   * `all` — everything (link, legal entities, solutions).
   */
  private forget(changes: WriteScope): void {
    if (changes === "all" || changes === "versions") {
      this.prerequisites.clear();
      this.prefetched.clear();
    }
    if (changes === "mapActions") return; // marked per map instead (`noteAction`)
    if (changes === "all") this.shared.invalidate();
    else if (changes === "connectionSet")
      this.shared.invalidate((key) => key.startsWith("connectionSet:"));
    else this.shared.invalidate((key) => key.startsWith("maps:"));
  }

  /**
   * A non-idempotent write answered by `{requestId}`, sent at most twice: after an ambiguous
   * answer, `lookup` says whether the gateway shows its effect (asked a few times, since the
   * request may still be registering). Applied → its request id when the lookup found one, else
   * undefined. Not applied → the gateway has no record of it, so it never acted on it and it is
   * sent once more; a second ambiguous answer is final.
   */
  private async writeOnce(
    request: HttpRequest,
    lookup: () => Promise<Lookup>,
    changes: WriteScope = "all",
  ): Promise<{ requestId: string } | undefined> {
    for (let round = 1; ; round++) {
      let ambiguous: AmbiguousResponseError;
      try {
        return await this.write(request, requestIdSchema, changes);
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

  /**
   * Sends one `Reset` and waits until `done` holds for what the gateway shows. The gateway
   * completes a Reset after answering, so an ambiguous answer (timeout, dropped connection,
   * 5xx) is followed by reading the link, never by a second Reset: if the link shows as wanted
   * it is done; if not within `timeoutMs`, the error says the outcome is unknown.
   */
  private async resetOnce(
    cid: string,
    payload: ResetLinkPayload,
    forceReset: boolean,
    wait: {
      readonly financeOperationsUrl: string;
      readonly done: (link: GatewayLink | undefined) => boolean;
      readonly what: string;
      readonly timeoutMs: number | undefined;
    },
  ): Promise<GatewayLink | undefined> {
    let ambiguous: AmbiguousResponseError | undefined;
    try {
      await this.write(
        {
          method: "POST",
          url: `${this.root}ConnectionSet/${seg(cid)}/Reset?${query({
            targetType: "AX",
            // C#'s bool.ToString(), as the tool formats it (ResetLinkEngine.cs:59).
            forceReset: forceReset ? "True" : "False",
          })}`,
          scope: this.scope,
          headers: WRITE_HEADERS,
          json: payload,
          accept: [200, 202, 204],
          idempotent: false,
          timeoutMs: RESET_TIMEOUT_MS,
        },
        undefined,
      );
    } catch (error) {
      if (!(error instanceof AmbiguousResponseError)) throw error;
      ambiguous = error;
    }
    try {
      return await this.waitForLink(wait.financeOperationsUrl, wait);
    } catch (error) {
      if (ambiguous && error instanceof TimeoutError) {
        throw new DualWriteError(
          `The gateway's answer to the Reset for ${wait.what} was lost (${ambiguous.message}), and the gateway does not show the result after ${formatDuration(error.timeoutMs)}. It was not sent again: run pulumi up again, which reads the link first.`,
          "ResetUnconfirmed",
          { cause: ambiguous },
        );
      }
      throw error;
    }
  }

  /** Reads the link (fresh) until `done` holds; returns what was read last. */
  private async waitForLink(
    financeOperationsUrl: string,
    wait: {
      readonly done: (link: GatewayLink | undefined) => boolean;
      readonly what: string;
      readonly timeoutMs: number | undefined;
    },
  ): Promise<GatewayLink | undefined> {
    const box = await this.pollFor(
      async () => {
        const link = await this.findLink(financeOperationsUrl, { fresh: true });
        return wait.done(link) ? { link } : undefined;
      },
      wait.timeoutMs ?? DEFAULT_LINK_TIMEOUT_MS,
      wait.what,
    );
    // Reads made while the change was under way (e.g. of the connection set) are stale now.
    this.shared.invalidate();
    return box.link;
  }

  /**
   * Calls `read` with growing intervals until it returns a value; times out after `timeoutMs`, and
   * stops at once when the provider is cancelled.
   */
  private async pollFor<T>(
    read: () => Promise<T | undefined>,
    timeoutMs: number,
    what: string,
    signal: AbortSignal | undefined = this.signal,
  ): Promise<T> {
    const deadline = this.now() + timeoutMs;
    const sleep = cancellableSleep(this.sleep, signal, what);
    let interval = this.pollMs;
    for (;;) {
      throwIfCancelled(signal, what);
      const value = await read();
      if (value !== undefined) return value;
      const left = deadline - this.now();
      if (left <= 0)
        throw new TimeoutError(
          `${what} did not show within ${formatDuration(timeoutMs)}; the gateway may still be working on it: run pulumi up again later, or raise the timeout.`,
          timeoutMs,
        );
      await sleep(Math.min(interval, left));
      interval = Math.min(this.maxPollMs, Math.round(interval * 1.5));
    }
  }

  /**
   * Request ids already in the maps' histories, so a lookup can tell ours from older ones: from
   * the last list read of each cid (read before this start, so every id in it is older; this
   * process's earlier requests on a map are in it, since each is waited for through a list or
   * status read that shows it), else read now.
   */
  private async knownRequestIds(cids: readonly string[]): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const cid of cids) {
      const maps = this.lastSeen.get(cid.toLowerCase())?.maps ?? (await this.listMaps(cid));
      for (const map of maps) for (const r of map.lastRequests) ids.add(r.requestId);
    }
    return ids;
  }

  private async poll(
    read: () => Promise<{ status: RequestStatus; retryAfter: number | undefined }>,
    options: WaitOptions,
    what: string,
    changes: WriteScope = "maps",
  ): Promise<RequestStatus> {
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const deadline = this.now() + timeoutMs;
    const signal = options.signal ?? this.signal;
    const sleep = cancellableSleep(this.sleep, signal, what);
    let interval = this.pollMs;
    for (;;) {
      throwIfCancelled(signal, what);
      const { status, retryAfter } = await read();
      options.onProgress?.(status);
      if (status.state === RequestState.Waiting && options.until?.(status)) return status;
      if (status.state === RequestState.Completed) {
        this.forget(changes); // what the request changed on the server
        return status;
      }
      if (status.state === RequestState.Error) {
        this.forget(changes);
        throw new DualWriteError(
          `The gateway reports that ${what} failed: ${status.errorMessage ?? "no message given"}`,
          "RequestFailed",
        );
      }
      const left = deadline - this.now();
      if (left <= 0) {
        throw new TimeoutError(
          `${what} was still running after ${formatDuration(timeoutMs)} (state ${status.state}); ` +
            "it goes on on the server: run `pulumi up` again later, or raise the timeout.",
          timeoutMs,
        );
      }
      // One last poll at the deadline rather than giving up early.
      await sleep(Math.min(Math.max(interval, retryAfter ?? 0), left));
      interval = Math.min(this.maxPollMs, Math.round(interval * 1.5));
    }
  }
}

/**
 * The `POST Start` body, as the tool builds it (DWMapEngine.cs:1740-1818): "8" carries neither
 * pid nor parameters; a single-map start or stop carries `{skipInitialSync, conflictResolution:
 * {option:"1", master}}`; pause and resume (sent in bulk by the tool) carry no parameters.
 */
export function startBody(action: MapAction, details: readonly ActionDetail[]): unknown {
  if (details.length === 0)
    throw new DualWriteError("startAction needs at least one map.", "InvalidArgument");
  return {
    action,
    details: details.map((d) => {
      if (action === MapAction.Initialize) return { tid: d.tid, cid: d.cid };
      if (!d.pid)
        throw new DualWriteError(
          `Action ${action} needs the map's project id (pid); initialize the map first (action 8).`,
          "InvalidArgument",
        );
      const base = { tid: d.tid, pid: d.pid, cid: d.cid };
      if (action === MapAction.Pause || action === MapAction.Resume) return base;
      return {
        ...base,
        parameters: {
          skipInitialSync: d.skipInitialSync ?? true,
          conflictResolution: {
            option: "1",
            master: d.master === "FinanceOperations" ? "AX" : "CRM",
          },
        },
      };
    }),
  };
}

/** The identifier by which the gateway knows an F&O environment: the URL's host name only. */
export function environmentIdentifier(financeOperationsUrl: string): string {
  try {
    return new URL(financeOperationsUrl).hostname;
  } catch {
    return financeOperationsUrl;
  }
}

/** Headers of every gateway write (DWHttp.cs:33-34). */
const WRITE_HEADERS: Readonly<Record<string, string>> = {
  accept: "application/json",
  origin: GATEWAY_ORIGIN,
};

type EntityItem = z.output<typeof entityItemSchema>;

/** The mark of a map action on a map whose name was not known. */
const ANY_MAP = "*";

/** The shortest pause between reads of a map list waited on (unless `pollMs` is shorter). */
const MIN_POLL_MS = 50;

/** Template ids asked at most in one prerequisites call. */
const PREREQUISITE_BATCH = 50;
/** Template ids of a link asked in passing with its first prerequisites question. */
const PREREQUISITE_PREFETCH = 4 * PREREQUISITE_BATCH;

/** The prerequisite questions of one cid waiting for a call. */
interface PrerequisiteQueue {
  /** A flush is scheduled or running. */
  busy: boolean;
  readonly asked: {
    readonly templateId: string;
    /** Someone waits for it (else it is asked in passing, see `prerequisiteSequence`). */
    wanted: boolean;
    readonly answer: Promise<string[]>;
    resolve(sequence: string[]): void;
    reject(error: unknown): void;
  }[];
}

/** A template id asked in passing whose call's answer was not trusted (`prerequisiteLists`). */
class NotAnswered extends Error {}

/** The key of a prerequisite sequence: `cid|template id`, lower case. */
function prerequisiteKey(cid: string, templateId: string): string {
  return `${cid}|${templateId}`.toLowerCase();
}

/** One map request waited for by the poller of its cid's map list. */
interface MapWaiter {
  readonly requestId: string;
  readonly what: string;
  readonly timeoutMs: number;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** When it wants the next read. */
  due: number;
  /** The pause after the next read that still finds it waiting. */
  interval: number;
  resolve(status: RequestStatus): void;
  reject(error: unknown): void;
}

/** What a write can change, for `GatewayClient.forget`. */
type WriteScope = "all" | "maps" | "versions" | "connectionSet" | "mapActions";

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
    pid: d.pid || undefined,
    state: d.state as MapState,
    financeOperationsEntity: item.leftEntity?.name ?? "",
    dataverseEntitySet: item.rightEntity?.name ?? "",
    activeTemplate: d.template ? toTemplate(d.template) : undefined,
    templates: (d.templates ?? []).map(toTemplate),
    actions: d.actions ?? [],
    lastRequests: (d.lastRequests ?? []).map((r) => ({
      requestId: r.requestId,
      action: r.action ?? undefined,
      createdOn: r.createdOn ?? undefined,
      modifiedOn: r.modifiedOn ?? undefined,
      state: r.state,
      errorMessage: r.errorMessage ?? undefined,
    })),
  };
}

/**
 * A request's outcome from a map list, or undefined when no map of it lists the request: the
 * maps that list it are what `Status/<id>` answers.
 */
function requestStatusOf(
  requestId: string,
  maps: readonly GatewayMap[],
): RequestStatus | undefined {
  const id = requestId.toLowerCase();
  const items = maps.filter((m) => m.lastRequests.some((r) => r.requestId.toLowerCase() === id));
  return items.length === 0 ? undefined : outcomeOf(requestId, items);
}

/**
 * A request's outcome from the maps `Status/<id>` answers: Error when any map's entry says so;
 * Completed when every map that has an entry says so; otherwise Waiting (also while no map shows
 * the request yet).
 */
function toRequestStatus(requestId: string, items: readonly EntityItem[]): RequestStatus {
  return outcomeOf(requestId, items.map(toGatewayMap));
}

/** The outcome of request `requestId` from its maps' `lastRequests` entries. */
function outcomeOf(requestId: string, maps: readonly GatewayMap[]): RequestStatus {
  const entries = maps.flatMap((m) => m.lastRequests.filter((r) => r.requestId === requestId));
  const failed = entries.find((r) => r.state === RequestState.Error);
  const state = failed
    ? RequestState.Error
    : entries.length > 0 && entries.every((r) => r.state === RequestState.Completed)
      ? RequestState.Completed
      : RequestState.Waiting;
  return {
    requestId,
    action: entries[0]?.action,
    state,
    errorMessage: failed?.errorMessage,
    maps,
  };
}

function toConnectionSet(set: z.output<typeof connectionSetSchema>): ConnectionSet {
  const envs = Object.values(set.environments ?? {});
  // The tool takes the first CRM (or CDS) and the first AX environment (DWCommonEngine.cs:134-149).
  const crm = envs.find((e) => e.targetType === "CRM" || e.targetType.includes("CDS"));
  const ax = envs.find((e) => e.targetType === "AX");
  const integrationKeys: Record<string, readonly string[]> = {};
  for (const schema of crm?.schemas ?? []) {
    const keys = schema.keys ?? [];
    const key =
      keys.find((k) => k.name.toUpperCase() === "USERKEYS") ??
      keys.find((k) => k.name.toUpperCase() === "USERKEY");
    if (key) integrationKeys[schema.name] = key.fields ?? [];
  }
  const legalEntities: string[] = [];
  for (const m of set.dualWriteDetail?.legalEntityMappings?.mappings ?? [])
    if (!legalEntities.includes(m.left.name)) legalEntities.push(m.left.name);
  return {
    cid: set.id,
    cname: set.name,
    dataverse: crm && toSetEnvironment(crm),
    financeOperations: ax && toSetEnvironment(ax),
    legalEntities,
    integrationKeys,
  };
}

function toSetEnvironment(
  e: NonNullable<z.output<typeof connectionSetSchema>["environments"]>[string],
): ConnectionSetEnvironment {
  return {
    name: e.name,
    displayName: e.environmentDisplayName ?? undefined,
    powerAppsEnvironment: e.powerAppsEnvironment ?? undefined,
    directUrl: e.directUrl ?? undefined,
    isDevInstance: e.isDevInstance ?? false,
  };
}

/** One path segment, escaped. */
function seg(value: string): string {
  return encodeURIComponent(value);
}

function query(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** Whether two environment URLs name the same environment (scheme, host, port, path; case and trailing slashes aside). */
export function sameUrl(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  const norm = (u: string) => u.replace(/\/+$/, "").toLowerCase();
  return norm(a) === norm(b);
}

function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const norm = (xs: readonly string[]) =>
    [...new Set(xs.map((x) => x.toUpperCase()))].sort().join(",");
  return norm(a) === norm(b);
}
