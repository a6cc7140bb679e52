/**
 * Reading and counting a Dataverse table as the Web API does.
 *
 * **Order and paging** ("Page results using OData",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results):
 * rows come in `$orderby` order with the primary key as the last sort key (without `$orderby`,
 * by primary key). The `$skiptoken` of `@odata.nextLink` carries a paging cookie naming the last
 * and first row served, by their sort values and primary key — the shape of the cookie in "Count
 * rows using OData" (`<cookie page="1"><accountid last="{…}" first="{…}" /></cookie>`, URL-encoded
 * inside `<cookie pagenumber="2" pagingcookie="…" istracking="False" />`). The next page starts
 * right after the row the cookie names, so rows written or deleted between two pages never make
 * a page repeat or skip a row that was there all along (an offset would shift).
 * [choice] Primary keys sort as lower-case text, not in SQL Server's `uniqueidentifier` order.
 *
 * **Counting** ("Count rows using OData",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows): counts
 * stop at 5,000; a count only needs to know whether more rows match, so it stops reading there.
 *
 * Without `$orderby` a page walks the primary keys from the cookie on, reading only as many rows
 * as it needs, through the index the filter's equalities pick (`odata/query/planner.ts`): a page
 * of a million-row table costs what a page of a small one costs.
 */
import type { FilterNode, PropertyResolver } from "../odata/query/nodes";
import { compareValues } from "../odata/query/nodes";
import type { OrderByItem } from "../odata/query/parser";
import { QueryPlan } from "../odata/query/planner";
import type { StoredRow, TableSet } from "../store/tables";

/** Where the previous page ended: its number and the sort values and primary key of its last row. */
export interface PagePosition {
  /** Number of the page that was served (1 for the first). */
  readonly page: number;
  /** The `$orderby` values of its last row, as text (null for null). */
  readonly values: ReadonlyArray<string | null>;
  /** The primary key of its last row, lower case. */
  readonly id: string;
}

/** One page to read. */
export interface PageQuery {
  readonly filter?: FilterNode;
  readonly orderBy: readonly OrderByItem[];
  /** Most rows to return. */
  readonly limit: number;
  /** Start after this row; undefined for the first page. */
  readonly after?: PagePosition;
}

/** A page of rows and whether more rows follow it. */
export interface Page {
  readonly rows: StoredRow[];
  readonly more: boolean;
}

/**
 * Reads one page of `set`. `resolver` reads a row's (navigated) properties for filter and sort.
 * Without `$orderby` the page walks the primary keys (of the index the filter's equalities pick,
 * `odata/query/planner.ts`) from the cookie on and reads only as many rows as it returns; with
 * `$orderby` the matching rows of that index are sorted (a scan of them).
 */
export function readPage(
  tables: TableSet,
  set: string,
  primaryKey: string,
  resolver: (stored: StoredRow) => PropertyResolver,
  query: PageQuery,
): Page {
  if (query.limit <= 0) return { rows: [], more: false };
  const plan = new QueryPlan({
    tables,
    table: set,
    ...(query.filter ? { filter: query.filter } : {}),
    resolver,
  });
  if (query.orderBy.length === 0) {
    const rows: StoredRow[] = [];
    // Storage keys of Dataverse tables are the lower-case primary keys, as the cookie's id is.
    for (const [, stored] of plan.rows(query.after?.id)) {
      rows.push(stored);
      if (rows.length > query.limit) break;
    }
    const more = rows.length > query.limit;
    return { rows: rows.slice(0, query.limit), more };
  }
  const sorted: Array<{ stored: StoredRow; sortKey: unknown[] }> = [];
  for (const [, stored] of plan.rows()) {
    const get = resolver(stored);
    sorted.push({
      stored,
      sortKey: [...query.orderBy.map((o) => get(o.property.split("/"))), idOf(stored, primaryKey)],
    });
  }
  const directions = query.orderBy.map((o) => o.descending);
  sorted.sort((a, b) => compareSortKeys(a.sortKey, b.sortKey, directions));
  let start = 0;
  if (query.after) {
    const afterKey = [...query.after.values, query.after.id];
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (
        compareSortKeys((sorted[mid] as { sortKey: unknown[] }).sortKey, afterKey, directions) > 0
      )
        hi = mid;
      else lo = mid + 1;
    }
    start = lo;
  }
  const slice = sorted.slice(start, start + query.limit + 1).map((s) => s.stored);
  return { rows: slice.slice(0, query.limit), more: slice.length > query.limit };
}

/**
 * Rows of `set` that match `filter`, counted up to `cap + 1` (enough to tell "more than cap").
 * Reads no row when an index answers the filter; otherwise reads the rows of the best index (or
 * the table) until `cap + 1` match.
 */
export function countMatching(
  tables: TableSet,
  set: string,
  resolver: (stored: StoredRow) => PropertyResolver,
  filter: FilterNode | undefined,
  cap: number,
): number {
  return new QueryPlan({ tables, table: set, ...(filter ? { filter } : {}), resolver }).count(
    cap + 1,
  );
}

/**
 * The `$skiptoken` that continues after `rows` (the page numbered `page`), in Dataverse's cookie
 * form: `<cookie pagenumber="<next>" pagingcookie="<URL-encoded inner cookie>" istracking="False" />`.
 */
export function skipTokenAfter(
  page: number,
  rows: readonly StoredRow[],
  orderBy: readonly OrderByItem[],
  primaryKey: string,
  resolver: (stored: StoredRow) => PropertyResolver,
): string {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (!first || !last) throw new Error("a skip token needs the rows of the page it follows");
  const firstGet = resolver(first);
  const lastGet = resolver(last);
  const elements = orderBy.map((o) => {
    const path = o.property.split("/");
    return element(o.property.replace(/\//g, "."), lastGet(path), firstGet(path));
  });
  const braced = (stored: StoredRow): string => `{${idOf(stored, primaryKey).toUpperCase()}}`;
  elements.push(element(primaryKey, braced(last), braced(first)));
  const inner = `<cookie page="${page}">${elements.join("")}</cookie>`;
  return `<cookie pagenumber="${page + 1}" pagingcookie="${encodeURIComponent(inner)}" istracking="False" />`;
}

/**
 * Reads a `$skiptoken` made by {@link skipTokenAfter} for a query with `orderByCount` sort keys;
 * undefined when it is not one.
 */
export function readSkipToken(token: string, orderByCount: number): PagePosition | undefined {
  const cookie = /pagingcookie="([^"]*)"/.exec(token)?.[1];
  if (cookie === undefined) return undefined;
  let inner: string;
  try {
    inner = decodeURIComponent(cookie);
  } catch {
    return undefined;
  }
  const page = /^<cookie page="(\d+)">(.*)<\/cookie>$/s.exec(inner);
  if (!page) return undefined;
  const values: Array<string | null> = [];
  const elementPattern = /<[\w.]+((?:\s+\w+="[^"]*")*)\s*\/>/g;
  let consumed = 0;
  for (const m of (page[2] as string).matchAll(elementPattern)) {
    if (m.index !== consumed) return undefined;
    consumed += m[0].length;
    const last = /\slast="([^"]*)"/.exec(m[1] ?? "")?.[1];
    values.push(last === undefined ? null : unescapeXml(last));
  }
  if (consumed !== (page[2] as string).length || values.length !== orderByCount + 1)
    return undefined;
  const id = values.pop();
  if (typeof id !== "string" || !/^\{[0-9A-Fa-f-]{36}\}$/.test(id)) return undefined;
  return { page: Number(page[1]), values, id: id.slice(1, -1).toLowerCase() };
}

/** One element of the inner cookie; a null value leaves its attribute out. */
function element(name: string, last: unknown, first: unknown): string {
  const attr = (attribute: string, v: unknown): string =>
    v === null || v === undefined
      ? ""
      : ` ${attribute}="${escapeXml(typeof v === "string" ? v : JSON.stringify(v))}"`;
  return `<${name}${attr("last", last)}${attr("first", first)} />`;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function unescapeXml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&gt;/g, ">")
    .replace(/&lt;/g, "<")
    .replace(/&amp;/g, "&");
}

function idOf(stored: StoredRow, primaryKey: string): string {
  const v = stored.row[primaryKey];
  return (typeof v === "string" ? v : (JSON.stringify(v) ?? "")).toLowerCase();
}

/**
 * Orders two sort keys: the `$orderby` values (nulls first when ascending, as SQL Server sorts;
 * case-insensitive text), then the primary key as plain text. A key read back from a cookie
 * holds text where the row held numbers or booleans; `compareValues` orders those alike.
 */
function compareSortKeys(
  a: readonly unknown[],
  b: readonly unknown[],
  descending: readonly boolean[],
): number {
  for (let i = 0; i < descending.length; i++) {
    const x = a[i];
    const y = b[i];
    const xNull = x === null || x === undefined;
    const yNull = y === null || y === undefined;
    const c = xNull || yNull ? (xNull === yNull ? 0 : xNull ? -1 : 1) : (compareValues(x, y) ?? 0);
    if (c !== 0) return descending[i] ? -c : c;
  }
  const x = String(a[descending.length]);
  const y = String(b[descending.length]);
  return x < y ? -1 : x > y ? 1 : 0;
}
