/**
 * Reading the system query options of a collection request and applying them to rows. Both
 * surfaces use this; each maps the thrown errors to its own error shape.
 */
import type { FilterNode, PropertyResolver } from "./nodes";
import { compareValues } from "./nodes";
import {
  type ExpandItem,
  type FilterParseOptions,
  type OrderByItem,
  parseExpand,
  parseFilter,
  parseOrderBy,
  parseSelect,
} from "./parser";

/** A query option with a bad value that is not a syntax error (e.g. `$top=-1`, `$skip` on Dataverse). */
export class QueryOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QueryOptionError";
  }
}

/** The parsed system query options of one request. */
export interface CollectionQuery {
  readonly filter?: FilterNode;
  readonly orderBy: readonly OrderByItem[];
  readonly select?: readonly string[];
  readonly expand: readonly ExpandItem[];
  readonly top?: number;
  readonly skip?: number;
  readonly count: boolean;
  readonly skipToken?: string;
}

/** Which options a surface accepts (others answer {@link QueryOptionError}). */
export interface QueryOptionRules extends FilterParseOptions {
  readonly allowSkip: boolean;
}

const KNOWN = new Set([
  "$filter",
  "$orderby",
  "$select",
  "$expand",
  "$top",
  "$skip",
  "$count",
  "$skiptoken",
  "$format",
]);

/** Reads `$filter $orderby $select $expand $top $skip $count $skiptoken` from a query string. */
export function readCollectionQuery(
  query: URLSearchParams,
  rules: QueryOptionRules,
): CollectionQuery {
  for (const name of query.keys()) {
    if (name.startsWith("$") && !KNOWN.has(name)) {
      throw new QueryOptionError(`The query parameter ${name} is not supported.`);
    }
  }
  if (!rules.allowSkip && query.has("$skip")) {
    throw new QueryOptionError("The query parameter $skip is not supported.");
  }
  const filterText = query.get("$filter");
  const orderText = query.get("$orderby");
  const selectText = query.get("$select");
  const expandText = query.get("$expand");
  const countText = query.get("$count");
  if (countText !== null && countText !== "true" && countText !== "false") {
    throw new QueryOptionError(`'${countText}' is not a valid count option.`);
  }
  const top = readNonNegative(query, "$top");
  const skip = readNonNegative(query, "$skip");
  const skipToken = query.get("$skiptoken");
  return {
    ...(filterText !== null ? { filter: parseFilter(filterText, rules) } : {}),
    orderBy: orderText !== null ? parseOrderBy(orderText) : [],
    ...(selectText !== null ? { select: parseSelect(selectText) } : {}),
    expand: expandText !== null ? parseExpand(expandText) : [],
    ...(top !== undefined ? { top } : {}),
    ...(skip !== undefined ? { skip } : {}),
    count: countText === "true",
    ...(skipToken !== null ? { skipToken } : {}),
  };
}

function readNonNegative(query: URLSearchParams, name: string): number | undefined {
  const text = query.get(name);
  if (text === null) return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new QueryOptionError(
      `Invalid value '${text}' for ${name} query option found. The ${name} query option requires a non-negative integer value.`,
    );
  }
  return Number(text.trim());
}

/** Rows that match `filter`, given a resolver factory that reads a row's (navigated) properties. */
export function filterRows<T>(
  rows: readonly T[],
  filter: FilterNode | undefined,
  resolver: (row: T) => PropertyResolver,
): T[] {
  if (!filter) return [...rows];
  return rows.filter((r) => filter.evaluate(resolver(r)) === true);
}

/**
 * Sorts rows by `$orderby` (stable; nulls first in ascending order, as SQL Server sorts them),
 * then by `tieBreaker` so that pages are deterministic.
 */
export function sortRows<T>(
  rows: readonly T[],
  orderBy: readonly OrderByItem[],
  resolver: (row: T) => PropertyResolver,
  tieBreaker?: (a: T, b: T) => number,
): T[] {
  if (orderBy.length === 0 && !tieBreaker) return [...rows];
  const keyed = rows.map((row, index) => {
    const get = resolver(row);
    return { row, index, keys: orderBy.map((o) => get(o.property.split("/"))) };
  });
  keyed.sort((a, b) => {
    for (let i = 0; i < orderBy.length; i++) {
      const x = a.keys[i];
      const y = b.keys[i];
      const xNull = x === null || x === undefined;
      const yNull = y === null || y === undefined;
      const c =
        xNull || yNull ? (xNull === yNull ? 0 : xNull ? -1 : 1) : (compareValues(x, y) ?? 0);
      if (c !== 0) return (orderBy[i] as OrderByItem).descending ? -c : c;
    }
    if (tieBreaker) {
      const t = tieBreaker(a.row, b.row);
      if (t !== 0) return t;
    }
    return a.index - b.index;
  });
  return keyed.map((k) => k.row);
}

/** Projects a row onto `$select` (missing columns come back as `null`); keeps annotations. */
export function selectColumns(
  row: Readonly<Record<string, unknown>>,
  select: readonly string[] | undefined,
  always: readonly string[] = [],
): Record<string, unknown> {
  if (!select || select.includes("*")) return { ...row };
  const out: Record<string, unknown> = {};
  for (const name of [...select, ...always]) out[name] = row[name] ?? null;
  return out;
}

/** A resolver over a plain row (no navigation). */
export function plainResolver(row: Readonly<Record<string, unknown>>): PropertyResolver {
  return (path) => (path.length === 1 ? row[path[0] as string] : undefined);
}
