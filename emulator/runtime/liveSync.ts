/**
 * Live sync: while a map is Running, a client's write on one side is copied to the other side
 * inside the same request (the TableSet listener runs before the write commits). A failure on the
 * other side throws, which vetoes the original write — "a failure on one side fails the user's
 * transaction on the other". Writes by the runtime itself (origin "runtime") are never echoed,
 * and seeded rows (origin "seed") are never synced.
 *
 * While a map is Paused (or catching up, or in an initial sync) the change is queued instead and
 * replayed in order later (`replayQueue`).
 *
 * Both happen inside the client's transaction (`store/transaction.ts`): the copy's writes are
 * recorded with the client's, and a queued change is taken off the queue again, so a change set
 * that fails later leaves neither side (nor the queue) changed.
 */
import { EmulatorHttpError } from "../core/http";
import type { Row, WriteEvent } from "../store/tables";
import { currentTransaction } from "../store/transaction";
import {
  adaptersForDvTable,
  adaptersForFnoTable,
  companyOfDvRow,
  companyOfFnoRow,
  deleteInDataverse,
  deleteInFinanceOperations,
  eligible,
  pushToDataverse,
  pushToFinanceOperations,
  type Adapter,
  type LinkSides,
} from "./adapters";
import {
  MapState,
  type CatchUpError,
  type LinkState,
  type MapRuntime,
  type QueuedChange,
} from "./state";
import { DataverseTables } from "../store/schema";
import { cellText } from "./names";

/** At most this many catch-up errors are kept per map. */
export const maxCatchUpErrors = 100;

/** Applies one change of `side` to the other side. Throws what the other side throws. */
export function applyChange(adapter: Adapter, sides: LinkSides, change: QueuedChange): void {
  if (change.side === "fno") {
    if (change.op === "delete") deleteInDataverse(adapter, sides, change.row);
    else pushToDataverse(adapter, sides, change.row);
  } else if (change.op === "delete") {
    deleteInFinanceOperations(adapter, sides, change.row);
  } else {
    pushToFinanceOperations(adapter, sides, change.row);
  }
}

/** The error a vetoed write answers with, in the surface's terms. */
export function liveSyncError(
  adapter: Adapter,
  side: "fno" | "dataverse",
  cause: unknown,
): EmulatorHttpError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (side === "dataverse") {
    // A Dataverse write failed because F&O refused the copy (DW/dual-write-troubleshooting-live-sync.md).
    return new EmulatorHttpError(
      400,
      "0x80040265",
      `Unable to write data to entity ${adapter.dvTable}. Writes to ${adapter.fnoTable} failed with error message ${detail}`,
    );
  }
  const message =
    `Write failed for table row of type '${adapter.fnoTable}'. Infolog: Unable to write data to entity ${adapter.dvTable}. ` +
    `Writes to ${adapter.dvTable} failed with error message Request failed with status code BadRequest and CDS error code : 0x80040265 response message: ${detail}`;
  return new EmulatorHttpError(
    400,
    "DualWriteLiveSyncFailed",
    message,
    {},
    {
      innererror: {
        message,
        type: "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException",
      },
    },
  );
}

/** The row a change is about: the new row, or the old one for a delete. */
function rowOf(event: WriteEvent): Readonly<Row> | undefined {
  return event.op === "delete" ? event.before : event.after;
}

/**
 * Handles a client (or control API) write on a linked side: syncs it for Running maps, queues it for paused or
 * initializing ones, ignores it otherwise. Throws an `EmulatorHttpError` to veto the write.
 */
export function handleClientWrite(link: LinkState, sides: LinkSides, event: WriteEvent): boolean {
  const side = event.kind;
  const row = rowOf(event);
  if (!row) return false;
  let queued = false;
  if (side === "dataverse") guardCompanyOwningTeam(event);
  const candidates =
    side === "fno" ? adaptersForFnoTable(event.table) : adaptersForDvTable(event.table);
  for (const adapter of candidates) {
    const map = link.maps[adapter.map];
    if (!map) continue;
    const matches = side === "fno" ? adapter.fnoFilter(row) : adapter.dvFilter(row);
    if (!matches) continue;
    const company =
      side === "fno" ? companyOfFnoRow(adapter, row) : companyOfDvRow(adapter, row, sides.dv);
    if (!eligible(adapter, company, sides)) continue;
    const change: QueuedChange = { side, op: event.op, row: { ...row }, at: sides.now };
    if (map.state === MapState.Running) {
      try {
        applyChange(adapter, sides, change);
      } catch (e) {
        throw liveSyncError(adapter, side, e);
      }
    } else if (
      map.state === MapState.Paused ||
      map.state === MapState.CatchUp ||
      map.state === MapState.InitialSync
    ) {
      map.queue.push(change);
      // A change of a transaction that is rolled back never happened: take it off the queue.
      currentTransaction()?.onRollback(() => {
        const at = map.queue.lastIndexOf(change);
        if (at >= 0) map.queue.splice(at, 1);
      });
      queued = true;
    }
  }
  return queued;
}

/**
 * Replays a map's queue in order; failures become catch-up errors and do not stop the replay.
 * Changes written while replaying are queued behind and replayed too.
 */
export function replayQueue(map: MapRuntime, adapter: Adapter | undefined, sides: LinkSides): void {
  while (map.queue.length > 0) {
    const change = map.queue.shift() as QueuedChange;
    if (!adapter) continue;
    try {
      applyChange(adapter, sides, change);
    } catch (e) {
      const failure: CatchUpError = {
        at: sides.now,
        side: change.side,
        op: change.op,
        recordId: cellText(change.row[change.side === "fno" ? adapter.fnoKey : adapter.dvIdColumn]),
        errorMessage: e instanceof Error ? e.message : String(e),
      };
      map.catchUpErrors.push(failure);
      if (map.catchUpErrors.length > maxCatchUpErrors) map.catchUpErrors.shift();
    }
  }
}

/**
 * The company's default owning team can be changed but not cleared while the company is enabled
 * (DW/company-data.md); the dual-write plug-in refuses it.
 */
function guardCompanyOwningTeam(event: WriteEvent): void {
  if (event.table !== DataverseTables.companies || event.op !== "update") return;
  const before = event.before ?? {};
  const after = event.after ?? {};
  if (
    after.cdm_isenabledfordualwrite === true &&
    before._cdm_defaultowningteam_value &&
    !after._cdm_defaultowningteam_value
  ) {
    throw new EmulatorHttpError(
      400,
      "0x80040265",
      "The default owning team of a company that is enabled for dual-write can be changed but not cleared.",
    );
  }
}
