/**
 * Row storage shared by the Dataverse and F&O surfaces and the dual-write runtime.
 *
 * Every write goes through `TableSet`, which numbers row versions (the ETag source) and tells
 * listeners before it commits. The runtime listens to do live sync inside the same request: a
 * listener that throws vetoes the write, which is how "a failure on one side fails the write on
 * the other" is modelled.
 *
 * Each table keeps, beside its rows, the indexes that let reads at a million rows avoid reading
 * the table (issue 9, "Volume"): the storage keys in order (pages in key order from a paging
 * cookie), the declared unique keys (Dataverse alternate keys) and non-unique equality indexes
 * over the columns reads filter on (company, lookups, natural keys; `TableDefinition.indexes`,
 * each built by the first read that can use it).
 * `access` picks the index for a set of column equalities; `odata/query/planner.ts` builds on it.
 *
 * Every committed change of a row is also handed to the change sink, if any: persistence writes
 * exactly those rows (`store/persistence.ts`), never the whole set; and recorded in the current
 * transaction, if any (`store/transaction.ts`), which undoes it through `restoreRow`.
 */
import { EqualityIndex, indexValue, lowerCase } from "./indexes";
import { SortedKeys } from "./sortedKeys";
import { currentTransaction, type RestorableTables } from "./transaction";

/** A row as stored: column name → JSON value. */
export type Row = Record<string, unknown>;

/** Which emulated service a table set belongs to. */
export type StoreKind = "dataverse" | "fno";

/** Who made a write: a client request, or the dual-write runtime copying from the other side. */
export type WriteOrigin = "client" | "runtime" | "seed" | "control";

/** A pending write, given to listeners before commit. */
export interface WriteEvent {
  readonly kind: StoreKind;
  /** Dataverse org name or F&O environment name. */
  readonly instance: string;
  readonly table: string;
  readonly op: "create" | "update" | "delete";
  readonly key: string;
  readonly before?: Readonly<Row>;
  readonly after?: Readonly<Row>;
  readonly origin: WriteOrigin;
}

/** Called before a write commits; throw to refuse it (the write then fails as a whole). */
export type WriteListener = (event: WriteEvent) => void;

/** A stored row with its version (monotonic per table set; used for ETags). */
export interface StoredRow {
  readonly row: Row;
  readonly version: number;
}

/** Definition of a table: its name and the columns that form its key, in order. */
export interface TableDefinition {
  readonly name: string;
  readonly keyFields: readonly string[];
  /** Compare key values without regard to case (F&O `dataAreaId`, codes). */
  readonly caseInsensitiveKey?: boolean;
  /** Dataverse: the entity's logical name (`account` for `accounts`), for `@odata.type` and errors. */
  readonly logicalName?: string;
  /**
   * Dataverse: single-valued navigation properties. `msdyn_company` → stored in column
   * `_msdyn_company_value`, pointing at `cdm_companies`; written with `msdyn_company@odata.bind`.
   */
  readonly lookups?: Readonly<
    Record<string, { readonly targetSet: string; readonly column: string }>
  >;
  /**
   * Unique keys besides the storage key (Dataverse alternate keys). A row whose key columns are
   * all set may not share their values with another row; rows with an empty key column are not
   * indexed. Values compare as the storage key does (strings without regard to case).
   */
  readonly uniqueKeys?: readonly UniqueKeyDefinition[];
  /**
   * Non-unique equality indexes, each over a list of columns (`["dataAreaId"]`,
   * `["dataAreaId", "PartyType"]`). Reads whose filter fixes all columns of an index walk only
   * the rows it lists. Rows with null values are indexed too (`column eq null`).
   */
  readonly indexes?: ReadonlyArray<readonly string[]>;
}

/** One unique key of a table. */
export interface UniqueKeyDefinition {
  readonly name: string;
  readonly columns: readonly string[];
}

/** JSON form of a table set (tests, and the import of a format-1 `state.json`). */
export interface TableSetSnapshot {
  readonly kind: StoreKind;
  readonly instance: string;
  readonly nextVersion: number;
  readonly tables: Record<string, { def: TableDefinition; rows: Array<[string, StoredRow]> }>;
}

/**
 * Called after a row change commits: the row as stored now, or undefined when it was deleted.
 * Persistence collects these to write only what changed.
 */
export type ChangeSink = (table: string, key: string, stored: StoredRow | undefined) => void;

/** Storage keys in storage-key order: all of a table's, one index value's, or one row's. */
export interface KeySource {
  readonly size: number;
  /** Keys greater than `after` (all when undefined), in order. */
  after(after?: string): Iterable<string>;
  /** Keys from position `index` on, in order. */
  fromPosition(index: number): Iterable<string>;
}

/**
 * How a table answers a set of column equalities (see {@link TableSet.access}): the keys to walk
 * and the columns whose equality every walked row already satisfies.
 */
export interface Access {
  readonly keys: KeySource;
  /** Columns of the asked equalities that the walk guarantees; the others remain to be checked. */
  readonly covered: ReadonlySet<string>;
  /** `primary key`, `index (dataAreaId, PartyType)` or `scan`: for tests and diagnostics. */
  readonly via: string;
}

/** A table's rows and the indexes kept beside them. */
interface TableData {
  def: TableDefinition;
  rows: Map<string, StoredRow>;
  /** Every storage key, in order. */
  order: SortedKeys;
  /** Per unique key: key values → storage key of the row holding them. */
  unique: Map<string, Map<string, string>>;
  /** The non-unique equality indexes of `def.indexes`. */
  indexes: EqualityIndex[];
  /**
   * The indexes built so far, kept current by every write. An index is built (one pass over the
   * rows) the first time a read can use it, so seeding or loading a million rows does not pay
   * for indexes nobody reads.
   */
  built: EqualityIndex[];
  /** Bumped by every committed write, so readers can cache what they derive from the rows. */
  revision: number;
}

/** The tables of one Dataverse org or one F&O environment. */
export class TableSet implements RestorableTables {
  private readonly tables = new Map<string, TableData>();
  private readonly listeners: WriteListener[] = [];
  private nextVersion = 1;
  private sink: ChangeSink | undefined;

  constructor(
    readonly kind: StoreKind,
    readonly instance: string,
  ) {}

  /** Declares a table; declaring it again keeps its rows. */
  define(def: TableDefinition): void {
    if (!this.tables.has(def.name)) this.tables.set(def.name, tableData(def, new Map()));
  }

  /** Names of the declared tables. */
  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** The definition of a table, or undefined when it is not declared. */
  definition(table: string): TableDefinition | undefined {
    return this.tables.get(table)?.def;
  }

  /** Registers a listener called before every write. */
  onWrite(listener: WriteListener): void {
    this.listeners.push(listener);
  }

  /** Sets (or, with undefined, removes) the one sink told of every committed row change. */
  setChangeSink(sink: ChangeSink | undefined): void {
    this.sink = sink;
  }

  /** The version the next write gets (persistence saves it). */
  get versionCounter(): number {
    return this.nextVersion;
  }

  /** The storage key of a row: its key fields' values joined, normalised when case-insensitive. */
  keyOf(table: string, row: Row): string {
    return storageKey(this.require(table).def, row);
  }

  /** One row by storage key. */
  get(table: string, key: string): StoredRow | undefined {
    return this.require(table).rows.get(key);
  }

  /** Every row of a table, in insertion order (copies the list: small tables only). */
  all(table: string): StoredRow[] {
    return [...this.require(table).rows.values()];
  }

  /** The rows of a table, in insertion order, without copying them (do not write while iterating). */
  values(table: string): IterableIterator<StoredRow> {
    return this.require(table).rows.values();
  }

  /** The storage keys of a table, in insertion order, without copying them. */
  keys(table: string): IterableIterator<string> {
    return this.require(table).rows.keys();
  }

  /** Number of rows in a table. */
  count(table: string): number {
    return this.require(table).rows.size;
  }

  /** A number that changes whenever a write to the table commits (for caches of derived data). */
  revision(table: string): number {
    return this.require(table).revision;
  }

  /**
   * The cheapest way to read the rows whose `columns` equal the given values (compared as
   * {@link indexValue} does): one row by storage key when the equalities give every key field,
   * or by a unique key when they give all its columns (none empty); else the smallest bucket of
   * an index whose columns they all fix (an index value no row has gives no keys at all; an index
   * is built here the first time it can serve); else every key of the table (`scan`). Every way
   * walks keys in storage-key order. Only `covered` columns are guaranteed; check the others on
   * each row.
   */
  access(table: string, equalities: ReadonlyMap<string, unknown>): Access {
    const t = this.require(table);
    const def = t.def;
    if (
      def.caseInsensitiveKey === true &&
      def.keyFields.length > 0 &&
      def.keyFields.every((f) => isKeyScalar(equalities.get(f)))
    ) {
      const key = storageKey(def, Object.fromEntries(equalities));
      return {
        keys: new PointKeys(t.rows.has(key) ? [key] : []),
        covered: new Set(def.keyFields),
        via: "primary key",
      };
    }
    if (def.caseInsensitiveKey === true) {
      for (const unique of def.uniqueKeys ?? []) {
        if (!unique.columns.every((c) => equalities.has(c))) continue;
        const tuple = uniqueTuple(unique, Object.fromEntries(equalities), true);
        if (tuple === undefined) continue; // rows with an empty key column are not in it
        const key = t.unique.get(unique.name)?.get(tuple);
        return {
          keys: new PointKeys(key === undefined ? [] : [key]),
          covered: new Set(unique.columns),
          via: `alternate key (${unique.columns.join(", ")})`,
        };
      }
    }
    let best: { index: EqualityIndex; keys: KeySource } | undefined;
    for (const index of t.indexes) {
      if (!index.columns.every((c) => equalities.has(c))) continue;
      if (!t.built.includes(index)) build(t, index);
      const bucket = index.bucket(index.columns.map((c) => equalities.get(c)));
      const keys =
        bucket === undefined
          ? EMPTY_KEYS
          : typeof bucket === "string"
            ? new PointKeys([bucket])
            : bucket;
      if (
        !best ||
        keys.size < best.keys.size ||
        (keys.size === best.keys.size && index.columns.length > best.index.columns.length)
      )
        best = { index, keys };
    }
    if (best)
      return {
        keys: best.keys,
        covered: new Set(best.index.columns),
        via: `index (${best.index.columns.join(", ")})`,
      };
    return { keys: t.order, covered: new Set(), via: "scan" };
  }

  /** The rows of `keys` (an {@link access}), after storage key `after`, in storage-key order. */
  *walk(
    table: string,
    keys: KeySource,
    after?: string,
  ): Generator<[key: string, stored: StoredRow], void, undefined> {
    const rows = this.require(table).rows;
    for (const key of keys.after(after)) {
      const stored = rows.get(key);
      if (stored) yield [key, stored];
    }
  }

  /** The rows of `keys` from position `index` on, in storage-key order. */
  *walkFrom(
    table: string,
    keys: KeySource,
    index: number,
  ): Generator<[key: string, stored: StoredRow], void, undefined> {
    const rows = this.require(table).rows;
    for (const key of keys.fromPosition(index)) {
      const stored = rows.get(key);
      if (stored) yield [key, stored];
    }
  }

  /**
   * The first row (in storage-key order) whose columns equal `equalities` (compared as
   * {@link indexValue} does), with its storage key. Through an index when one applies.
   */
  findFirst(
    table: string,
    equalities: Readonly<Record<string, unknown>>,
  ): { key: string; stored: StoredRow } | undefined {
    const wanted = new Map(Object.entries(equalities));
    const access = this.access(table, wanted);
    const rest = [...wanted].filter(([c]) => !access.covered.has(c));
    for (const [key, stored] of this.walk(table, access.keys)) {
      if (rest.every(([c, v]) => indexValue(stored.row[c]) === indexValue(v)))
        return { key, stored };
    }
    return undefined;
  }

  /**
   * The row whose unique key `keyName` has `values` (column → value), or undefined. O(1): the
   * key is indexed.
   */
  findByUniqueKey(
    table: string,
    keyName: string,
    values: Readonly<Record<string, unknown>>,
  ): { key: string; stored: StoredRow } | undefined {
    const t = this.require(table);
    const def = t.def.uniqueKeys?.find((k) => k.name === keyName);
    const index = t.unique.get(keyName);
    if (!def || !index) throw new Error(`Table '${table}' has no unique key '${keyName}'.`);
    const tuple = uniqueTuple(def, values, t.def.caseInsensitiveKey === true);
    const key = tuple === undefined ? undefined : index.get(tuple);
    const stored = key === undefined ? undefined : t.rows.get(key);
    return key !== undefined && stored ? { key, stored } : undefined;
  }

  /**
   * Inserts a row; throws `DuplicateKeyError` when the key exists. Listeners run first. The table
   * keeps a copy of `row`, or `row` itself with `adopt` (bulk loads that build a row per insert
   * and never touch it again: half the allocations).
   */
  insert(
    table: string,
    row: Row,
    origin: WriteOrigin,
    options?: { readonly adopt?: boolean },
  ): StoredRow {
    const t = this.require(table);
    const key = storageKey(t.def, row);
    if (t.rows.has(key)) throw new DuplicateKeyError(table, key);
    checkUnique(t, table, key, row);
    this.emit({
      kind: this.kind,
      instance: this.instance,
      table,
      op: "create",
      key,
      after: row,
      origin,
    });
    const stored = { row: options?.adopt === true ? row : { ...row }, version: this.nextVersion++ };
    this.commit(t, table, key, undefined, stored);
    return stored;
  }

  /** Merges `changes` into an existing row; throws `RowNotFoundError` when absent. */
  update(table: string, key: string, changes: Row, origin: WriteOrigin): StoredRow {
    const t = this.require(table);
    const current = t.rows.get(key);
    if (!current) throw new RowNotFoundError(table, key);
    const after = { ...current.row, ...changes };
    checkUnique(t, table, key, after);
    this.emit({
      kind: this.kind,
      instance: this.instance,
      table,
      op: "update",
      key,
      before: current.row,
      after,
      origin,
    });
    const stored = { row: after, version: this.nextVersion++ };
    this.commit(t, table, key, current, stored);
    return stored;
  }

  /** Deletes a row; throws `RowNotFoundError` when absent. */
  delete(table: string, key: string, origin: WriteOrigin): void {
    const t = this.require(table);
    const current = t.rows.get(key);
    if (!current) throw new RowNotFoundError(table, key);
    this.emit({
      kind: this.kind,
      instance: this.instance,
      table,
      op: "delete",
      key,
      before: current.row,
      origin,
    });
    this.commit(t, table, key, current, undefined);
  }

  /**
   * Puts a row back as it was saved (persistence loading a data directory): no listeners, no
   * change sink, no uniqueness check (a saved set was consistent). Call {@link restoreVersion}
   * after the last row.
   */
  load(table: string, key: string, stored: StoredRow): void {
    const t = this.require(table);
    const current = t.rows.get(key);
    t.rows.set(key, stored);
    if (current) {
      unindexRow(t, key, current.row);
      for (const index of t.built) index.remove(key, current.row);
    } else {
      t.order.add(key);
    }
    indexRow(t, key, stored.row, false);
    for (const index of t.built) index.add(key, stored.row);
    t.revision++;
  }

  /** Sets the next version number after {@link load} (never lowers it). */
  restoreVersion(nextVersion: number): void {
    this.nextVersion = Math.max(this.nextVersion, nextVersion);
  }

  /** Plain JSON of every table (tests; persistence saves rows one by one instead). */
  snapshot(): TableSetSnapshot {
    const tables: TableSetSnapshot["tables"] = {};
    for (const [name, t] of this.tables) {
      tables[name] = { def: t.def, rows: [...t.rows.entries()] };
    }
    return { kind: this.kind, instance: this.instance, nextVersion: this.nextVersion, tables };
  }

  /**
   * Rebuilds a table set from `snapshot()` output (listeners are not restored). `definitions`,
   * when given, replace the saved definitions of the tables they name (the code's schema wins
   * over the one saved with the data: new indexes apply to old data).
   */
  static restore(
    s: TableSetSnapshot,
    definitions?: ReadonlyMap<string, TableDefinition>,
  ): TableSet {
    const set = new TableSet(s.kind, s.instance);
    set.nextVersion = s.nextVersion;
    for (const [name, t] of Object.entries(s.tables)) {
      set.tables.set(name, tableData(definitions?.get(name) ?? t.def, new Map(t.rows)));
    }
    return set;
  }

  /**
   * Undoes a write of a rolled-back transaction (`transaction.ts`): puts `previous` back under
   * `key` (removes the row when undefined) while the row is still what the write left, `written`
   * (same version; undefined: still absent). No listener runs; indexes and the change sink follow.
   */
  restoreRow(
    table: string,
    key: string,
    previous: StoredRow | undefined,
    written: StoredRow | undefined,
  ): void {
    const t = this.require(table);
    const current = t.rows.get(key);
    const unchanged =
      written === undefined ? current === undefined : current?.version === written.version;
    if (unchanged) this.apply(t, table, key, current, previous);
  }

  /** A committed write: applied, and recorded in the current transaction (if any) for undo. */
  private commit(
    t: TableData,
    table: string,
    key: string,
    before: StoredRow | undefined,
    after: StoredRow | undefined,
  ): void {
    this.apply(t, table, key, before, after);
    currentTransaction()?.recordRow(this, table, key, before, after);
  }

  /** Applies a change to the rows, every index and the change sink. */
  private apply(
    t: TableData,
    table: string,
    key: string,
    before: StoredRow | undefined,
    after: StoredRow | undefined,
  ): void {
    if (!before && !after) return;
    if (after) t.rows.set(key, after);
    else t.rows.delete(key);
    if (before) unindexRow(t, key, before.row);
    if (after) indexRow(t, key, after.row);
    if (!before) t.order.add(key);
    else if (!after) t.order.delete(key);
    for (const index of t.built) {
      if (before && after && !index.changes(before.row, after.row)) continue;
      if (before) index.remove(key, before.row);
      if (after) index.add(key, after.row);
    }
    t.revision++;
    this.sink?.(table, key, after);
  }

  private emit(event: WriteEvent): void {
    for (const l of this.listeners) l(event);
  }

  private require(table: string): TableData {
    const t = this.tables.get(table);
    if (!t) throw new UnknownTableError(table);
    return t;
  }
}

/** The storage key of a row under a definition (see {@link TableSet.keyOf}). */
function storageKey(def: TableDefinition, row: Readonly<Row>): string {
  if (def.keyFields.length === 1) return keyPart(def, row[def.keyFields[0] as string]);
  return def.keyFields.map((f) => keyPart(def, row[f])).join("\u0001");
}

function keyPart(def: TableDefinition, v: unknown): string {
  // Keys are scalars (GUIDs, codes, numbers); anything else would be a seeding bug.
  const s = isKeyScalar(v) ? String(v) : "";
  return def.caseInsensitiveKey ? lowerCase(s) : s;
}

function isKeyScalar(v: unknown): v is string | number | boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/** The keys of one row, or of none. */
class PointKeys implements KeySource {
  constructor(private readonly keys: readonly string[]) {}
  get size(): number {
    return this.keys.length;
  }
  after(after?: string): Iterable<string> {
    return after === undefined ? this.keys : this.keys.filter((k) => k > after);
  }
  fromPosition(index: number): Iterable<string> {
    return this.keys.slice(index);
  }
}

const EMPTY_KEYS: KeySource = new PointKeys([]);

/** A table's data with its indexes built from `rows`. */
function tableData(def: TableDefinition, rows: Map<string, StoredRow>): TableData {
  const t: TableData = {
    def,
    rows,
    order: new SortedKeys(),
    unique: new Map(),
    indexes: (def.indexes ?? []).map((columns) => new EqualityIndex(columns)),
    built: [],
    revision: 0,
  };
  for (const k of def.uniqueKeys ?? []) t.unique.set(k.name, new Map());
  // Rows restored from a snapshot taken before a key was declared may collide; the first keeps
  // the index entry, as a unique index created over duplicates would not exist at all.
  for (const [key, stored] of rows) {
    t.order.add(key);
    indexRow(t, key, stored.row, false);
  }
  return t;
}

/** Builds an index of a table from its rows (the first read that can use it). */
function build(t: TableData, index: EqualityIndex): void {
  for (const [key, stored] of t.rows) index.add(key, stored.row);
  t.built.push(index);
}

/**
 * The index entry of a row for one unique key: its key values joined, or undefined when one is
 * empty (null, undefined or ""), since such rows are not indexed.
 */
function uniqueTuple(
  def: UniqueKeyDefinition,
  row: Readonly<Record<string, unknown>>,
  caseInsensitive: boolean,
): string | undefined {
  const parts: string[] = [];
  for (const column of def.columns) {
    const v = row[column];
    if (v === null || v === undefined || v === "") return undefined;
    const s = typeof v === "string" ? v : JSON.stringify(v);
    parts.push(caseInsensitive ? lowerCase(s) : s);
  }
  return parts.length === 1 ? parts[0] : parts.join("\u0001");
}

/** Throws `UniqueKeyError` when `row` (stored under `key`) would share a unique key with another row. */
function checkUnique(t: TableData, table: string, key: string, row: Readonly<Row>): void {
  for (const def of t.def.uniqueKeys ?? []) {
    const tuple = uniqueTuple(def, row, t.def.caseInsensitiveKey === true);
    if (tuple === undefined) continue;
    const holder = t.unique.get(def.name)?.get(tuple);
    if (holder !== undefined && holder !== key) {
      throw new UniqueKeyError(
        table,
        def,
        def.columns.map((c) => row[c]),
      );
    }
  }
}

function indexRow(t: TableData, key: string, row: Readonly<Row>, replace = true): void {
  for (const def of t.def.uniqueKeys ?? []) {
    const tuple = uniqueTuple(def, row, t.def.caseInsensitiveKey === true);
    const index = t.unique.get(def.name);
    if (tuple === undefined || !index) continue;
    if (replace || !index.has(tuple)) index.set(tuple, key);
  }
}

function unindexRow(t: TableData, key: string, row: Readonly<Row>): void {
  for (const def of t.def.uniqueKeys ?? []) {
    const tuple = uniqueTuple(def, row, t.def.caseInsensitiveKey === true);
    const index = t.unique.get(def.name);
    if (tuple !== undefined && index?.get(tuple) === key) index.delete(tuple);
  }
}

/** A table that the instance does not have. */
export class UnknownTableError extends Error {
  constructor(readonly table: string) {
    super(`Unknown table '${table}'.`);
    this.name = "UnknownTableError";
  }
}

/** An insert whose key already exists. */
export class DuplicateKeyError extends Error {
  constructor(
    readonly table: string,
    readonly key: string,
  ) {
    super(`A row with the same key already exists in '${table}'.`);
    this.name = "DuplicateKeyError";
  }
}

/** A write that would give two rows the same values for a unique key. */
export class UniqueKeyError extends Error {
  constructor(
    readonly table: string,
    readonly uniqueKey: UniqueKeyDefinition,
    /** The key's values in the refused row, in the key's column order. */
    readonly values: readonly unknown[],
  ) {
    super(`Another row of '${table}' already has these values for the key '${uniqueKey.name}'.`);
    this.name = "UniqueKeyError";
  }
}

/** An update or delete of a row that does not exist. */
export class RowNotFoundError extends Error {
  constructor(
    readonly table: string,
    readonly key: string,
  ) {
    super(`No row with that key in '${table}'.`);
    this.name = "RowNotFoundError";
  }
}
