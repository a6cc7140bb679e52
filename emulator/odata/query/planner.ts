/**
 * The query planner: how a `$filter` is answered from a table's indexes instead of by reading
 * the table (issue 9, "Volume": a million rows per side, read page by page, counted, filtered on
 * key, company and lookup columns).
 *
 * A filter is split into its top-level `and` terms. Terms of the form `<column> eq <literal>`
 * (either way round; a plain column, a string, GUID, number, boolean, enum or `null` literal) are
 * equalities; the store (`TableSet.access`) picks the primary key or the index that covers the
 * most selective of them. Only the rows that index lists are read, in storage-key order; every
 * other term (and every equality the index does not cover) is evaluated on those rows by the
 * general evaluator (`nodes.ts`). A filter without such a term — `contains(name,'x')`, an `or`,
 * a navigation `msdyn_company/cdm_companycode eq 'X'` — reads the whole table: that is the
 * documented scan (docs/emulator.md, "Volume").
 *
 * Counting a filter that an index answers completely costs nothing (the size of one index
 * entry); paging walks the index from the key after the paging cookie; `$skip` (F&O) jumps to a
 * position of the index.
 */
import type { Access, StoredRow, TableSet } from "../../store/tables";
import { indexValue } from "../../store/indexes";
import {
  AndNode,
  ComparisonNode,
  type FilterNode,
  IdentifierNode,
  LiteralNode,
  type PropertyResolver,
} from "./nodes";

/**
 * Literal kinds an index can be asked for: those the evaluator compares as text or number (an
 * F&O enum literal compares as its member name, `DirPartyBaseType'Person'` as `'Person'`); not
 * date-times, which compare by instant.
 */
const INDEXABLE = new Set(["string", "guid", "number", "boolean", "null", "enum"]);

/** A filter split into equalities an index may answer and the terms left to evaluate. */
export interface SplitFilter {
  /** `column → value` of `column eq literal` terms (the first term for a column). */
  readonly equalities: Map<string, { readonly value: unknown; readonly node: FilterNode }>;
  /** The other top-level `and` terms. */
  readonly rest: FilterNode[];
}

/** Splits a filter's top-level `and` terms into column equalities and the rest. */
export function splitFilter(filter: FilterNode | undefined): SplitFilter {
  const split: SplitFilter = { equalities: new Map(), rest: [] };
  const visit = (node: FilterNode): void => {
    if (node instanceof AndNode) {
      visit(node.left);
      visit(node.right);
      return;
    }
    const equality = equalityOf(node);
    if (equality && !split.equalities.has(equality.column))
      split.equalities.set(equality.column, { value: equality.value, node });
    else split.rest.push(node);
  };
  if (filter) visit(filter);
  return split;
}

function equalityOf(node: FilterNode): { column: string; value: unknown } | undefined {
  if (!(node instanceof ComparisonNode) || node.operator !== "eq") return undefined;
  const pair =
    node.left instanceof IdentifierNode && node.right instanceof LiteralNode
      ? ([node.left, node.right] as const)
      : node.right instanceof IdentifierNode && node.left instanceof LiteralNode
        ? ([node.right, node.left] as const)
        : undefined;
  if (!pair) return undefined;
  const [id, literal] = pair;
  if (id.path.length !== 1 || !INDEXABLE.has(literal.kind)) return undefined;
  return { column: id.name, value: literal.value };
}

/** What a plan reads. */
export interface PlanInput {
  readonly tables: TableSet;
  readonly table: string;
  readonly filter?: FilterNode;
  /**
   * Equalities every row must satisfy besides the filter: F&O's company scope
   * (`dataAreaId` = the default company unless cross-company).
   */
  readonly scope?: ReadonlyMap<string, unknown>;
  /** Reads a row's (navigated) properties, for the terms the index does not answer. */
  readonly resolver: (stored: StoredRow) => PropertyResolver;
}

/** How one filter is read from one table; see the module comment. */
export class QueryPlan {
  private readonly access: Access;
  /** Filter terms to evaluate on each walked row. */
  private readonly residual: FilterNode[];
  /** Scope equalities the access does not guarantee. */
  private readonly scopeRest: Array<[string, string]>;

  constructor(private readonly input: PlanInput) {
    const split = splitFilter(input.filter);
    const wanted = new Map<string, unknown>();
    for (const [column, value] of input.scope ?? []) wanted.set(column, value);
    for (const [column, { value }] of split.equalities) {
      // A filter equality that contradicts the scope still narrows nothing wrongly: the scope's
      // value is looked up and the filter term is evaluated on the rows found.
      if (!wanted.has(column)) wanted.set(column, value);
    }
    this.access = input.tables.access(input.table, wanted);
    const covered = this.access.covered;
    this.residual = [...split.rest];
    for (const [column, { value, node }] of split.equalities) {
      const viaScope = input.scope?.has(column) === true;
      const answered =
        covered.has(column) &&
        (!viaScope || indexValue(input.scope?.get(column)) === indexValue(value));
      if (!answered) this.residual.push(node);
    }
    this.scopeRest = [...(input.scope ?? [])]
      .filter(([column]) => !covered.has(column))
      .map(([column, value]) => [column, indexValue(value)]);
  }

  /** `primary key`, `index (…)` or `scan`, for tests and diagnostics. */
  get via(): string {
    return this.access.via;
  }

  /** Whether the index answers the whole filter (counts need no row reads). */
  get exact(): boolean {
    return this.residual.length === 0 && this.scopeRest.length === 0;
  }

  /** Whether a walked row matches the terms the index does not answer. */
  matches(stored: StoredRow): boolean {
    for (const [column, value] of this.scopeRest)
      if (indexValue(stored.row[column]) !== value) return false;
    if (this.residual.length === 0) return true;
    const get = this.input.resolver(stored);
    return this.residual.every((node) => node.evaluate(get) === true);
  }

  /** Matching rows after storage key `after` (all when undefined), in storage-key order. */
  *rows(after?: string): Generator<[key: string, stored: StoredRow], void, undefined> {
    const { tables, table } = this.input;
    for (const entry of tables.walk(table, this.access.keys, after))
      if (this.exact || this.matches(entry[1])) yield entry;
  }

  /** Matching rows from position `skip` of the matching sequence (F&O `$skip`). */
  *fromPosition(skip: number): Generator<[key: string, stored: StoredRow], void, undefined> {
    const { tables, table } = this.input;
    if (this.exact) {
      yield* tables.walkFrom(table, this.access.keys, skip);
      return;
    }
    let skipped = 0;
    for (const entry of this.rows()) {
      if (skipped < skip) skipped++;
      else yield entry;
    }
  }

  /** Matching rows, counted up to `limit` (reads no row when the index answers the filter). */
  count(limit = Infinity): number {
    if (this.exact) return Math.min(this.access.keys.size, limit);
    let n = 0;
    for (const entry of this.rows()) {
      void entry;
      if (++n >= limit) break;
    }
    return n;
  }
}
