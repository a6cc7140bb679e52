/**
 * InitialSyncRun's lifecycle: one initial-sync job of one map. Pre-flight applies Microsoft's
 * data-volume rules to counts read from both environments before anything starts; `up` starts the
 * job, prints progress while it polls, and records per legal entity what it did. A run is
 * history: delete forgets it, and any change replaces it (runs it again).
 *
 * | step   | HTTP calls                                                                                    |
 * |--------|------------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments; GET /api/ConnectionSet/<cname> (default legal entities); F&O `<set>/$count?cross-company=true&$filter=dataAreaId eq …` and Dataverse `<set>/$count?$filter=_msdyn_company_value eq …` per legal entity; GET cdm_companies; GET DWM/Entities + GET DWM/<pid>/FieldMappings (lookups) |
 * | diff   | none (a run does not drift)                                                                     |
 * | create | the check's reads; POST DWM/Start (action 8) once; GET DWM/Status/<id> until done, with GET /api/ProjectExecutionWithCompanies/<pid> for progress and results |
 * | read   | GET /api/ProjectExecutionWithCompanies/<pid>                                                      |
 * | update | none (only the link's default legal entities changed; the run stays as it was)                  |
 * | delete | none (history is forgotten; synced rows stay)                                                    |
 */
import { DualWriteError } from "../../errors";
import {
  MapAction,
  MapState,
  type GatewayMap,
  type LegalEntitySyncResult,
} from "../../clients/gateway";
import { findCatalogMap, mapDataLocation } from "../../scenario/catalog";
import { normalizeUrl, settleDerived, UNKNOWN, type CheckFailure } from "../common/check";
import { companyColumnOf, companyIds } from "../common/companies";
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
import { stateName, withMapLock } from "../common/maps";
import { sameUrl } from "../dualWriteConnection/dualWriteConnection.schema";
import {
  initialSyncRunSchemas,
  MAX_DATAVERSE_TO_FO_ROWS,
  MAX_LEGAL_ENTITIES_PER_RUN,
  MAX_LOOKUPS_FROM_DATAVERSE,
  MAX_ROWS_PER_LEGAL_ENTITY,
  type InitialSyncRunInputs,
  type InitialSyncRunOutputs,
  type LegalEntityRunResult,
  type Master,
  type MeasuredCounts,
} from "./initialSyncRun.schema";

const RESOURCE = "InitialSyncRun";

/** Every declared input replaces the run, except the link's default legal entities. */
const REPLACE_ON_CHANGE = [
  "financeOperationsUrl",
  "dataverseUrl",
  "mapName",
  "master",
  "legalEntities",
  "trigger",
] as const;
/**
 * Inputs computed by the connection: unknown in a preview in which the connection is updated.
 * They identify nothing the URLs do not, so an unknown value stands for the previous one.
 */
const DERIVED = ["environmentId", "linkedLegalEntities"] as const;

/** The key of counts of tables that are not per company. */
const ALL_COMPANIES = "(all companies)";

interface Desired {
  readonly cid: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly mapName: string;
  readonly master: Master;
  /** The run's legal entities: declared, else the link's (when known). */
  readonly legalEntities: readonly string[] | undefined;
  /** Whether `legalEntities` were declared on the run (rather than the link's). */
  readonly declaredLegalEntities: boolean;
}

function desired(inputs: InitialSyncRunInputs): Desired {
  const les = inputs.legalEntities ?? inputs.linkedLegalEntities;
  return {
    cid: inputs.environmentId,
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    mapName: inputs.mapName,
    master: inputs.master,
    legalEntities: les?.map((code) => code.toUpperCase()),
    declaredLegalEntities: inputs.legalEntities !== undefined,
  };
}

function validInputs(inputs: InitialSyncRunInputs): Desired {
  const { list, unknown } = collectPropertyFailures(
    RESOURCE,
    initialSyncRunSchemas,
    inputs as unknown as Record<string, unknown>,
  );
  throwUnlessValid(RESOURCE, list, unknown, "before the initial sync starts");
  return desired(inputs);
}

/** Where the run's legal entities come from. */
type LegalEntityBasis = "declared" | "link" | "environment";

/**
 * The legal entities of the run: declared; else the link's (from the connection, or, in a
 * preview, as the gateway shows them); else, before the link exists, every legal entity of F&O —
 * the most a link can cover, so the volume rules are not skipped in a first preview.
 */
async function runLegalEntities(
  d: Desired,
  c: Clients,
): Promise<{ codes: string[]; basis: LegalEntityBasis }> {
  if (d.legalEntities)
    return { codes: [...d.legalEntities], basis: d.declaredLegalEntities ? "declared" : "link" };
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
  if (env?.linked) {
    const set = await c.gateway.getConnectionSet(env.cname);
    if (set) return { codes: set.legalEntities.map((code) => code.toUpperCase()), basis: "link" };
  }
  return {
    codes: (await c.fno.legalEntities()).map((e) => e.code.toUpperCase()),
    basis: "environment",
  };
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * Counts the map's rows in both environments per legal entity and applies the data-volume rules.
 * Returns the counts; adds a failure per broken rule.
 */
async function preflight(
  d: Desired,
  c: Clients,
  failures: FailureList,
  ctx: HandlerContext,
): Promise<MeasuredCounts> {
  const counts: MeasuredCounts = { financeOperations: {}, dataverse: {} };
  const { codes: les, basis } = await runLegalEntities(d, c);
  // Before the link exists the run's legal entities are not known yet: every legal entity of F&O
  // is counted (the most the link can hold), but the 40 rule waits for the real list.
  if (basis !== "environment" && les.length > MAX_LEGAL_ENTITIES_PER_RUN) {
    failures.add(
      "legalEntities",
      `The initial sync of ${d.mapName} would cover ${les.length} legal entities (${basis === "declared" ? "declared" : "all of the link's"}); dual-write syncs at most ${MAX_LEGAL_ENTITIES_PER_RUN} per run. Declare legalEntities, split into InitialSyncRun resources of at most ${MAX_LEGAL_ENTITIES_PER_RUN} each.`,
    );
    return counts;
  }
  // Where the rows live: known for the maps that move business data; for other catalog maps
  // the Dataverse side follows from the catalog, and the F&O entity set is not guessed.
  const known = mapDataLocation(d.mapName);
  const entry = findCatalogMap(d.mapName);
  const dataverseSet = known?.dataverseEntitySet ?? entry?.dataverseEntitySet;
  const companyColumn = known
    ? known.dataverseCompanyColumn
    : entry?.companySpecific
      ? companyColumnOf(entry.dataverseEntitySet)
      : undefined;
  if (!dataverseSet) {
    ctx.log(
      `InitialSyncRun ${d.mapName}: the provider does not know where this map's rows live, so the data-volume rules were not checked against counts`,
    );
    return counts;
  }

  if (known) {
    // The whole entity per legal entity, not narrowed by the map's source filter (e.g. customers
    // that are organizations): an upper bound of what the export reads, which is what the limit
    // protects.
    if (known.financeOperationsPerCompany) {
      for (const le of les) {
        counts.financeOperations[le] = await c.fno.count(known.financeOperationsEntitySet, {
          crossCompany: true,
          dataAreaId: le,
        });
      }
    } else {
      counts.financeOperations[ALL_COMPANIES] = await c.fno.count(
        known.financeOperationsEntitySet,
        {
          crossCompany: true,
        },
      );
    }
  } else {
    ctx.log(
      `InitialSyncRun ${d.mapName}: the F&O entity set of this map is not known to the provider; only Dataverse rows were counted`,
    );
  }

  const extra = known?.dataverseFilter;
  const where = (f: string): string => (extra ? `${f} and (${extra})` : f);
  let unstamped = 0;
  if (companyColumn) {
    const column = `_${companyColumn}_value`;
    const ids = await companyIds(c, les);
    // Rows without a company are counted for every legal entity: a CompanyBootstrap may stamp
    // them with any of them before the sync runs, so they bound what the sync may meet.
    unstamped = await c.dataverse.count(dataverseSet, where(`${column} eq null`));
    for (const le of les) {
      const id = ids.get(le);
      const stamped = id ? await c.dataverse.count(dataverseSet, where(`${column} eq ${id}`)) : 0;
      counts.dataverse[le] = stamped + unstamped;
    }
  } else {
    counts.dataverse[ALL_COMPANIES] = await c.dataverse.count(dataverseSet, extra);
  }

  const advice =
    'Load each side separately instead (data management packages in F&O, import in Dataverse), then run the map with initial sync skipped: remove this InitialSyncRun (in DualWriteScenario: initialSync: "skip").';
  const unstampedNote =
    unstamped > 0 ? ` (including ${fmt(unstamped)} rows without a company)` : "";
  const overFo = Object.entries(counts.financeOperations).filter(
    ([, n]) => n > MAX_ROWS_PER_LEGAL_ENTITY,
  );
  const overDv = Object.entries(counts.dataverse).filter(([, n]) => n > MAX_ROWS_PER_LEGAL_ENTITY);
  const overLeg = Object.entries(counts.dataverse).filter(
    ([, n]) => n > MAX_DATAVERSE_TO_FO_ROWS && n <= MAX_ROWS_PER_LEGAL_ENTITY,
  );
  const problems: string[] = [];
  if (overFo.length > 0) {
    problems.push(
      `F&O has ${overFo.map(([le, n]) => `${fmt(n)} ${known?.financeOperationsEntitySet ?? ""} rows in ${le}`).join(", ")}, above the ${fmt(MAX_ROWS_PER_LEGAL_ENTITY)} rows per legal entity an initial sync takes`,
    );
  }
  if (overDv.length > 0) {
    problems.push(
      `Dataverse has ${overDv.map(([le, n]) => `${fmt(n)} ${dataverseSet} for ${le}`).join(", ")}${unstampedNote}, above the ${fmt(MAX_ROWS_PER_LEGAL_ENTITY)} rows per legal entity an initial sync takes`,
    );
  }
  if (overLeg.length > 0) {
    problems.push(
      `Dataverse has ${overLeg.map(([le, n]) => `${fmt(n)} ${dataverseSet} for ${le}`).join(", ")}${unstampedNote}; initial sync copies them to F&O too, and that leg must finish within 24 hours and is not advised above ${fmt(MAX_DATAVERSE_TO_FO_ROWS)} rows (the provider treats every table as single-threaded, as it cannot tell)`,
    );
  }
  const dataverseRows = Object.values(counts.dataverse).reduce((a, b) => a + b, 0);
  if (dataverseRows > 0) {
    const lookups = await lookupCount(d, c);
    if (lookups !== undefined && lookups >= MAX_LOOKUPS_FROM_DATAVERSE) {
      problems.push(
        `the map has ${lookups} lookups, and maps with ${MAX_LOOKUPS_FROM_DATAVERSE} or more cannot initial-sync from Dataverse, which holds ${fmt(dataverseRows)} of its rows`,
      );
    }
  }
  if (problems.length > 0)
    failures.add(
      "mapName",
      `Initial sync of ${d.mapName} refused: ${problems.join("; ")}.${basis === "environment" ? " (The link is not made yet, so every legal entity of F&O was counted; declare legalEntities on the run to count only those.)" : ""} ${advice}`,
    );
  return counts;
}

/** How many lookup columns the map's field mapping has (dotted Dataverse paths), when the map exists. */
async function lookupCount(d: Desired, c: Clients): Promise<number | undefined> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
  if (!env?.linked) return undefined;
  const map = (await c.gateway.listMaps(env.cid)).find((m) => m.tName === d.mapName);
  if (!map?.pid) return undefined;
  const legs = await c.gateway.fieldMappings(map.pid);
  const lookups = new Set<string>();
  for (const leg of legs) {
    for (const f of leg.fieldMappings) {
      for (const field of [f.sourceField, f.destinationField])
        if (field.includes(".")) lookups.add(field.split(".")[0] ?? field);
    }
  }
  return lookups.size;
}

function toResult(r: LegalEntitySyncResult): LegalEntityRunResult {
  return {
    legalEntity: r.legalEntity,
    status: r.status,
    upserted: r.upserted,
    errors: r.errors,
    total: r.total,
    firstErrors: r.firstErrors.map((e) =>
      [e.recordId && `record ${e.recordId}`, e.field && `field ${e.field}`, e.message]
        .filter(Boolean)
        .join(": "),
    ),
  };
}

function describeResults(results: readonly LegalEntityRunResult[]): string {
  return results
    .map(
      (r) =>
        `${r.legalEntity} ${r.status}: ${fmt(r.upserted)} upserted, ${fmt(r.errors)} errors${r.firstErrors.length > 0 ? ` (first: ${r.firstErrors.join(" | ")})` : ""}`,
    )
    .join("; ");
}

/** A flag that ends the progress loop, waking it from its wait at once. */
class ProgressStop {
  done = false;
  private wake: () => void = () => undefined;

  /** Waits `ms`, or less when `stop()` is called meanwhile. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  stop(): void {
    this.done = true;
    this.wake();
  }
}

/** Prints per-legal-entity progress every `progressIntervalMs` until stopped. */
async function reportProgress(
  c: Clients,
  ctx: HandlerContext,
  mapName: string,
  pid: string,
  les: readonly string[],
  running: ProgressStop,
): Promise<void> {
  let last = "";
  while (!running.done) {
    await running.wait(ctx.options.progressIntervalMs);
    if (running.done) break;
    try {
      const results = (await c.gateway.initialSyncResults(pid)).filter(
        (r) => les.length === 0 || les.includes(r.legalEntity.toUpperCase()),
      );
      const line = results
        .map(
          (r) =>
            `${r.legalEntity} ${r.status} ${fmt(r.upserted)}/${fmt(r.total)} rows${r.errors > 0 ? `, ${fmt(r.errors)} errors` : ""}`,
        )
        .join("; ");
      if (line && line !== last) ctx.log(`Initial sync of ${mapName}: ${line}`);
      last = line;
    } catch {
      // Progress is best effort; the wait itself reports failures.
    }
  }
}

/** Starts the job, waits for it with progress, and returns the per-legal-entity results. */
async function runInitialSync(
  d: Desired,
  les: readonly string[] | undefined,
  c: Clients,
  ctx: HandlerContext,
): Promise<{ requestId: string; results: LegalEntityRunResult[] }> {
  const map: GatewayMap | undefined = (await c.gateway.listMaps(d.cid, { fresh: true })).find(
    (m) => m.tName === d.mapName,
  );
  if (!map)
    throw new DualWriteError(
      `Map ${d.mapName} is not on the link; create its EntityMapBinding first.`,
      "MapNotFound",
    );
  if (map.state !== MapState.Running && map.state !== MapState.Stopped) {
    throw new DualWriteError(
      `Map ${d.mapName} is ${stateName(map.state)}; an initial sync starts only from Running or Stopped. ${map.state === MapState.Paused ? "Resume it first." : "Wait until it settles, then run pulumi up again."}`,
      "MapNotReady",
    );
  }
  return withMapLock(d.cid, map.tid, async () => {
    ctx.log(
      `Starting initial sync of ${d.mapName} for ${les?.join(", ") ?? "the link's legal entities"} (master: ${d.master})`,
    );
    const requestId = await c.gateway.startAction(MapAction.InitialSync, [
      { tid: map.tid, cid: d.cid, master: d.master, ...(les && { legalEntities: les }) },
    ]);
    const running = new ProgressStop();
    const progress = map.pid
      ? reportProgress(c, ctx, d.mapName, map.pid, les ?? [], running)
      : Promise.resolve();
    let failure: unknown;
    try {
      await c.gateway.waitForRequest(requestId, {
        timeoutMs: ctx.options.initialSyncTimeoutMs,
        onProgress: (status) => {
          const state = status.maps.find((m) => m.tid === map.tid)?.state;
          if (state !== undefined)
            ctx.log(`Initial sync of ${d.mapName}: map is ${stateName(state)}`);
        },
      });
    } catch (error) {
      failure = error;
    } finally {
      running.stop();
      await progress;
    }
    const after = (await c.gateway.listMaps(d.cid, { fresh: true })).find((m) => m.tid === map.tid);
    const pid = after?.pid || map.pid;
    const all = pid ? await c.gateway.initialSyncResults(pid) : [];
    const ours = all.filter(
      (r) =>
        (r.requestId === undefined || r.requestId === requestId) &&
        (!les || les.includes(r.legalEntity.toUpperCase())),
    );
    const results = ours.map(toResult);
    const failed = results.filter((r) => r.status !== "Succeeded");
    if (failure !== undefined || failed.length > 0) {
      const reason =
        failure instanceof Error
          ? failure.message
          : failure !== undefined
            ? "the wait for it failed"
            : "";
      throw new DualWriteError(
        `Initial sync of ${d.mapName} failed${reason ? `: ${reason}` : ""}. ${results.length > 0 ? `Per legal entity: ${describeResults(results)}.` : ""} The map is ${after ? stateName(after.state) : "gone"}; fix the errors (for unresolved lookups: sync the prerequisite maps first), then run pulumi up again to re-run it.`,
        "InitialSyncFailed",
        { cause: failure },
      );
    }
    ctx.log(
      `Initial sync of ${d.mapName} finished: ${describeResults(results) || "no legal entity reported"}`,
    );
    return { requestId, results };
  });
}

/** InitialSyncRun's lifecycle. */
export const initialSyncRunLifecycle: Lifecycle<InitialSyncRunInputs, InitialSyncRunOutputs> = {
  resource: RESOURCE,

  async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
    const olds = oldInputs as Readonly<Record<string, unknown>>;
    const news = newInputs as Readonly<Record<string, unknown>>;
    const { list, unknown } = collectPropertyFailures(RESOURCE, initialSyncRunSchemas, news);
    if (!list.empty) return list.toArray();
    const inputs = news as unknown as InitialSyncRunInputs;
    const previous = olds as Partial<InitialSyncRunInputs>;
    if (
      previous.mapName !== undefined &&
      REPLACE_ON_CHANGE.every((k) => deepEqual(previous[k], inputs[k]))
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
    await preflight(d, ctx.clients(d), list, ctx);
    return list.toArray();
  },

  diff(_id, olds, declared): Promise<DiffOutcome> {
    const news = settleDerived(olds, declared, DERIVED);
    const replaces = REPLACE_ON_CHANGE.filter((k) => {
      if (news[k] === UNKNOWN) return true;
      if (k === "financeOperationsUrl" || k === "dataverseUrl")
        return !sameUrl(String(olds[k]), String(news[k]));
      return !deepEqual(olds[k], news[k]);
    });
    // The link's legal entities matter only to a run that has not happened: a recorded run
    // stays as it was when the link changes later, so that alone is no change.
    return Promise.resolve({
      changes: replaces.length > 0,
      replaces: [...replaces],
      reasons: replaces.map((k) => `${k} changes: the initial sync runs again`),
    });
  },

  async create(inputs, ctx) {
    const d = validInputs(inputs);
    const c = ctx.clients(d);
    const failures = new FailureList();
    const measured = await preflight(d, c, failures, ctx);
    if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
    const { requestId, results } = await runInitialSync(d, d.legalEntities, c, ctx);
    return {
      id: requestId,
      outs: {
        ...inputs,
        requestId,
        status: "Succeeded",
        results,
        measuredCounts: measured,
        finishedAt: new Date().toISOString(),
      },
    };
  },

  async read(id, props, ctx): Promise<ReadOutcome<InitialSyncRunOutputs>> {
    // A run is history: it stays as recorded; only its results are refreshed while the map's
    // project still reports them.
    const d = desired(props);
    const c = ctx.clients(d);
    const map = (await c.gateway.listMaps(d.cid, { fresh: true }).catch(() => [])).find(
      (m) => m.tName === d.mapName,
    );
    if (!map?.pid) return { id, props };
    // Only this run's entries: later runs and legal entities it did not cover are not its history.
    const ours = (await c.gateway.initialSyncResults(map.pid)).filter(
      (r) => r.requestId === props.requestId,
    );
    return { id, props: ours.length > 0 ? { ...props, results: ours.map(toResult) } : props };
  },

  update(_id, olds, news) {
    // Only inputs that do not replace changed (the link's default legal entities): the run stays.
    return Promise.resolve({
      ...olds,
      ...news,
      requestId: olds.requestId,
      status: olds.status,
      results: olds.results,
      measuredCounts: olds.measuredCounts,
      finishedAt: olds.finishedAt,
    });
  },

  delete(_id, props, ctx) {
    ctx.log(`InitialSyncRun ${props.mapName}: forgotten (history); synced rows stay`);
    return Promise.resolve();
  },
};
