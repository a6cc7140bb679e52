/**
 * The counts `RetrieveTotalRecordCount` answers: "a snapshot within the past 24 hours of the total
 * number of rows for a table" ("Count rows using OData",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows), not a
 * live count. When Dataverse takes its snapshots is not documented [choice]: the emulator takes a
 * table's snapshot the first time it is asked for and keeps it for 24 hours of emulated time, so a
 * client sees rows written since then only a day later, as it may against a real environment.
 */
import type { TableSet } from "../store/tables";

/** How long a snapshot is answered before it is taken again. */
export const RECORD_COUNT_SNAPSHOT_MS = 24 * 60 * 60 * 1000;

const snapshots = new WeakMap<TableSet, Map<string, { count: number; takenAt: number }>>();

/**
 * The snapshot count of `set` at emulated time `now`; `live` counts the table when a snapshot is
 * (re)taken.
 */
export function snapshotRecordCount(
  tables: TableSet,
  set: string,
  now: number,
  live: () => number,
): number {
  let perSet = snapshots.get(tables);
  if (!perSet)
    snapshots.set(tables, (perSet = new Map<string, { count: number; takenAt: number }>()));
  const taken = perSet.get(set);
  if (taken && now - taken.takenAt < RECORD_COUNT_SNAPSHOT_MS) return taken.count;
  const count = live();
  perSet.set(set, { count, takenAt: now });
  return count;
}
