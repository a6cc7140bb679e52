/**
 * The dual-write runtime's state: links, per-map runtime state, requests, initial-sync jobs and
 * virtual row counts. It is plain JSON so that persistence can snapshot it with the tables, and
 * background work (transitions, jobs) is described by it, so that a restored emulator can pick
 * the work up again.
 */
import type { Row } from "../store/tables";

/** Map states as the gateway numbers them (DWA `DWEnums.cs`). */
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

/** Request states. */
export const RequestState = { Waiting: 1, Completed: 2, Error: 3 } as const;

/** Map actions of `POST Start` (DWA `DWEnums.cs`; see docs/adr/0003-gateway-surface.md). */
export const MapAction = { Start: 1, Stop: 2, Pause: 3, Resume: 4, InitialSync: 8 } as const;

/** Every valid map action number. */
export const mapActions: readonly number[] = Object.values(MapAction);

/** Which side wins a conflict in an initial sync: `CRM` (Dataverse) or `AX` (F&O). */
export type Master = "CRM" | "AX";

/** A request as a map lists it in `lastRequests`. */
export interface RequestRef {
  requestId: string;
  action: number;
  state: number;
  errorMessage: string | null;
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
  /** Real rows walked so far (cursor into the table's rows of this company). */
  processed: number;
  /** Virtual rows counted as moved so far. */
  virtualDone: number;
  /** Virtual rows this leg has to move. */
  virtualTotal: number;
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

/** One link (connection set) between an F&O environment and a Dataverse org. */
export interface LinkState {
  fnoEnv: string;
  org: string;
  cid: string;
  tenantId: string;
  /** Increases with every link; background work of an older generation stops. */
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
  legalEntities: string[] | null;
}

/** One map's part of a request. */
export interface RequestStep {
  map: string;
  action: number;
  parameters: StepParameters;
  state: number;
  errorMessage: string | null;
  jobId: string | null;
}

/** What kind of work a request is. */
export type RequestKind = "map" | "solution" | "reset" | "legalEntities";

/** A request the gateway answered with a `requestId`. */
export interface RequestRecord {
  requestId: string;
  kind: RequestKind;
  cid: string;
  fnoEnv: string;
  /** Link generation the request belongs to. */
  generation: number;
  action: number | string;
  state: number;
  errorMessage: string | null;
  createdAt: number;
  completedAt: number | null;
  steps: RequestStep[];
  /** Solutions of a RestoreTemplates request. */
  solutions: string[];
}

/** An initial-sync job (action 8, a start with initial sync, or initial writes for new legal entities). */
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

/** A virtual row count (see `virtualRows.ts`). */
export interface VirtualRowsEntry {
  kind: "fno" | "dataverse";
  instance: string;
  table: string;
  /** Company code, upper-case; "" for a global table. */
  company: string;
  count: number;
}

/** Everything the runtime persists. */
export interface RuntimeState {
  version: 1;
  /** Source of deterministic request and job ids. */
  counter: number;
  /** Links by F&O environment name. */
  links: Record<string, LinkState>;
  requests: Record<string, RequestRecord>;
  /** Request ids, oldest first (old ones are forgotten beyond a limit). */
  requestOrder: string[];
  jobs: Record<string, JobRecord>;
  virtualRows: VirtualRowsEntry[];
}

/** A fresh, empty runtime state. */
export function emptyState(): RuntimeState {
  return {
    version: 1,
    counter: 0,
    links: {},
    requests: {},
    requestOrder: [],
    jobs: {},
    virtualRows: [],
  };
}
