/**
 * InitialSyncRun's spec, from which its lifecycle is derived (`common/spec.ts`; a `history`
 * resource: it starts a job rather than owns a long-lived object): one initial-sync job of one
 * map. Pre-flight applies Microsoft's data-volume rules to counts read from both environments
 * (`verify`) before anything starts; `up` (`converge`) adopts a job already there or starts the
 * job, prints progress while it polls, and records per legal entity what it did. A run is
 * history: delete forgets it; a new `master`, `legalEntities` or `trigger` runs it again (an
 * update, which knows the run it recorded); another map or link replaces it.
 *
 * A run never repeats by accident (`common/initialSync.ts`, `adoptInitialSync`): before starting,
 * a job of the same map that is running, or that finished after the last run recorded (this
 * resource's, or for a new run its binding's `lastInitialSync`), is adopted instead — after a
 * killed, cancelled or timed-out `up`, the next `up` finds the job the dead one started.
 * `waitForCompletion: false` returns once the job has started (status `Running`); the next `up`
 * (an update) or `refresh` (read) collects the result.
 *
 * | step   | HTTP calls                                                                                    |
 * |--------|------------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments + GET /api/ConnectionSet/<cname> (the link's legal entities, when the connection does not give them); F&O `<set>/$count?cross-company=true&$filter=dataAreaId eq …` and Dataverse `<set>?$select=<id>&$count=true&$filter=_msdyn_company_value eq …` per legal entity of the link (exact: pages of keys above 5,000); GET cdm_companies; GET DWM/Entities + GET DWM/<pid>/FieldMappings (lookups) |
 * | diff   | none (a run does not drift: `find` is the recorded run; a run recorded `Running` or `Failed` shows as an update) |
 * | create | the check's reads; GET DWM/Entities (+ GET /api/ProjectExecutionWithCompanies/<pid>: a job to adopt); a Running map: POST DWM/Start "4" + GET DWM/Status/<id>; a map without pid: POST DWM/Start "8" + waits; GET DWM/<pid>/FieldMappings + POST /api/Project/<name>/Refresh; POST DWM/Start "1" with `skipInitialSync:false` once; GET DWM/Status/<id> until the map leaves InitialSync, with GET /api/ProjectExecutionWithCompanies/<pid> for progress and results |
 * | read   | none (a run is history: it stays as recorded); a run recorded `Running`: GET DWM/Entities, GET DWM/Status/<id>, GET /api/ProjectExecutionWithCompanies/<pid> (its result, as it stands) |
 * | update | a new `master`, `legalEntities` or `trigger`: as create, adopting only a job newer than the recorded run; a run recorded `Running`: its collection (the wait, the results); otherwise none |
 * | delete | none (history is forgotten; synced rows stay)                                                    |
 *
 * An InitialSyncRun is a sync run on purpose, e.g. again after a `trigger` change: it stops a
 * Running map first. A map's first initial sync is best its binding's (`initialSync` on the
 * EntityMapBinding: the map is then started once, with the sync, as Microsoft's tool does). The
 * pre-flight and the start are shared with the binding (`common/initialSync.ts`, with the
 * evidence).
 */
import { DualWriteError } from "../../errors";
import { MapAction, MapState } from "../../clients/gateway";
import { normalizeUrl, UNKNOWN } from "../common/check";
import { deepEqual } from "../common/diff";
import { FailureList, InvalidInputError } from "../common/failures";
import type { Clients, HandlerContext } from "../common/handler";
import {
  adoptInitialSync,
  describeResults,
  peekRecordedSync,
  preflight,
  startInitialSync,
  type PreflightWording,
  type RecordedRun,
  type SyncOutcome,
  type SyncSpec,
} from "../common/initialSync";
import { actOnMap, findMap, reread, stateName, withMapLock } from "../common/maps";
import {
  exactly,
  lifecycleOf,
  sameEnvironment,
  type PlannedChange,
  type ResourceSpec,
} from "../common/spec";
import {
  initialSyncRunSchemas,
  type InitialSyncRunInputs,
  type InitialSyncRunOutputs,
  type MeasuredCounts,
} from "./initialSyncRun.schema";

const RESOURCE = "InitialSyncRun";

/**
 * Inputs whose change runs the sync again, as an update: the update knows the run recorded, so a
 * job it started and lost (an interrupted `up`) is adopted rather than run twice.
 */
const RERUN_ON_CHANGE = ["master", "legalEntities", "trigger"] as const;

/** How the run's pre-flight names its inputs. */
const WORDING: PreflightWording = {
  legalEntitiesProperty: "legalEntities",
  volumeProperty: "mapName",
  howToSkip: 'remove this InitialSyncRun (in DualWriteScenario: initialSync: "skip")',
};

/** The run's declaration; `reported` is what `legalEntities` declares. */
type Desired = SyncSpec & {
  readonly wait: boolean;
  /** The declared inputs whose change runs the sync again, as declared. */
  readonly rerun: Pick<InitialSyncRunInputs, (typeof RERUN_ON_CHANGE)[number]>;
  /** The binding's recorded sync (`bindingSyncRequestId`): a new run adopts only a newer job. */
  readonly bindingSyncRequestId: string | undefined;
};

function desired(inputs: InitialSyncRunInputs): Desired {
  // A list not known yet (preview) is no list here: the check waits for it, or counts without it.
  const upper = (codes: unknown) =>
    Array.isArray(codes) ? codes.map((c) => String(c).toUpperCase()) : undefined;
  return {
    cid: inputs.environmentId,
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    mapName: inputs.mapName,
    master: inputs.master,
    reported: upper(inputs.legalEntities),
    linked: upper(inputs.linkedLegalEntities),
    wait: inputs.waitForCompletion ?? true,
    rerun: { master: inputs.master, legalEntities: inputs.legalEntities, trigger: inputs.trigger },
    bindingSyncRequestId:
      inputs.bindingSyncRequestId === UNKNOWN ? undefined : inputs.bindingSyncRequestId,
  };
}

/** The declared inputs whose change from `previous` runs the sync again. */
function rerunChanges(previous: Partial<InitialSyncRunInputs>, d: Desired): string[] {
  return RERUN_ON_CHANGE.filter(
    (k) => d.rerun[k] === UNKNOWN || !deepEqual(previous[k], d.rerun[k]),
  );
}

/**
 * What `verify` read for `converge`: the pre-flight's counts (none when nothing is started), and
 * its failures, which hold back a new start but not the adoption of a job already under way.
 */
interface Preflight {
  readonly measured: MeasuredCounts | undefined;
  readonly held: FailureList;
}

/** What `find` returns: a run is history, the record its state holds (nothing is read). */
type RunRecord = "recorded";

/**
 * Runs the job as the tool does — a job already there is adopted (`adoptInitialSync`); otherwise a
 * Running map is stopped first (the gateway starts an initial sync only from Stopped,
 * DWMapEngine.cs:1212-1216), then {@link startInitialSync} — and returns what it did. The
 * pre-flight's `failures` hold back a new start, not the adoption of a job already under way.
 */
async function runInitialSync(
  d: Desired,
  c: Clients,
  ctx: HandlerContext,
  recorded: RecordedRun | undefined,
  failures: FailureList,
): Promise<SyncOutcome> {
  const found = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName);
  if (!found)
    throw new DualWriteError(
      `Map ${d.mapName} is not on the link; create its EntityMapBinding first.`,
      "MapNotFound",
    );
  return withMapLock(d.cid, d.mapName, async () => {
    let map = await reread(c, d.cid, found);
    const adopted = await adoptInitialSync(d, c, ctx, map, { recorded, wait: d.wait });
    if (adopted) return adopted;
    if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
    map = await reread(c, d.cid, map);
    if (!STARTABLE.includes(map.state)) {
      throw new DualWriteError(
        `Map ${d.mapName} is ${stateName(map.state)}; an initial sync starts only from Running (stopped first) or Stopped. ${map.state === MapState.Paused ? "Resume it first." : "Wait until it settles, then run pulumi up again."}`,
        "MapNotReady",
      );
    }
    if (map.state === MapState.Running) {
      ctx.log(`Map ${d.mapName} is Running: it is stopped for its initial sync`);
      map = await actOnMap(c, ctx, d.cid, map, MapAction.Stop);
    }
    return startInitialSync(d, c, ctx, map, d.wait);
  });
}

/** States an initial sync may start from (a Running map is stopped first). */
const STARTABLE: readonly number[] = [
  MapState.Running,
  MapState.Stopped,
  MapState.NotRunning,
  MapState.None,
];

/** What a run records: the job's outcome, and what the pre-flight counted. */
type RunFields = Omit<InitialSyncRunOutputs, keyof InitialSyncRunInputs>;

/** The record of a run: what the job did. */
function recordOf(run: SyncOutcome, measuredCounts: MeasuredCounts): RunFields {
  return {
    requestId: run.requestId,
    status: run.status,
    adopted: run.adopted,
    results: run.results,
    measuredCounts,
    ...(run.finishedAt !== undefined && { finishedAt: run.finishedAt }),
  };
}

/** The record a state holds, unchanged. */
function keptRecord(props: InitialSyncRunOutputs): RunFields {
  return {
    requestId: props.requestId,
    status: props.status,
    adopted: props.adopted,
    results: props.results,
    measuredCounts: props.measuredCounts,
    ...(props.finishedAt !== undefined && { finishedAt: props.finishedAt }),
  };
}

/** The error of a run recorded as failed (by a `refresh`): it holds until `trigger` changes. */
function recordedFailure(props: InitialSyncRunOutputs): DualWriteError {
  return new DualWriteError(
    `The initial sync of ${props.mapName} (request ${props.requestId}) failed${props.results.length > 0 ? `: ${describeResults(props.results)}` : ""}. It is not run again by itself: fix the errors, then change trigger to run it again.`,
    "InitialSyncFailed",
  );
}

/** Counts rows in both environments and applies the data-volume rules; failures in `into`. */
async function preflighted(d: Desired, ctx: HandlerContext, into: FailureList): Promise<Preflight> {
  const measured = await preflight(d, ctx.clients(d), into, ctx, WORDING);
  return { measured, held: into };
}

/**
 * InitialSyncRun, said once (`common/spec.ts`). A run is history (`history`): `find` is the run
 * the state records, so diff and read call nothing for a run that has ended; whether the job was
 * started or adopted from an interrupted `up` is the `adopted` output.
 */
export const initialSyncRunSpec: ResourceSpec<
  InitialSyncRunInputs,
  InitialSyncRunOutputs,
  Desired,
  RunRecord,
  Preflight
> = {
  resource: RESOURCE,
  schemas: initialSyncRunSchemas,
  references: {
    entityMap: {
      target: "EntityMapBinding",
      inputs: ["environmentId", "financeOperationsUrl", "dataverseUrl", "mapName"],
    },
  },
  // Computed by the connection and the binding: unknown in a preview in which those are updated.
  // They identify nothing the URLs do not, so an unknown value stands for the previous one.
  settled: ["environmentId", "linkedLegalEntities", "bindingSyncRequestId"],
  // Only a change that runs the sync again is an update. The link's legal entities and the
  // binding's record matter only to a run that has not happened: a recorded run stays as it was
  // when they change later; `waitForCompletion` matters only to the next wait; and the URLs and
  // map name identify the run (another spelling of the same URL is no change).
  declared: RERUN_ON_CHANGE,
  resolved: [],
  identity: ["financeOperationsUrl", "dataverseUrl", "mapName"],
  // Another map is another run. Gateway map names are case-sensitive (`scenario/catalog.ts`).
  replaceOnChange: {
    financeOperationsUrl: sameEnvironment,
    dataverseUrl: sameEnvironment,
    mapName: exactly,
  },
  changeEffects: {
    master: "the initial sync runs again",
    legalEntities: "the initial sync runs again",
    trigger: "the initial sync runs again",
  },
  deleteBeforeReplace: false,
  history: true,
  before: "before the initial sync starts",
  cleanup: "forget",
  desired,
  describe: (d) => `the initial sync of ${d.mapName}`,
  claimKey: (d) => `${RESOURCE}:${d.cid}/${d.mapName}`,

  async verify(d, ctx, failures, how) {
    if (how.phase === "check") {
      // Counted when the legal entities to report are known (the link's may still be unknown:
      // the pre-flight then counts those of the link, or of F&O before the link exists).
      if (how.unknown.has("legalEntities")) return undefined;
      return preflighted(d, ctx, failures);
    }
    const previous = how.previous;
    // Only a run that starts is counted: collecting a run not waited for, or keeping a recorded
    // one, starts nothing.
    if (previous !== undefined && rerunChanges(previous, d).length === 0)
      return { measured: undefined, held: new FailureList() };
    return preflighted(d, ctx, new FailureList());
  },

  find: () => Promise.resolve("recorded"),
  absent: () => Promise.resolve("no run is recorded: pulumi up runs the initial sync"),
  isLive: () => false,

  plan(d, _found, _ctx, previous): Promise<PlannedChange[]> {
    // A run that runs again says so through its declared change (`changeEffects`).
    if (previous === undefined || rerunChanges(previous, d).length > 0) return Promise.resolve([]);
    if (previous.status === "Running")
      return Promise.resolve([
        {
          property: "waitForCompletion",
          effect: `the initial sync started earlier (request ${previous.requestId}) is not collected yet: this up ${d.wait ? "waits for it" : "looks at it"} and records its result`,
          disruptive: false,
        },
      ]);
    if (previous.status === "Failed")
      return Promise.resolve([
        {
          property: "trigger",
          effect: `the initial sync (request ${previous.requestId}) failed; change trigger to run it again`,
          disruptive: false,
        },
      ]);
    return Promise.resolve([]);
  },

  async converge(d, pre, ctx, { previous }) {
    if (previous === undefined) {
      // A new run is compared with the sync its map's binding recorded: a later job is one that
      // an interrupted `up` of this run started.
      const recorded: RecordedRun | undefined = d.bindingSyncRequestId
        ? { requestId: d.bindingSyncRequestId, status: "Succeeded" }
        : undefined;
      const run = await runInitialSync(d, ctx.clients(d), ctx, recorded, pre.held);
      // The id stays the first run's request id; `requestId` follows later runs.
      return { id: run.requestId, outs: recordOf(run, pre.measured ?? EMPTY_COUNTS) };
    }
    const id = previous.requestId;
    if (rerunChanges(previous, d).length > 0) {
      const recorded: RecordedRun = { requestId: previous.requestId, status: "Succeeded" };
      const run = await runInitialSync(d, ctx.clients(d), ctx, recorded, pre.held);
      return { id, outs: recordOf(run, pre.measured ?? EMPTY_COUNTS) };
    }
    if (previous.status === "Failed") throw recordedFailure(previous);
    if (previous.status === "Running") {
      const recorded: RecordedRun = { requestId: previous.requestId, status: "Running" };
      const run = await runInitialSync(d, ctx.clients(d), ctx, recorded, new FailureList());
      return { id, outs: recordOf(run, previous.measuredCounts) };
    }
    // Only inputs that do not run it again changed (derived ones, waitForCompletion): the run stays.
    return { id, outs: keptRecord(previous) };
  },

  async observe(d, _found, ctx, props) {
    // A run is history: it stays as recorded. (The gateway keeps only the latest run's results
    // per project, grouped by an id of its own, so a later run would overwrite them.) A run not
    // waited for is looked at once, and recorded as it stands.
    if (props.status !== "Running") return {};
    const c = ctx.clients(d);
    const map = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName);
    const seen = await peekRecordedSync(d, c, props.requestId, map?.pid ?? "");
    if (seen.status === "Running") return {};
    if (seen.error) ctx.log(`InitialSyncRun ${props.mapName}: ${seen.error}`);
    return { status: seen.status, results: seen.results, finishedAt: new Date().toISOString() };
  },

  release(d, _props, ctx) {
    ctx.log(`InitialSyncRun ${d.mapName}: forgotten (history); synced rows stay`);
    return Promise.resolve();
  },
};

const EMPTY_COUNTS: MeasuredCounts = { financeOperations: {}, dataverse: {} };

/** InitialSyncRun's lifecycle, derived from {@link initialSyncRunSpec}. */
export const initialSyncRunLifecycle = lifecycleOf(initialSyncRunSpec);
