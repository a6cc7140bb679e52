/**
 * The dual-write runtime's state: links, per-map runtime state, requests and initial-sync jobs.
 * It is plain JSON so that persistence can snapshot it with the tables, and
 * background work (transitions, jobs) is described by it, so that a restored emulator can pick
 * the work up again.
 */
import type { Row } from "../store/tables";

/**
 * Map states as the gateway numbers them (DWLibary/DWEnums.cs:43-56). Kept as numbers inside the
 * runtime; the wire carries them as JSON strings (`"4"`), as the tool's DTO declares
 * (DWLibary/Struct/DWMaps.cs:73-85) and the live capture in toolbAX
 * `tests/FoToolbox.Tests/DualWriteResponseParserTests.cs` shows.
 */
export const MapState = {
  None: 0,
  Stopped: 1,
  InitialSync: 2,
  CatchUp: 3,
  Running: 4,
  Paused: 5,
  NotRunning: 6,
} as const;

/** A map state number. */
export type MapStateNumber = (typeof MapState)[keyof typeof MapState];

/** Name of a map state number (`4` → `Running`). */
export function mapStateName(state: number): string {
  return Object.entries(MapState).find(([, v]) => v === state)?.[0] ?? String(state);
}

/** States in which a map counts as stopped (reset, version switch and key edits need one). */
export const stoppedStates: readonly number[] = [
  MapState.None,
  MapState.Stopped,
  MapState.NotRunning,
];

/** The wire text of a map state (`4` → `"4"`). */
export function mapStateCode(state: number): string {
  return String(state);
}

/**
 * Request states (DWLibary/DWEnums.cs:58-63); strings on the wire (`"2"`,
 * DWLibary/Engines/DWMapEngine.cs:1890-1912, DWSolutionEngine.cs:78-89).
 */
export const RequestState = { Waiting: 1, Completed: 2, Error: 3 } as const;

/**
 * The action codes of `POST Start`, as the tool sends them (strings,
 * DWLibary/Engines/DWMapEngine.cs:1711-1738): `"1"` start (with `skipInitialSync:false` it is the
 * initial sync, ~1182-1230), `"4"` stop, `"5"` pause, `"6"` resume, `"8"` initialize a map that
 * has no project yet (~1351-1358, sent without pid or parameters ~1795-1815).
 */
export const MapAction = { Start: "1", Stop: "4", Pause: "5", Resume: "6", Init: "8" } as const;

/** An action code of `POST Start`. */
export type MapActionCode = (typeof MapAction)[keyof typeof MapAction];

/** Every action code `POST Start` accepts. */
export const mapActionCodes: readonly string[] = Object.values(MapAction);

/**
 * What one step of a request does: a `POST Start` action, or the initial writes the runtime runs
 * by itself for legal entities added to a link (never sent by a client).
 */
export type StepAction = MapActionCode | "initialWrites";

/**
 * What a resume does with the changes queued while the map was paused
 * (`dualWriteSkipCatchUpSyncParameters`, DWLibary/DWEnums.cs:33-41,
 * DWLibary/Engines/DWMapEngine.cs:1759-1783): replay them (default), skip to live sync keeping them
 * as catch-up errors for retry, or skip and discard them.
 */
export type CatchUpOption = "replay" | "preserve" | "discard";

/** Which side wins a conflict in an initial sync: `CRM` (Dataverse) or `AX` (F&O). */
export type Master = "CRM" | "AX";

/** A request as a map lists it in `lastRequests` (DWLibary/Struct/DWMaps.cs:51-61). */
export interface RequestRef {
  requestId: string;
  /** The action code (`"1"`, `"4"`, …). */
  action: string;
  state: number;
  errorMessage: string | null;
  /** Emulated milliseconds when the request was accepted. */
  createdAt: number;
  /** Emulated milliseconds of the last change of this map's part. */
  modifiedAt: number;
}

/** A change written while a map was not live (Paused, CatchUp, InitialSync), replayed in order. */
export interface QueuedChange {
  side: "fno" | "dataverse";
  op: "create" | "update" | "delete";
  row: Row;
  at: number;
}

/** A queued change that failed when replayed. */
export interface CatchUpError {
  at: number;
  side: "fno" | "dataverse";
  op: "create" | "update" | "delete";
  recordId: string;
  errorMessage: string;
}

/** An import error of an initial-sync leg. */
export interface ImportError {
  recordId: string;
  sourceField: string;
  errorMessage: string;
}

/** One direction of an initial sync for one legal entity. */
export interface LegRun {
  direction: "FinanceOperationsToDataverse" | "DataverseToFinanceOperations";
  status: "EXPORTING" | "IMPORTING" | "ERROR" | "WARNING" | "DONE";
  /** First five errors only, as the gateway reports them. */
  importErrors: ImportError[];
  errorCount: number;
  /** Source rows walked so far. */
  processed: number;
  /**
   * Storage key of the last source row walked (the leg goes on after it, in key order); null
   * before the first. Absent in state saved before cursors existed: the leg starts over.
   */
  cursor?: string | null;
  /** Rows this leg created on the other side. */
  inserted: number;
  /** Rows this leg updated (or found unchanged) on the other side. */
  updated: number;
  done: boolean;
}

/** The latest initial sync of one map for one legal entity. */
export interface LegalEntityRun {
  legalEntityName: string;
  executionStatus: "NotStarted" | "Running" | "Succeeded" | "Failed";
  initialSyncRequestId: string;
  upsertCount: number;
  errorCount: number;
  totalCount: number;
  legs: LegRun[];
  startedAt: number;
  finishedAt: number | null;
  /** Rows this legal entity may still move, carried between ticks (fractions of the rate). */
  budget: number;
}

/** Runtime state of one map of a link. */
export interface MapRuntime {
  name: string;
  state: number;
  /**
   * The map's project id (a bare GUID), or null until action `"8"` initializes the map
   * (DWLibary/Engines/DWMapEngine.cs:480-506, 1351-1358).
   */
  pid: string | null;
  /** The active version: author and dotted version. */
  activeTemplate: { author: string; version: string };
  /** Newest first, at most five. */
  lastRequests: RequestRef[];
  queue: QueuedChange[];
  catchUpErrors: CatchUpError[];
  /** The request whose transition is under way on this map, if any. */
  busyRequestId: string | null;
  /** Latest initial-sync run per legal entity. */
  executions: Record<string, LegalEntityRun>;
}

/** One environment of a connection set, as the Reset body named it (DWLibary/Struct/ResetLinkPayload.cs). */
export interface LinkEnvironment {
  /** The key of `environments` in the connection set, and the dataset name of the CRM side. */
  name: string;
  displayName: string;
  isDevInstance: boolean;
}

/** One link (connection set) between an F&O environment and a Dataverse org. */
export interface LinkState {
  fnoEnv: string;
  org: string;
  cid: string;
  /** The connection set's name (`dw-<guid>`), new with every link. */
  cname: string;
  /** The Power Platform environment id of the Dataverse org. */
  powerAppsEnvironment: string;
  /** The two environments of the connection set. */
  environments: { ax: LinkEnvironment; crm: LinkEnvironment };
  tenantId: string;
  /** New (and unique) with every link; background work of an older generation stops. */
  generation: number;
  linkedAt: number;
  /** Linked legal entities, upper-case, in link order. */
  legalEntities: string[];
  skipInitialWritesForNewLegalEntities: boolean;
  appliedSolutions: string[];
  /** Integration keys set through the gateway, by Dataverse entity set (defaults otherwise). */
  integrationKeys: Record<string, string[]>;
  /** Maps of the applied solutions, by name. */
  maps: Record<string, MapRuntime>;
}

/** Parameters of one map in `POST Start`. */
export interface StepParameters {
  skipInitialSync: boolean;
  master: Master;
  /** Legal entities of an initial sync or initial writes; null: every linked one. */
  legalEntities: string[] | null;
  /** What a resume does with the queue. */
  catchUp: CatchUpOption;
}

/** One map's part of a request. */
export interface RequestStep {
  map: string;
  action: StepAction;
  parameters: StepParameters;
  state: number;
  errorMessage: string | null;
  jobId: string | null;
}

/** What kind of work a request is. */
export type RequestKind = "map" | "solution" | "reset" | "legalEntities";

/** What an accepted Reset does once its transition time has passed. */
export interface ResetPlan {
  /** The Dataverse org to link; null unlinks. */
  org: string | null;
  legalEntities: string[];
  skipInitialWritesForNewLegalEntities: boolean;
  powerAppsEnvironment: string;
  environments: { ax: LinkEnvironment; crm: LinkEnvironment } | null;
  tenantId: string;
}

/** A request the gateway accepted (map actions, solution applies, resets, initial writes). */
export interface RequestRecord {
  requestId: string;
  kind: RequestKind;
  cid: string;
  fnoEnv: string;
  /** Link generation the request belongs to. */
  generation: number;
  /** The action code of a map request (`"1"` …), `"2"` for a solution apply, else a word. */
  action: string;
  state: number;
  errorMessage: string | null;
  createdAt: number;
  completedAt: number | null;
  steps: RequestStep[];
  /** Solutions of a RestoreTemplates request. */
  solutions: string[];
  /** The plan of a Reset request. */
  reset: ResetPlan | null;
}

/** An initial-sync job (a start with `skipInitialSync:false`, or initial writes for new legal entities). */
export interface JobRecord {
  jobId: string;
  requestId: string;
  fnoEnv: string;
  generation: number;
  map: string;
  kind: "initialSync" | "initialWrites";
  master: Master;
  legalEntities: string[];
  state: "Running" | "Succeeded" | "Failed" | "Cancelled";
  startedAt: number;
  finishedAt: number | null;
  lastTick: number;
  /** For initial writes: the state the map goes back to. */
  resumeState: number | null;
}

/** Everything the runtime persists. */
export interface RuntimeState {
  version: 2;
  /** Source of deterministic request and job ids. */
  counter: number;
  /** Links by F&O environment name. */
  links: Record<string, LinkState>;
  requests: Record<string, RequestRecord>;
  /** Request ids, oldest first (old ones are forgotten beyond a limit). */
  requestOrder: string[];
  jobs: Record<string, JobRecord>;
  /**
   * Dataverse orgs whose Power Platform integration with their pair's F&O environment was removed
   * by hand (control API); every seeded pair starts integrated.
   */
  unintegrated: string[];
}

/** A fresh, empty runtime state. */
export function emptyState(): RuntimeState {
  return {
    version: 2,
    counter: 0,
    links: {},
    requests: {},
    requestOrder: [],
    jobs: {},
    unintegrated: [],
  };
}
