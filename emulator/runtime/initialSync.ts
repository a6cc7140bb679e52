/**
 * Initial sync of one map for one legal entity (DW/initial-sync-guidance.md): a full push both
 * ways, run per legal entity, with the master deciding rows that exist on both sides. Two legs:
 *
 *  1. F&O → Dataverse: every F&O row of the company; when the row also exists in Dataverse and
 *     the master is Dataverse (`CRM`), Dataverse's values are written to F&O instead.
 *  2. Dataverse → F&O: every Dataverse row of the company that has no F&O counterpart yet.
 *     Maps with 10 or more lookups fail this leg, as the real service does.
 *
 * Rows move at `jobRowsPerSecond` per legal entity; the runtime calls `advanceRun` on a timer with
 * the rows it may move. Each leg walks its source rows in storage-key order through the store's
 * indexes (`sourceRows`: one company's rows of the map, never the whole table) and keeps the key
 * of the last row it moved as its cursor, so a tick reads only the rows it moves, at any volume.
 * Rows created behind the cursor while a run goes on are left to live sync [choice: the guidance
 * does not say which rows a running export sees]. Limits: 500,000 rows per run per legal entity on
 * either side, counted from the indexes. Only the first five errors of a leg are kept;
 * `errorCount` counts all of them.
 */
import type { StoredRow } from "../store/tables";
import {
  companyRow,
  equalityRows,
  findDv,
  findFno,
  pushToDataverse,
  pushToFinanceOperations,
  sourceRows,
  SyncFailure,
  type Adapter,
  type LinkSides,
  type PushResult,
} from "./adapters";
import { guidFrom } from "./ids";
import type { MapSpec } from "./maps";
import { cellText } from "./names";
import type { ImportError, LegalEntityRun, LegRun, Master } from "./state";

/** Rows per initial-sync run per legal entity (DW/initial-sync-guidance.md). */
export const maxRowsPerRun = 500_000;

/** Lookups from which a map cannot initial-sync from Dataverse. */
export const maxLookupsFromDataverse = 10;

/** Errors reported per leg. */
const reportedErrors = 5;

/**
 * Dataverse rows of a scale map (no adapter) stamped with a company, or all for a global map:
 * the size of one index entry (the company lookup is indexed).
 */
function scaleDvRowCount(spec: MapSpec, sides: LinkSides, company: string): number {
  const companyLookup = spec.integrationKeys
    .find((k) => k.endsWith(".cdm_companycode"))
    ?.split(".")[0];
  if (!companyLookup) return sides.dv.count(spec.dataverseEntitySet);
  const companyId = companyRow(sides.dv, company)?.row.cdm_companyid;
  if (companyId === undefined) return 0;
  return equalityRows(sides.dv, spec.dataverseEntitySet, {
    [`_${companyLookup}_value`]: companyId,
  }).count();
}

function newLeg(direction: LegRun["direction"], status: LegRun["status"]): LegRun {
  return {
    direction,
    status,
    importErrors: [],
    errorCount: 0,
    processed: 0,
    cursor: null,
    inserted: 0,
    updated: 0,
    done: false,
  };
}

function addError(leg: LegRun, error: ImportError): void {
  leg.errorCount++;
  if (leg.importErrors.length < reportedErrors) leg.importErrors.push(error);
}

/**
 * Starts the run of one legal entity: counts both sides, applies the row limit, and returns the
 * run record (already Failed when a limit is exceeded).
 */
export function planRun(
  spec: MapSpec,
  adapter: Adapter | undefined,
  sides: LinkSides,
  company: string,
  requestId: string,
): LegalEntityRun {
  const fnoCount = adapter ? sourceRows(adapter, "fno", sides, company).count() : 0;
  const dvCount = adapter
    ? sourceRows(adapter, "dataverse", sides, company).count()
    : scaleDvRowCount(spec, sides, company);
  const run: LegalEntityRun = {
    legalEntityName: company,
    executionStatus: "Running",
    initialSyncRequestId: requestId,
    upsertCount: 0,
    errorCount: 0,
    totalCount: fnoCount + dvCount,
    legs: [
      newLeg("FinanceOperationsToDataverse", "IMPORTING"),
      newLeg("DataverseToFinanceOperations", "EXPORTING"),
    ],
    startedAt: sides.now,
    finishedAt: null,
    budget: 0,
  };
  const over = [
    [fnoCount, adapter?.fnoTable ?? spec.financeOperationsEntity, 0],
    [dvCount, spec.dataverseEntitySet, 1],
  ] as const;
  for (const [count, what, legIndex] of over) {
    if (count <= maxRowsPerRun) continue;
    const leg = run.legs[legIndex] as LegRun;
    addError(leg, {
      recordId: "",
      sourceField: "",
      errorMessage:
        `${count} rows of ${what} for legal entity ${company} exceed the limit of ${maxRowsPerRun} rows per initial ` +
        `synchronization run per legal entity. Load each side separately (data management packages), then run the map with initial sync skipped.`,
    });
  }
  if (run.legs.some((l) => l.errorCount > 0)) finish(run, sides.now);
  return run;
}

function finish(run: LegalEntityRun, now: number): void {
  for (const leg of run.legs) {
    leg.done = true;
    leg.status = leg.errorCount > 0 ? "ERROR" : "DONE";
  }
  run.errorCount = run.legs.reduce((n, l) => n + l.errorCount, 0);
  run.executionStatus = run.errorCount > 0 ? "Failed" : "Succeeded";
  run.finishedAt = now;
}

function recordFailure(leg: LegRun, recordId: unknown, e: unknown): void {
  addError(leg, {
    recordId: cellText(recordId),
    sourceField: e instanceof SyncFailure ? e.sourceField : "",
    errorMessage: e instanceof Error ? e.message : String(e),
  });
}

function counts(result: PushResult): boolean {
  return result !== "skipped";
}

/** Counts a push on the run and on the leg that made it. */
function tally(run: LegalEntityRun, leg: LegRun, result: PushResult): void {
  if (!counts(result)) return;
  run.upsertCount++;
  if (result === "created") leg.inserted++;
  else leg.updated++;
}

/**
 * The next `budget` source rows of a leg, after its cursor. Read before any of them is moved, so
 * that the writes of the move never change an index being walked. Fewer than `budget` rows means
 * the leg has reached its end.
 */
function nextRows(
  source: ReturnType<typeof sourceRows>,
  leg: LegRun,
  budget: number,
): Array<[string, StoredRow]> {
  const out: Array<[string, StoredRow]> = [];
  if (budget <= 0) return out;
  for (const entry of source.rows(leg.cursor ?? undefined)) {
    out.push(entry);
    if (out.length >= budget) break;
  }
  return out;
}

/**
 * Moves up to `rows` rows of a run. Returns how many it used. Marks the run finished when both
 * legs are done.
 */
export function advanceRun(
  run: LegalEntityRun,
  spec: MapSpec,
  adapter: Adapter | undefined,
  master: Master,
  sides: LinkSides,
  rows: number,
): number {
  if (run.executionStatus !== "Running") return 0;
  let budget = rows;
  const company = run.legalEntityName;
  const [toDv, toFno] = run.legs as [LegRun, LegRun];

  if (!toDv.done) {
    toDv.status = "IMPORTING";
    const batch = adapter ? nextRows(sourceRows(adapter, "fno", sides, company), toDv, budget) : [];
    for (const [key, stored] of batch) {
      const row = stored.row;
      toDv.processed++;
      toDv.cursor = key;
      budget--;
      try {
        const a = adapter as Adapter;
        const other = master === "CRM" ? findDv(a, sides, company, row[a.fnoKey]) : undefined;
        const result = other
          ? pushToFinanceOperations(a, sides, other.row)
          : pushToDataverse(a, sides, row);
        tally(run, toDv, result);
      } catch (e) {
        recordFailure(toDv, adapter ? row[adapter.fnoKey] : "", e);
      }
    }
    if (budget > 0) {
      toDv.done = true;
      toDv.status = toDv.errorCount > 0 ? "ERROR" : "DONE";
    }
  }

  if (toDv.done && !toFno.done && budget > 0) {
    toFno.status = "IMPORTING";
    if (spec.lookupCount >= maxLookupsFromDataverse) {
      // The real service fails the Dataverse export of such maps (DW/initial-sync-guidance.md).
      addError(toFno, {
        recordId: "",
        sourceField: "",
        errorMessage:
          `5 Attempts to get data from ${sides.dataverseUrl}/api/data/v9.2/${spec.dataverseEntitySet} Failed. ` +
          `The map has ${spec.lookupCount} lookups; maps with ${maxLookupsFromDataverse} or more lookups cannot initial-sync from Dataverse.`,
      });
      toFno.done = true;
    } else if (!adapter) {
      // A scale map moves nothing the emulator models: its rows are counted as created.
      const moved = Math.min(budget, scaleDvRowCount(spec, sides, company) - toFno.processed);
      toFno.processed += moved;
      toFno.inserted += moved;
      run.upsertCount += moved;
      budget -= moved;
      if (budget > 0) toFno.done = true;
    } else {
      const batch = nextRows(sourceRows(adapter, "dataverse", sides, company), toFno, budget);
      for (const [key, stored] of batch) {
        const row = stored.row;
        toFno.processed++;
        toFno.cursor = key;
        budget--;
        try {
          if (findFno(adapter, sides, company, row[adapter.dvKey])) continue;
          tally(run, toFno, pushToFinanceOperations(adapter, sides, row));
        } catch (e) {
          recordFailure(toFno, row[adapter.dvIdColumn], e);
        }
      }
      if (budget > 0) toFno.done = true;
    }
    if (toFno.done) toFno.status = toFno.errorCount > 0 ? "ERROR" : "DONE";
  }

  run.errorCount = toDv.errorCount + toFno.errorCount;
  if (toDv.done && toFno.done) finish(run, sides.now);
  return rows - budget;
}

/** A run as the control API shows it (`GET /_emulator/maps`, `/jobs`). */
export function runView(run: LegalEntityRun): unknown {
  return {
    legalEntityName: run.legalEntityName,
    executionStatus: run.executionStatus,
    initialSyncRequestId: run.initialSyncRequestId,
    upsertCount: run.upsertCount,
    errorCount: run.errorCount,
    totalCount: run.totalCount,
    legs: run.legs.map((l) => ({
      direction: l.direction,
      status: l.status,
      inserted: l.inserted,
      updated: l.updated,
      errorCount: l.errorCount,
      importErrors: l.importErrors.map((e) => ({ ...e })),
    })),
  };
}

/** What the gateway's view of a run needs besides the run. */
export interface ExecutionContext {
  /** The map's project name and its name (`tName`). */
  readonly projectName: string;
  readonly mapName: string;
  /** The Dataverse `cdm_companyid` of a legal entity code, if the company exists. */
  readonly companyId: (code: string) => string | undefined;
}

/** [choice] Display names of the two legs; the tool only logs them. */
const legDisplayNames: Record<LegRun["direction"], string> = {
  FinanceOperationsToDataverse: "Finance and Operations apps to Dataverse",
  DataverseToFinanceOperations: "Dataverse to Finance and Operations apps",
};

/**
 * A run as `GET /api/ProjectExecutionWithCompanies/<pid>` lists it
 * (DWLibary/Struct/InitialSyncDetails.cs:28-91). The tool logs these and never compares
 * `executionStatus` (DWLibary/Engines/DWMapEngine.cs:1593-1631); the words are the emulator's.
 */
export function executionView(run: LegalEntityRun, context: ExecutionContext): unknown {
  const started = new Date(run.startedAt).toISOString();
  const changed = new Date(run.finishedAt ?? run.startedAt).toISOString();
  const id = guidFrom("execution", run.initialSyncRequestId, run.legalEntityName);
  return {
    responseId: id,
    displayName: context.mapName,
    projectName: context.projectName,
    legalEntityName: run.legalEntityName,
    legalEntityId: context.companyId(run.legalEntityName) ?? "",
    submittedOn: started,
    executionStatus: run.executionStatus,
    lastExecutionStatusChangeOn: changed,
    taskExecutionStatuses: [
      {
        name: context.mapName,
        status: run.executionStatus,
        isRunning: run.executionStatus === "Running",
        legs: run.legs.map((l) => ({
          displayName: legDisplayNames[l.direction],
          status: l.status,
          exportRecordCount: l.processed,
          importRecordsInsertedCount: l.inserted,
          importRecordsUpdatedCount: l.updated,
          importRecordsErrorCount: l.errorCount,
          importErrors: l.importErrors.map((e) => ({ ...e })),
          exportErrors: [],
        })),
      },
    ],
    initialSyncRequestId: run.initialSyncRequestId,
    id,
    upsertCount: run.upsertCount,
    errorCount: run.errorCount,
    createdDateTime: started,
  };
}
