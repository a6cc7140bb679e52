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
 * the rows it may move. Limits: 500,000 rows per run per legal entity on either side (virtual rows
 * count). Only the first five errors of a leg are kept; `errorCount` counts all of them.
 */
import type { Row } from "../store/tables";
import {
  buildDvIndex,
  companyOfDvRow,
  companyOfFnoRow,
  findDv,
  findFno,
  pushToDataverse,
  pushToFinanceOperations,
  SyncFailure,
  type Adapter,
  type LinkSides,
  type PushResult,
} from "./adapters";
import type { MapSpec } from "./maps";
import { cellText } from "./names";
import type { ImportError, LegalEntityRun, LegRun, Master } from "./state";
import { virtualRowCount } from "./virtualRows";

/** Rows per initial-sync run per legal entity (DW/initial-sync-guidance.md). */
export const maxRowsPerRun = 500_000;

/** Lookups from which a map cannot initial-sync from Dataverse. */
export const maxLookupsFromDataverse = 10;

/** Errors reported per leg. */
const reportedErrors = 5;

/** F&O rows of a company that a map covers, in table order. */
export function fnoRowsOf(adapter: Adapter, sides: LinkSides, company: string): Row[] {
  return sides.fno
    .all(adapter.fnoTable)
    .map((s) => s.row)
    .filter(
      (r) =>
        adapter.fnoFilter(r) &&
        (adapter.scope === "global" || companyOfFnoRow(adapter, r) === company),
    );
}

/** Dataverse rows of a company (stamped with it) that a map covers, in table order. */
export function dvRowsOf(adapter: Adapter, sides: LinkSides, company: string): Row[] {
  return sides.dv
    .all(adapter.dvTable)
    .map((s) => s.row)
    .filter(
      (r) =>
        adapter.dvFilter(r) &&
        (adapter.scope === "global" || companyOfDvRow(adapter, r, sides.dv) === company),
    );
}

/** Dataverse rows of a scale map (no adapter) stamped with a company, or all for a global map. */
function scaleDvRowCount(spec: MapSpec, sides: LinkSides, company: string): number {
  const companyLookup = spec.integrationKeys
    .find((k) => k.endsWith(".cdm_companycode"))
    ?.split(".")[0];
  const rows = sides.dv.all(spec.dataverseEntitySet);
  if (!companyLookup) return rows.length;
  const companyId = sides.dv
    .all("cdm_companies")
    .find((c) => cellText(c.row.cdm_companycode).toUpperCase() === company)?.row.cdm_companyid;
  if (companyId === undefined) return 0;
  return rows.filter(
    (r) =>
      cellText(r.row[`_${companyLookup}_value`]).toLowerCase() ===
      cellText(companyId).toLowerCase(),
  ).length;
}

function newLeg(
  direction: LegRun["direction"],
  status: LegRun["status"],
  virtualTotal: number,
): LegRun {
  return {
    direction,
    status,
    importErrors: [],
    errorCount: 0,
    processed: 0,
    virtualDone: 0,
    virtualTotal,
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
  const table = adapter?.fnoTable;
  const fnoVirtual = table ? virtualRowCount(sides.fno, table, company) : 0;
  const dvVirtual = virtualRowCount(sides.dv, spec.dataverseEntitySet, company);
  const fnoCount = (adapter ? fnoRowsOf(adapter, sides, company).length : 0) + fnoVirtual;
  const dvCount =
    (adapter ? dvRowsOf(adapter, sides, company).length : scaleDvRowCount(spec, sides, company)) +
    dvVirtual;
  const run: LegalEntityRun = {
    legalEntityName: company,
    executionStatus: "Running",
    initialSyncRequestId: requestId,
    upsertCount: 0,
    errorCount: 0,
    totalCount: fnoCount + dvCount,
    legs: [
      newLeg("FinanceOperationsToDataverse", "IMPORTING", fnoVirtual),
      newLeg("DataverseToFinanceOperations", "EXPORTING", dvVirtual),
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
  const indexed: LinkSides | undefined = adapter
    ? { ...sides, dvIndex: buildDvIndex(adapter, sides.dv) }
    : undefined;
  const [toDv, toFno] = run.legs as [LegRun, LegRun];

  if (!toDv.done) {
    toDv.status = "IMPORTING";
    const source = adapter && indexed ? fnoRowsOf(adapter, indexed, company) : [];
    while (budget > 0 && toDv.processed < source.length) {
      const row = source[toDv.processed] as Row;
      toDv.processed++;
      budget--;
      try {
        const other =
          master === "CRM" && adapter && indexed
            ? findDv(adapter, indexed, company, row[adapter.fnoKey])
            : undefined;
        const result =
          other && adapter && indexed
            ? pushToFinanceOperations(adapter, indexed, other.row)
            : pushToDataverse(adapter as Adapter, indexed as LinkSides, row);
        if (counts(result)) run.upsertCount++;
      } catch (e) {
        recordFailure(toDv, adapter ? row[adapter.fnoKey] : "", e);
      }
    }
    const virtual = Math.min(budget, toDv.virtualTotal - toDv.virtualDone);
    toDv.virtualDone += virtual;
    run.upsertCount += virtual;
    budget -= virtual;
    if (toDv.processed >= source.length && toDv.virtualDone >= toDv.virtualTotal) {
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
          `5 Attempts to get data from ${sides.baseUrl}/dataverse/${sides.org}/api/data/v9.2/${spec.dataverseEntitySet} Failed. ` +
          `The map has ${spec.lookupCount} lookups; maps with ${maxLookupsFromDataverse} or more lookups cannot initial-sync from Dataverse.`,
      });
      toFno.done = true;
    } else {
      const source = adapter && indexed ? dvRowsOf(adapter, indexed, company) : [];
      const scaleRows = adapter ? 0 : scaleDvRowCount(spec, sides, company);
      const total = adapter ? source.length : scaleRows;
      while (budget > 0 && toFno.processed < total) {
        const row = source[toFno.processed];
        toFno.processed++;
        budget--;
        if (!adapter || !indexed || !row) {
          run.upsertCount++;
          continue;
        }
        try {
          if (findFno(adapter, indexed, company, row[adapter.dvKey])) continue;
          if (counts(pushToFinanceOperations(adapter, indexed, row))) run.upsertCount++;
        } catch (e) {
          recordFailure(toFno, row[adapter.dvIdColumn], e);
        }
      }
      const virtual = Math.min(budget, toFno.virtualTotal - toFno.virtualDone);
      toFno.virtualDone += virtual;
      run.upsertCount += virtual;
      budget -= virtual;
      if (toFno.processed >= total && toFno.virtualDone >= toFno.virtualTotal) toFno.done = true;
    }
    if (toFno.done) toFno.status = toFno.errorCount > 0 ? "ERROR" : "DONE";
  }

  run.errorCount = toDv.errorCount + toFno.errorCount;
  if (toDv.done && toFno.done) finish(run, sides.now);
  return rows - budget;
}

/** The gateway's view of a run (`projectExecutionResponses[]` item). */
export function runView(run: LegalEntityRun): unknown {
  return {
    legalEntityName: run.legalEntityName,
    executionStatus: run.executionStatus,
    initialSyncRequestId: run.initialSyncRequestId,
    upsertCount: run.upsertCount,
    errorCount: run.errorCount,
    totalCount: run.totalCount,
    taskExecutionStatuses: [
      {
        isRunning: run.executionStatus === "Running",
        legs: run.legs.map((l) => ({
          direction: l.direction,
          status: l.status,
          importErrors: l.importErrors.map((e) => ({ ...e })),
        })),
      },
    ],
  };
}

/** A run that has not happened for a legal entity. */
export function notStartedView(company: string): unknown {
  return {
    legalEntityName: company,
    executionStatus: "NotStarted",
    initialSyncRequestId: null,
    upsertCount: 0,
    errorCount: 0,
    totalCount: 0,
    taskExecutionStatuses: [],
  };
}
