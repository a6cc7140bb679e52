/**
 * One initial sync of one map, shared by the two resources that start one: an EntityMapBinding
 * declared with `initialSync` (its map's start from Stopped is the initial sync, as Microsoft's
 * tool starts a map configured with initial sync) and an InitialSyncRun (a sync run again on
 * purpose). Both check Microsoft's data-volume rules first, against counts read from both
 * environments, and both start the sync the same way.
 *
 * The gateway's initial sync is a start: `POST Start` action "1" with `skipInitialSync: false`
 * and `conflictResolution {option:"1", master}`, from Stopped, after a table refresh
 * (DWMapEngine.cs:1212-1230, 1423-1476). It carries no legal-entity list, so a sync covers every
 * legal entity of the link: the data-volume rules count them all, and a declared `legalEntities`
 * only selects the results reported (each must be on the link). Success is the request's state
 * and the map's state afterwards (DWMapEngine.cs:1237-1297); the per-company `executionStatus` is
 * reported as text, never compared.
 */
import { CancelledError, DualWriteError, TimeoutError } from "../../errors";
import {
  MapAction,
  MapState,
  RequestState,
  type GatewayMap,
  type LastRequest,
  type LegalEntitySyncResult,
} from "../../clients/gateway";
import { findCatalogMap, mapDataLocation } from "../../scenario/catalog";
import {
  MAX_DATAVERSE_TO_FO_ROWS,
  MAX_LEGAL_ENTITIES_PER_RUN,
  MAX_LOOKUPS_FROM_DATAVERSE,
  MAX_ROWS_PER_LEGAL_ENTITY,
  type LegalEntityRunResult,
  type Master,
  type MeasuredCounts,
} from "../initialSyncRun/initialSyncRun.schema";
import { companyColumnOf, companyIds } from "./companies";
import type { FailureList } from "./failures";
import type { Clients, HandlerContext } from "./handler";
import { ensureInitialized, findMap, stateName } from "./maps";

/** What one initial sync is about. */
export interface SyncSpec {
  /** The F&O environment id (`cid`); may be unknown (empty) in a check. */
  readonly cid: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly mapName: string;
  readonly master: Master;
  /** Whose results are reported, upper case. Undefined = every legal entity of the sync. */
  readonly reported: readonly string[] | undefined;
  /** The link's legal entities as the connection gives them, when known. */
  readonly linked: readonly string[] | undefined;
}

/** How a pre-flight refusal names the inputs and says how to skip the sync. */
export interface PreflightWording {
  /** The property that lists the legal entities whose results are reported. */
  readonly legalEntitiesProperty: string;
  /** The property a volume refusal is reported on. */
  readonly volumeProperty: string;
  /** How to do without this initial sync, ending the advice. */
  readonly howToSkip: string;
}

/** The key of counts of tables that are not per company. */
const ALL_COMPANIES = "(all companies)";

/** Where the run's legal entities come from. */
type LegalEntityBasis = "link" | "environment";

/**
 * The legal entities a run covers: a start carries no legal-entity list, so it covers the
 * link's — as the connection declares them, or, in a preview, as the gateway shows them; before
 * the link exists, every legal entity of F&O (the most a link can cover, so the volume rules are
 * not skipped in a first preview).
 */
async function runLegalEntities(
  d: SyncSpec,
  c: Clients,
): Promise<{ codes: string[]; basis: LegalEntityBasis }> {
  if (d.linked) return { codes: [...d.linked], basis: "link" };
  const link = await c.gateway.findLink(d.financeOperationsUrl);
  if (link?.set)
    return { codes: link.legalEntities.map((code) => code.toUpperCase()), basis: "link" };
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
export async function preflight(
  d: SyncSpec,
  c: Clients,
  failures: FailureList,
  ctx: HandlerContext,
  wording: PreflightWording,
): Promise<MeasuredCounts> {
  const counts: MeasuredCounts = { financeOperations: {}, dataverse: {} };
  const { codes: les, basis } = await runLegalEntities(d, c);
  // Before the link exists the run's legal entities are not known yet: every legal entity of F&O
  // is counted (the most the link can hold), but the 40 rule waits for the real list.
  if (basis === "link" && les.length > MAX_LEGAL_ENTITIES_PER_RUN) {
    failures.add(
      wording.legalEntitiesProperty,
      `The initial sync of ${d.mapName} would cover the link's ${les.length} legal entities (a start covers every legal entity of the link); dual-write syncs at most ${MAX_LEGAL_ENTITIES_PER_RUN} per run. Link at most ${MAX_LEGAL_ENTITIES_PER_RUN} legal entities (the DualWriteConnection's legalEntities), or load the data another way and start the map with initial sync skipped.`,
    );
    return counts;
  }
  const outside = basis === "link" ? (d.reported ?? []).filter((le) => !les.includes(le)) : [];
  if (outside.length > 0) {
    failures.add(
      wording.legalEntitiesProperty,
      `${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not on the link (it has ${les.join(", ") || "none"}). An initial sync covers the link's legal entities, and legalEntities here only selects whose results are reported: add ${outside.length === 1 ? "it" : "them"} to the DualWriteConnection's legalEntities, or remove ${outside.length === 1 ? "it" : "them"} here.`,
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

  const advice = `Load each side separately instead (data management packages in F&O, import in Dataverse), then run the map with initial sync skipped: ${wording.howToSkip}.`;
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
      wording.volumeProperty,
      `Initial sync of ${d.mapName} refused: ${problems.join("; ")} (exact counts).${basis === "environment" ? " (The link is not made yet, so every legal entity of F&O was counted; a run covers the link's legal entities, so declaring the DualWriteConnection's legalEntities counts only those.)" : ""} ${advice}`,
    );
  return counts;
}

/** How many lookup columns the map's field mapping has (dotted Dataverse paths), when the map exists. */
async function lookupCount(d: SyncSpec, c: Clients): Promise<number | undefined> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
  if (!env) return undefined;
  const map = findMap(await c.gateway.listMaps(env.cid), d.mapName);
  if (!map?.pid) return undefined;
  const { legs } = await c.gateway.fieldMappings(map.pid);
  const lookups = new Set<string>();
  for (const leg of legs) {
    for (const f of leg.fieldMappings) {
      for (const field of [f.sourceField, f.destinationField])
        if (field.includes(".")) lookups.add(field.split(".")[0] ?? field);
    }
  }
  return lookups.size;
}

/** A gateway result as the resources record it. */
export function toResult(r: LegalEntitySyncResult): LegalEntityRunResult {
  return {
    legalEntity: r.legalEntity,
    status: r.executionStatus,
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

/** "USMF Succeeded: 5,000 upserted, 0 errors; …" */
export function describeResults(results: readonly LegalEntityRunResult[]): string {
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
  d: SyncSpec,
  pid: string,
  running: ProgressStop,
): Promise<void> {
  const mapName = d.mapName;
  let last = "";
  while (!running.done) {
    await running.wait(ctx.options.progressIntervalMs);
    if (running.done) break;
    try {
      const results = (await c.gateway.initialSyncResults(pid)).filter((r) =>
        reports(d, r.legalEntity),
      );
      const line = results
        .map(
          (r) =>
            `${r.legalEntity} ${r.executionStatus} ${fmt(r.upserted)}/${fmt(r.total)} rows${r.errors > 0 ? `, ${fmt(r.errors)} errors` : ""}`,
        )
        .join("; ");
      if (line && line !== last) ctx.log(`Initial sync of ${mapName}: ${line}`);
      last = line;
    } catch {
      // Progress is best effort; the wait itself reports failures.
    }
  }
}

/** Whether results are to be reported for legal entity `code`. */
export function reports(d: SyncSpec, code: string): boolean {
  return !d.reported || d.reported.includes(code.toUpperCase());
}

/** States of a map that has not started. */
const STOPPED_STATES: readonly number[] = [MapState.Stopped, MapState.NotRunning, MapState.None];

/** States of a map whose initial sync ended well: it syncs live. */
const SYNCED: readonly number[] = [MapState.Running, MapState.CatchUp];

/** Where a job stands: still running (or not waited for), or ended well. */
export type SyncStatus = "Running" | "Succeeded";

/** What an initial sync did, or is doing. */
export interface SyncOutcome {
  /** The request id of the `Start` "1" that began the job (its `initialSyncRequestId`). */
  readonly requestId: string;
  /** `Running` when not waited for (or found running and not waited for); `Succeeded`. */
  readonly status: SyncStatus;
  /** Per declared legal entity; empty while the job runs. */
  readonly results: LegalEntityRunResult[];
  /** Whether the job was found at the gateway (started by an earlier, interrupted `up`). */
  readonly adopted: boolean;
  /** When the job was seen ended (ISO 8601); undefined while it runs. */
  readonly finishedAt: string | undefined;
}

/** The last run a resource recorded: what a later run is compared with. */
export interface RecordedRun {
  readonly requestId: string;
  /** The status recorded: `Running` when the run was started and not waited for. */
  readonly status: string;
}

/** How one initial sync is to be run. */
export interface SyncRunOptions {
  /**
   * The last run recorded — by this resource, or for a new InitialSyncRun by its map's binding. A
   * finished run newer than it is adopted; one recorded `Running` is collected.
   */
  readonly recorded: RecordedRun | undefined;
  /** Wait until the map leaves InitialSync (the default), or return once the job has started. */
  readonly wait: boolean;
}

/** A job found at the gateway for a map, that a new start would repeat. */
interface FoundJob {
  readonly requestId: string;
  readonly running: boolean;
}

/** The map's requests, newest first (by `createdOn` where the gateway gives it). */
function newestFirst(map: GatewayMap): LastRequest[] {
  const list = [...map.lastRequests];
  if (list.every((r) => r.createdOn !== undefined))
    list.sort((a, b) => (b.createdOn ?? "").localeCompare(a.createdOn ?? ""));
  return list;
}

function sameRequest(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/**
 * The initial-sync job of a map that starting one would repeat — a start is looked up, not
 * repeated:
 *
 * - **running**: a `Start` "1" the gateway has not finished (`Waiting` in the map's `lastRequests`,
 *   DWMapEngine.cs:1237-1297), or a map in InitialSync (its run's `initialSyncRequestId`);
 * - **finished after the recorded run**: the map's newest request is a `Start` "1" that completed,
 *   is not the recorded run, and is an initial sync (a run of `ProjectExecutionWithCompanies` has
 *   its id as `initialSyncRequestId`), the map runs (a sync that ended well leaves it Running, and
 *   nothing was done to it since), and the run covers the legal entities asked for.
 *
 * A run that failed is never adopted: the next start runs it again, as after a failed `up`.
 */
async function findSyncJob(
  d: SyncSpec,
  c: Clients,
  ctx: HandlerContext,
  map: GatewayMap,
  recorded: string | undefined,
): Promise<FoundJob | undefined> {
  const requests = newestFirst(map);
  const pending = requests.find(
    (r) => r.action === MapAction.Start && r.state === RequestState.Waiting,
  );
  if (pending) return { requestId: pending.requestId, running: true };
  const runs = map.pid ? await c.gateway.initialSyncRuns(map.pid) : [];
  if (map.state === MapState.InitialSync) {
    const latest = runs[0]?.runId;
    if (latest) return { requestId: latest, running: true };
    throw new DualWriteError(
      `Map ${d.mapName} is in InitialSync, but the gateway names no request or run for it; wait until it ends, then run pulumi up again.`,
      "MapInitializing",
    );
  }
  const newest = requests[0];
  if (!newest || newest.action !== MapAction.Start || sameRequest(newest.requestId, recorded))
    return undefined;
  const run = runs.find((r) => sameRequest(r.runId, newest.requestId));
  if (!run) return undefined; // a start with initial sync skipped
  if (newest.state === RequestState.Error) {
    ctx.log(
      `Initial sync of ${d.mapName}: the sync started earlier (request ${newest.requestId}) failed${newest.errorMessage ? `: ${newest.errorMessage}` : ""}; it is not adopted`,
    );
    return undefined;
  }
  if (newest.state !== RequestState.Completed || !SYNCED.includes(map.state)) return undefined;
  const covered = new Set(run.results.map((r) => r.legalEntity.toUpperCase()));
  const missing = (d.reported ?? []).filter((code) => !covered.has(code));
  if (missing.length > 0) {
    ctx.log(
      `Initial sync of ${d.mapName}: the sync found (request ${run.runId}) did not cover ${missing.join(", ")}; it is not adopted`,
    );
    return undefined;
  }
  return { requestId: run.runId, running: false };
}

/** The per-legal-entity results of the run started by `requestId`, as the resources record them. */
async function resultsOf(
  d: SyncSpec,
  c: Clients,
  pid: string,
  requestId: string,
): Promise<LegalEntityRunResult[]> {
  return (await c.gateway.initialSyncResults(pid, requestId))
    .filter((r) => reports(d, r.legalEntity))
    .map(toResult);
}

/**
 * Waits until the job of `requestId` ends — the request stays Waiting until the map leaves
 * InitialSync (DWMapEngine.cs:1237-1297) — printing progress, and returns its results.
 *
 * @throws DualWriteError `InitialSyncFailed` with the first errors per legal entity
 * @throws TimeoutError when it runs longer than the initial-sync timeout (it goes on at the gateway)
 * @throws CancelledError when the provider is cancelled (it goes on at the gateway)
 */
async function awaitSync(
  d: SyncSpec,
  c: Clients,
  ctx: HandlerContext,
  requestId: string,
  pid: string,
): Promise<LegalEntityRunResult[]> {
  const running = new ProgressStop();
  const progress = reportProgress(c, ctx, d, pid, running);
  let failure: unknown;
  try {
    await c.gateway.waitForRequest(requestId, {
      timeoutMs: ctx.options.initialSyncTimeoutMs,
      onProgress: (status) => {
        const state = findMap(status.maps, d.mapName)?.state;
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
  // Neither a timeout nor a cancellation says anything about the job, which goes on.
  if (failure instanceof TimeoutError || failure instanceof CancelledError) throw failure;
  return finishedResults(d, c, requestId, pid, failure);
}

/**
 * The results of an ended job, or the `InitialSyncFailed` error: success is the request's state
 * and the map's state afterwards, never `executionStatus`.
 */
async function finishedResults(
  d: SyncSpec,
  c: Clients,
  requestId: string,
  pid: string,
  failure: unknown,
): Promise<LegalEntityRunResult[]> {
  const after = findMap(await c.gateway.listMaps(d.cid, { fresh: true }), d.mapName);
  const results = await resultsOf(d, c, after?.pid ?? pid, requestId);
  const mapFailed = after === undefined || !SYNCED.includes(after.state);
  if (failure !== undefined || mapFailed) {
    const reason =
      failure instanceof Error
        ? failure.message
        : failure !== undefined
          ? "the wait for it failed"
          : `the map is ${after ? stateName(after.state) : "gone"} afterwards`;
    throw new DualWriteError(
      `Initial sync of ${d.mapName} failed (request ${requestId}): ${reason}. ${results.length > 0 ? `Per legal entity: ${describeResults(results)}.` : ""} The map is ${after ? stateName(after.state) : "gone"}; fix the errors (for unresolved lookups: sync the prerequisite maps first), then run pulumi up again to re-run it.`,
      "InitialSyncFailed",
      { cause: failure },
    );
  }
  return results;
}

/** A job's outcome once it is known to have ended well (or, not waited for, to run). */
function outcome(
  requestId: string,
  adopted: boolean,
  results: LegalEntityRunResult[] | undefined,
): SyncOutcome {
  return results === undefined
    ? { requestId, status: "Running", results: [], adopted, finishedAt: undefined }
    : { requestId, status: "Succeeded", results, adopted, finishedAt: new Date().toISOString() };
}

/**
 * A job already at the gateway that a start would repeat: the run recorded `Running` (collected),
 * one still running, or one finished after the recorded run (see {@link findSyncJob}). Waited for
 * unless `options.wait` is false. Undefined when there is none: the caller starts one. Call it
 * under the map's lock.
 *
 * @throws DualWriteError `InitialSyncFailed` when the job it collects or waits for failed
 */
export async function adoptInitialSync(
  d: SyncSpec,
  c: Clients,
  ctx: HandlerContext,
  map: GatewayMap,
  options: SyncRunOptions,
): Promise<SyncOutcome | undefined> {
  const pid = map.pid ?? "";
  const recorded = options.recorded;
  if (recorded?.status === "Running") {
    // Started by an earlier `up` that did not wait: collect it now.
    const status = await c.gateway.getRequestStatus(recorded.requestId);
    if (status?.state === RequestState.Waiting) {
      ctx.log(
        `Initial sync of ${d.mapName} (request ${recorded.requestId}, started earlier) is still running${options.wait ? ": waiting until it ends" : ""}`,
      );
      if (!options.wait) return outcome(recorded.requestId, true, undefined);
      return outcome(recorded.requestId, true, await awaitSync(d, c, ctx, recorded.requestId, pid));
    }
    if (status !== undefined) {
      const failure =
        status.state === RequestState.Error
          ? new DualWriteError(status.errorMessage ?? "no message given", "RequestFailed")
          : undefined;
      const results = await finishedResults(d, c, recorded.requestId, pid, failure);
      ctx.log(
        `Initial sync of ${d.mapName} (request ${recorded.requestId}) collected: ${describeResults(results) || "no legal entity reported"}`,
      );
      return outcome(recorded.requestId, true, results);
    }
    // The gateway no longer knows the request: look at the map as for any other run.
  }
  const found = await findSyncJob(d, c, ctx, map, recorded?.requestId);
  if (!found) return undefined;
  if (!found.running) {
    const results = await resultsOf(d, c, pid, found.requestId);
    ctx.log(
      `Initial sync of ${d.mapName}: adopting the sync that an earlier pulumi up started (request ${found.requestId}), which has ended: ${describeResults(results) || "no legal entity reported"}`,
    );
    return outcome(found.requestId, true, results);
  }
  ctx.log(
    `Initial sync of ${d.mapName}: a sync started earlier is still running (request ${found.requestId}); it is adopted, not started again${options.wait ? ", and waited for" : ""}`,
  );
  if (!options.wait) return outcome(found.requestId, true, undefined);
  const results = await awaitSync(d, c, ctx, found.requestId, pid);
  // A waiting "1" may have been a start with the sync skipped: then there is no run to adopt.
  const runs = map.pid ? await c.gateway.initialSyncRuns(map.pid) : [];
  if (!runs.some((r) => sameRequest(r.runId, found.requestId))) return undefined;
  ctx.log(
    `Initial sync of ${d.mapName} finished: ${describeResults(results) || "no legal entity reported"}`,
  );
  return outcome(found.requestId, true, results);
}

/**
 * Starts the initial sync of a stopped map as the tool does — give a new map its project, refresh
 * the tables ("always refresh table before running inital sync to make sure all references are
 * set properly", DWMapEngine.cs:1222-1224), then `Start` "1" with `skipInitialSync: false` once —
 * and, unless `wait` is false, waits until the map leaves InitialSync with progress on the console
 * and returns the results per legal entity. Not waited for, it returns once the gateway has the
 * request (status `Running`); a later `up` or `refresh` collects it. Call it under the map's lock,
 * with the map Stopped (or never started), after {@link adoptInitialSync} found nothing.
 *
 * @throws DualWriteError `InitialSyncFailed` with the first errors per legal entity
 */
export async function startInitialSync(
  d: SyncSpec,
  c: Clients,
  ctx: HandlerContext,
  stopped: GatewayMap,
  wait = true,
): Promise<SyncOutcome> {
  const map = await ensureInitialized(c, ctx, d.cid, stopped);
  const pid = map.pid ?? "";
  const { name: project } = await c.gateway.fieldMappings(pid);
  if (project) await c.gateway.refreshTables(project);
  ctx.log(
    `Starting initial sync of ${d.mapName} for the link's legal entities (master: ${d.master})`,
  );
  const requestId = await c.gateway.startAction(MapAction.Start, [
    { tid: map.tid, pid, cid: d.cid, skipInitialSync: false, master: d.master },
  ]);
  if (!wait) {
    // Started is when the gateway has moved the map out of Stopped (into InitialSync), or has
    // already answered the request; a start refused at once fails here, not in a later `up`.
    let ended: boolean;
    try {
      const status = await c.gateway.waitForRequest(requestId, {
        timeoutMs: ctx.options.mapActionTimeoutMs,
        until: (s) => {
          const state = findMap(s.maps, d.mapName)?.state;
          return state !== undefined && !STOPPED_STATES.includes(state);
        },
      });
      ended = status.state === RequestState.Completed;
    } catch (error) {
      if (!(error instanceof DualWriteError && error.code === "RequestFailed")) throw error;
      return outcome(requestId, false, await finishedResults(d, c, requestId, pid, error));
    }
    if (ended)
      return outcome(requestId, false, await finishedResults(d, c, requestId, pid, undefined));
    ctx.log(
      `Initial sync of ${d.mapName} started (request ${requestId}); not waited for (waitForCompletion: false): the next pulumi up or refresh collects its result`,
    );
    return outcome(requestId, false, undefined);
  }
  const results = await awaitSync(d, c, ctx, requestId, pid);
  ctx.log(
    `Initial sync of ${d.mapName} finished: ${describeResults(results) || "no legal entity reported"}`,
  );
  return outcome(requestId, false, results);
}

/**
 * A run recorded `Running`, looked at once without waiting (for `read`): `Running` while it runs,
 * `Succeeded` with its results, `Failed` with the error's text when it failed.
 */
export async function peekRecordedSync(
  d: SyncSpec,
  c: Clients,
  requestId: string,
  pid: string,
): Promise<{
  status: "Running" | "Succeeded" | "Failed";
  results: LegalEntityRunResult[];
  error?: string;
}> {
  const status = await c.gateway.getRequestStatus(requestId);
  if (status === undefined || status.state === RequestState.Waiting)
    return { status: "Running", results: [] };
  try {
    const failure =
      status.state === RequestState.Error
        ? new DualWriteError(status.errorMessage ?? "no message given", "RequestFailed")
        : undefined;
    return { status: "Succeeded", results: await finishedResults(d, c, requestId, pid, failure) };
  } catch (error) {
    return {
      status: "Failed",
      results: await resultsOf(d, c, pid, requestId),
      error: error instanceof Error ? error.message : String(error),
    };
  }
}
