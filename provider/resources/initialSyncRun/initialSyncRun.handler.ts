/**
 * InitialSyncRun's lifecycle: one initial-sync job of one map. Pre-flight applies Microsoft's
 * data-volume rules to counts read from both environments before anything starts; `up` starts the
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
 * | diff   | none (a run does not drift; a run recorded `Running` or `Failed` shows as an update)            |
 * | create | the check's reads; GET DWM/Entities (+ GET /api/ProjectExecutionWithCompanies/<pid>: a job to adopt); a Running map: POST DWM/Start "4" + GET DWM/Status/<id>; a map without pid: POST DWM/Start "8" + waits; GET DWM/<pid>/FieldMappings + POST /api/Project/<name>/Refresh; POST DWM/Start "1" with `skipInitialSync:false` once; GET DWM/Status/<id> until the map leaves InitialSync, with GET /api/ProjectExecutionWithCompanies/<pid> for progress and results |
 * | read   | none (a run is history: it stays as recorded)                                                   |
 * | update | none (only the link's default legal entities changed; the run stays as it was)                  |
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
import { normalizeUrl, settleDerived, UNKNOWN, type CheckFailure } from "../common/check";
import { deepEqual } from "../common/diff";
import {
  collectPropertyFailures,
  FailureList,
  InvalidInputError,
  throwUnlessValid,
} from "../common/failures";
import type {
  Clients,
  DiffOutcome,
  HandlerContext,
  Lifecycle,
  ReadOutcome,
} from "../common/handler";
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
  missingReferences,
  replacedProperties,
  sameEnvironment,
  type Comparator,
} from "../common/spec";
import {
  initialSyncRunSchemas,
  type InitialSyncRunInputs,
  type InitialSyncRunOutputs,
  type MeasuredCounts,
} from "./initialSyncRun.schema";

const RESOURCE = "InitialSyncRun";

/** Inputs whose change makes this a run of another map: the run is replaced. */
const REPLACE_ON_CHANGE = {
  financeOperationsUrl: sameEnvironment,
  dataverseUrl: sameEnvironment,
  // Gateway map names are case-sensitive (`provider/scenario/catalog.ts`).
  mapName: exactly,
} as const satisfies Partial<Record<keyof InitialSyncRunInputs, Comparator>>;
/** The replace-on-change inputs, by name. */
const IDENTITY = Object.keys(REPLACE_ON_CHANGE) as (keyof typeof REPLACE_ON_CHANGE)[];
/**
 * Inputs whose change runs the sync again, as an update: the update knows the run recorded, so a
 * job it started and lost (an interrupted `up`) is adopted rather than run twice.
 */
const RERUN_ON_CHANGE = ["master", "legalEntities", "trigger"] as const;
/**
 * Inputs computed by the connection and the binding: unknown in a preview in which those are
 * updated. They identify nothing the URLs do not, so an unknown value stands for the previous one.
 */
const DERIVED = ["environmentId", "linkedLegalEntities", "bindingSyncRequestId"] as const;

/** How the run's pre-flight names its inputs. */
const WORDING: PreflightWording = {
  legalEntitiesProperty: "legalEntities",
  volumeProperty: "mapName",
  howToSkip: 'remove this InitialSyncRun (in DualWriteScenario: initialSync: "skip")',
};

/** The run's declaration; `reported` is what `legalEntities` declares. */
type Desired = SyncSpec & { readonly wait: boolean };

function desired(inputs: InitialSyncRunInputs): Desired {
  const upper = (codes: readonly string[] | undefined) => codes?.map((c) => c.toUpperCase());
  return {
    cid: inputs.environmentId,
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    mapName: inputs.mapName,
    master: inputs.master,
    reported: upper(inputs.legalEntities),
    linked: upper(inputs.linkedLegalEntities),
    wait: inputs.waitForCompletion ?? true,
  };
}

/** The resource this one belongs to, with the lifecycle inputs it gives (`common/spec.ts`). */
const REFERENCES = {
  entityMap: {
    target: "EntityMapBinding",
    inputs: ["environmentId", "financeOperationsUrl", "dataverseUrl", "mapName"],
  },
} as const;

/** A missing `entityMap` named (a JavaScript or YAML program), then each property's schema. */
function pureCheck(news: Readonly<Record<string, unknown>>): {
  list: FailureList;
  unknown: ReadonlySet<string>;
} {
  const refs = missingReferences(RESOURCE, REFERENCES, news);
  const schemas = Object.fromEntries(
    Object.entries(initialSyncRunSchemas).filter(([k]) => !refs.derived.has(k)),
  );
  const { list, unknown } = collectPropertyFailures(RESOURCE, schemas, news);
  list.addAll(refs.failures);
  return { list, unknown };
}

function validInputs(inputs: InitialSyncRunInputs): Desired {
  const { list, unknown } = pureCheck(inputs as unknown as Record<string, unknown>);
  throwUnlessValid(RESOURCE, list, unknown, "before the initial sync starts");
  return desired(inputs);
}

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

/** The outputs of a run: the inputs, and what the job did. */
function recordOf(
  inputs: InitialSyncRunInputs,
  run: SyncOutcome,
  measuredCounts: MeasuredCounts,
): InitialSyncRunOutputs {
  return {
    ...inputs,
    requestId: run.requestId,
    status: run.status,
    adopted: run.adopted,
    results: run.results,
    measuredCounts,
    ...(run.finishedAt !== undefined && { finishedAt: run.finishedAt }),
  };
}

/** Whether a declared change runs the sync again. */
function rerunChanges(olds: Partial<InitialSyncRunInputs>, news: InitialSyncRunInputs): string[] {
  return RERUN_ON_CHANGE.filter((k) => news[k] === UNKNOWN || !deepEqual(olds[k], news[k]));
}

/** The error of a run recorded as failed (by a `refresh`): it holds until `trigger` changes. */
function recordedFailure(props: InitialSyncRunOutputs): DualWriteError {
  return new DualWriteError(
    `The initial sync of ${props.mapName} (request ${props.requestId}) failed${props.results.length > 0 ? `: ${describeResults(props.results)}` : ""}. It is not run again by itself: fix the errors, then change trigger to run it again.`,
    "InitialSyncFailed",
  );
}

/** InitialSyncRun's lifecycle. */
export const initialSyncRunLifecycle: Lifecycle<InitialSyncRunInputs, InitialSyncRunOutputs> = {
  resource: RESOURCE,

  async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
    const olds = oldInputs as Readonly<Record<string, unknown>>;
    const news = newInputs as Readonly<Record<string, unknown>>;
    const { list, unknown } = pureCheck(news);
    if (!list.empty) return list.toArray();
    const inputs = news as unknown as InitialSyncRunInputs;
    const previous = olds as Partial<InitialSyncRunInputs>;
    if (
      previous.mapName !== undefined &&
      [...IDENTITY, ...RERUN_ON_CHANGE].every((k) => deepEqual(previous[k], inputs[k]))
    )
      return [];
    if (
      ["financeOperationsUrl", "dataverseUrl", "mapName", "legalEntities"].some((p) =>
        unknown.has(p),
      )
    )
      return [];
    const d = desired({
      ...inputs,
      ...(unknown.has("linkedLegalEntities") && { linkedLegalEntities: undefined }),
    });
    await preflight(d, ctx.clients(d), list, ctx, WORDING);
    return list.toArray();
  },

  diff(_id, olds, declared): Promise<DiffOutcome> {
    const news = settleDerived(olds, declared, DERIVED);
    const replaces = replacedProperties(REPLACE_ON_CHANGE, olds, news);
    if (replaces.length > 0)
      return Promise.resolve({
        changes: true,
        replaces,
        reasons: replaces.map((k) => `${k} changes: another map's initial sync replaces this run`),
      });
    const reasons = rerunChanges(olds, news).map(
      (k) => `${k} changes: the initial sync runs again`,
    );
    if (reasons.length === 0 && olds.status === "Running")
      reasons.push(
        `the initial sync started earlier (request ${olds.requestId}) is not collected yet: this up ${news.waitForCompletion === false ? "looks at it" : "waits for it"} and records its result`,
      );
    if (reasons.length === 0 && olds.status === "Failed")
      reasons.push(
        `the initial sync (request ${olds.requestId}) failed; change trigger to run it again`,
      );
    // The link's legal entities and the binding's record matter only to a run that has not
    // happened: a recorded run stays as it was when they change later, so that alone is no change.
    return Promise.resolve({ changes: reasons.length > 0, replaces: [], reasons });
  },

  async create(inputs, ctx) {
    const d = validInputs(inputs);
    const c = ctx.clients(d);
    const failures = new FailureList();
    const measured = await preflight(d, c, failures, ctx, WORDING);
    // A new run is compared with the sync its map's binding recorded: a later job is one that an
    // interrupted `up` of this run started.
    const recorded: RecordedRun | undefined = inputs.bindingSyncRequestId
      ? { requestId: inputs.bindingSyncRequestId, status: "Succeeded" }
      : undefined;
    const run = await runInitialSync(d, c, ctx, recorded, failures);
    // The id stays the first run's request id; `requestId` follows later runs.
    return { id: run.requestId, outs: recordOf(inputs, run, measured) };
  },

  async read(id, props, ctx): Promise<ReadOutcome<InitialSyncRunOutputs>> {
    // A run is history: it stays as recorded. (The gateway keeps only the latest run's results
    // per project, grouped by an id of its own, so a later run would overwrite them.) A run not
    // waited for is looked at once, and recorded as it stands.
    if (props.status !== "Running") return { id, props };
    const d = desired(props);
    const c = ctx.clients(d);
    const map = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName);
    const seen = await peekRecordedSync(d, c, props.requestId, map?.pid ?? "");
    if (seen.status === "Running") return { id, props };
    if (seen.error) ctx.log(`InitialSyncRun ${props.mapName}: ${seen.error}`);
    return {
      id,
      props: {
        ...props,
        status: seen.status,
        results: seen.results,
        finishedAt: new Date().toISOString(),
      },
    };
  },

  async update(_id, olds, news, ctx) {
    const d = validInputs(news);
    if (rerunChanges(olds, news).length > 0) {
      const c = ctx.clients(d);
      const failures = new FailureList();
      const measured = await preflight(d, c, failures, ctx, WORDING);
      const run = await runInitialSync(
        d,
        c,
        ctx,
        { requestId: olds.requestId, status: "Succeeded" },
        failures,
      );
      return recordOf(news, run, measured);
    }
    if (olds.status === "Failed") throw recordedFailure(olds);
    if (olds.status === "Running") {
      const run = await runInitialSync(
        d,
        ctx.clients(d),
        ctx,
        { requestId: olds.requestId, status: "Running" },
        new FailureList(),
      );
      return recordOf(news, run, olds.measuredCounts);
    }
    // Only inputs that do not run it again changed (derived ones, waitForCompletion): the run stays.
    return {
      ...olds,
      ...news,
      requestId: olds.requestId,
      status: olds.status,
      adopted: olds.adopted,
      results: olds.results,
      measuredCounts: olds.measuredCounts,
      ...(olds.finishedAt !== undefined && { finishedAt: olds.finishedAt }),
    };
  },

  delete(_id, props, ctx) {
    ctx.log(`InitialSyncRun ${props.mapName}: forgotten (history); synced rows stay`);
    return Promise.resolve();
  },
};
