/**
 * Secondary indexes of a table: for a list of columns, the storage keys of the rows that hold
 * each combination of values, in storage-key order (a {@link SortedKeys} per combination).
 *
 * They serve equality filters (`_msdyn_company_value eq <id>`, `dataAreaId eq 'usmf'`,
 * `accountnumber eq 'A-1' and _msdyn_company_value eq <id>`), counts of such filters in O(1), and
 * pages of them in key order from a paging cookie, without reading the rest of the table.
 *
 * Values are compared as the filter evaluator compares them for text (`odata/query/nodes.ts`
 * `equals`): without regard to case; `null` and a missing column are one value, equal only to
 * `null`. [choice] Numbers and booleans are indexed as their text, so `3` and `'3'` meet, but a
 * number and a differently written numeric text (`3` and `'03'`, which the evaluator calls equal)
 * do not: the indexed columns hold GUIDs, codes and option values, never such texts.
 */
import { SortedKeys } from "./sortedKeys";

/** Index entry text of a null or missing value. */
const NULL_VALUE = "\u0000null";

/**
 * `text` in lower case — the same string when it is lower case already, so that keys and index
 * entries share the row's own string instead of holding a copy (a million rows, a million
 * copies saved).
 */
export function lowerCase(text: string): string {
  const lower = text.toLowerCase();
  return lower === text ? text : lower;
}

/** The text one value is indexed under. */
export function indexValue(value: unknown): string {
  if (value === null || value === undefined) return NULL_VALUE;
  if (typeof value === "string") return lowerCase(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return lowerCase(JSON.stringify(value) ?? "");
}

/** The text a combination of values is indexed under (values in the index's column order). */
export function indexTuple(values: readonly unknown[]): string {
  return values.length === 1 ? indexValue(values[0]) : values.map(indexValue).join("\u0001");
}

/**
 * A non-unique index over `columns`. An index value held by one row keeps just that row's key
 * (indexes over nearly unique columns, such as account numbers, cost one map entry per row); a
 * second row turns it into a {@link SortedKeys}.
 */
export class EqualityIndex {
  private readonly buckets = new Map<string, string | SortedKeys>();

  constructor(readonly columns: readonly string[]) {}

  /** Index text of a row's values for this index's columns. */
  tupleOf(row: Readonly<Record<string, unknown>>): string {
    const columns = this.columns;
    let tuple = indexValue(row[columns[0] as string]);
    for (let i = 1; i < columns.length; i++)
      tuple += `\u0001${indexValue(row[columns[i] as string])}`;
    return tuple;
  }

  /** Records the row stored under `key`. */
  add(key: string, row: Readonly<Record<string, unknown>>): void {
    const tuple = this.tupleOf(row);
    const bucket = this.buckets.get(tuple);
    if (bucket === undefined) this.buckets.set(tuple, key);
    else if (typeof bucket === "string") {
      const keys = new SortedKeys();
      keys.add(bucket);
      keys.add(key);
      this.buckets.set(tuple, keys);
    } else bucket.add(key);
  }

  /** Forgets the row stored under `key` (with the values it was recorded with). */
  remove(key: string, row: Readonly<Record<string, unknown>>): void {
    const tuple = this.tupleOf(row);
    const bucket = this.buckets.get(tuple);
    if (bucket === undefined) return;
    if (typeof bucket === "string") {
      if (bucket === key) this.buckets.delete(tuple);
      return;
    }
    bucket.delete(key);
    if (bucket.size === 0) this.buckets.delete(tuple);
  }

  /** Whether a write from `before` to `after` changes this index's entry of the row. */
  changes(
    before: Readonly<Record<string, unknown>>,
    after: Readonly<Record<string, unknown>>,
  ): boolean {
    return this.tupleOf(before) !== this.tupleOf(after);
  }

  /**
   * The storage keys of the rows holding `values` (in column order), in key order: a
   * {@link SortedKeys}, one key, or undefined for none.
   */
  bucket(values: readonly unknown[]): SortedKeys | string | undefined {
    return this.buckets.get(indexTuple(values));
  }
}
