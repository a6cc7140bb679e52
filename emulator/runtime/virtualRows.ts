/**
 * Virtual rows: a count of rows a table is said to hold beyond the rows actually stored.
 *
 * The data-volume rules (500,000 rows per initial-sync run per legal entity) must be testable
 * without storing half a million rows. A test or seed sets a virtual count on a table (per
 * company); the runtime's limit check and initial-sync progress add it to the real rows, and the
 * F&O surface adds it to `$count`. Virtual rows cannot be read, filtered or changed — only counted.
 * The counts hang off the `TableSet` object; the runtime persists them and puts them back on
 * `attach` after a restore.
 */
import type { TableSet } from "../store/tables";

const counts = new WeakMap<TableSet, Map<string, number>>();

function slot(table: string, company: string): string {
  return `${table}\u0001${company.toUpperCase()}`;
}

/**
 * Virtual rows of `table` in `set`. `company` is an F&O company code (any case) for company
 * tables, `""` for a global table; omit it for the total over all companies (F&O
 * `cross-company=true`, or an unfiltered Dataverse `$count`).
 */
export function virtualRowCount(set: TableSet, table: string, company?: string): number {
  const perSet = counts.get(set);
  if (!perSet) return 0;
  if (company !== undefined) return perSet.get(slot(table, company)) ?? 0;
  let total = 0;
  for (const [k, v] of perSet) if (k.startsWith(`${table}\u0001`)) total += v;
  return total;
}

/** Sets (count > 0) or clears (count 0) the virtual rows of a table for a company. */
export function setVirtualRowCount(
  set: TableSet,
  table: string,
  company: string,
  count: number,
): void {
  let perSet = counts.get(set);
  if (!perSet) {
    perSet = new Map();
    counts.set(set, perSet);
  }
  if (count > 0) perSet.set(slot(table, company), count);
  else perSet.delete(slot(table, company));
}
