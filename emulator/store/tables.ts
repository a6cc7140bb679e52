/**
 * Row storage shared by the Dataverse and F&O surfaces and the dual-write runtime.
 *
 * Every write goes through `TableSet`, which numbers row versions (the ETag source) and tells
 * listeners before it commits. The runtime listens to do live sync inside the same request: a
 * listener that throws vetoes the write, which is how "a failure on one side fails the write on
 * the other" is modelled. The whole set is plain JSON, so persistence is a snapshot.
 */

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
}

/** JSON form of a table set, for persistence. */
export interface TableSetSnapshot {
  readonly kind: StoreKind;
  readonly instance: string;
  readonly nextVersion: number;
  readonly tables: Record<string, { def: TableDefinition; rows: Array<[string, StoredRow]> }>;
}

/** The tables of one Dataverse org or one F&O environment. */
export class TableSet {
  private readonly tables = new Map<
    string,
    { def: TableDefinition; rows: Map<string, StoredRow> }
  >();
  private readonly listeners: WriteListener[] = [];
  private nextVersion = 1;

  constructor(
    readonly kind: StoreKind,
    readonly instance: string,
  ) {}

  /** Declares a table; declaring it again keeps its rows. */
  define(def: TableDefinition): void {
    if (!this.tables.has(def.name)) this.tables.set(def.name, { def, rows: new Map() });
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

  /** The storage key of a row: its key fields' values joined, normalised when case-insensitive. */
  keyOf(table: string, row: Row): string {
    const def = this.require(table).def;
    return def.keyFields
      .map((f) => {
        const v = row[f];
        // Keys are scalars (GUIDs, codes, numbers); anything else would be a seeding bug.
        const s =
          typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : "";
        return def.caseInsensitiveKey ? s.toLowerCase() : s;
      })
      .join("\u0001");
  }

  /** One row by storage key. */
  get(table: string, key: string): StoredRow | undefined {
    return this.require(table).rows.get(key);
  }

  /** Every row of a table, in insertion order. */
  all(table: string): StoredRow[] {
    return [...this.require(table).rows.values()];
  }

  /** Number of rows in a table. */
  count(table: string): number {
    return this.require(table).rows.size;
  }

  /** Inserts a row; throws `DuplicateKeyError` when the key exists. Listeners run first. */
  insert(table: string, row: Row, origin: WriteOrigin): StoredRow {
    const t = this.require(table);
    const key = this.keyOf(table, row);
    if (t.rows.has(key)) throw new DuplicateKeyError(table, key);
    this.emit({
      kind: this.kind,
      instance: this.instance,
      table,
      op: "create",
      key,
      after: row,
      origin,
    });
    const stored = { row: { ...row }, version: this.nextVersion++ };
    t.rows.set(key, stored);
    return stored;
  }

  /** Merges `changes` into an existing row; throws `RowNotFoundError` when absent. */
  update(table: string, key: string, changes: Row, origin: WriteOrigin): StoredRow {
    const t = this.require(table);
    const current = t.rows.get(key);
    if (!current) throw new RowNotFoundError(table, key);
    const after = { ...current.row, ...changes };
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
    t.rows.set(key, stored);
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
    t.rows.delete(key);
  }

  /** Plain JSON of every table, for persistence. */
  snapshot(): TableSetSnapshot {
    const tables: TableSetSnapshot["tables"] = {};
    for (const [name, t] of this.tables) {
      tables[name] = { def: t.def, rows: [...t.rows.entries()] };
    }
    return { kind: this.kind, instance: this.instance, nextVersion: this.nextVersion, tables };
  }

  /** Rebuilds a table set from `snapshot()` output (listeners are not restored). */
  static restore(s: TableSetSnapshot): TableSet {
    const set = new TableSet(s.kind, s.instance);
    set.nextVersion = s.nextVersion;
    for (const [name, t] of Object.entries(s.tables)) {
      set.tables.set(name, { def: t.def, rows: new Map(t.rows) });
    }
    return set;
  }

  private emit(event: WriteEvent): void {
    for (const l of this.listeners) l(event);
  }

  private require(table: string): { def: TableDefinition; rows: Map<string, StoredRow> } {
    const t = this.tables.get(table);
    if (!t) throw new UnknownTableError(table);
    return t;
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
