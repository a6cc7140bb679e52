/**
 * The emulator's SQLite file (`state.db` in a data directory), through Node's built-in
 * `node:sqlite` (ADR 0006). One place opens it, so every opener sets the same pragmas and sees the
 * same schema:
 *
 * - `meta(name, value)`: one JSON document, `state`: clock, settings, environment pairs, the
 *   dual-write runtime's state and, per table set, its table definitions and version counter.
 * - `rows(tableset, tbl, key, version, data)`: one row per stored row (`data` is the row's JSON),
 *   keyed by table set (`dataverse/<org>`, `fno/<env>`), table and storage key.
 *
 * Write-ahead logging ("Write-Ahead Logging", https://www.sqlite.org/wal.html). By default
 * `synchronous = NORMAL`: a commit is written to the log before it returns, so it survives the
 * death of the emulator's process at any moment (kill -9, a crash); only an operating-system
 * crash or a power cut may lose the last commits, and never corrupts the file ("PRAGMA
 * synchronous", https://www.sqlite.org/pragma.html#pragma_synchronous). With
 * `DUALWRITE_EMULATOR_FSYNC=1` every commit is also flushed to the disk (`synchronous = FULL`),
 * which survives those too and costs an fsync per save (ADR 0006).
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** The variable that asks for an fsync per commit. */
export const FSYNC_ENV = "DUALWRITE_EMULATOR_FSYNC";

/** The module, loaded once. */
let sqliteModule: typeof import("node:sqlite") | undefined;

/**
 * `node:sqlite`, loaded without its experimental-feature warning: Node 22 prints
 * "ExperimentalWarning: SQLite is an experimental feature" on first load (Node 24 does not), which
 * would land in the CLI's output. Every other warning still goes through.
 */
export function sqlite(): typeof import("node:sqlite") {
  if (sqliteModule) return sqliteModule;
  const original = Object.getOwnPropertyDescriptor(process, "emitWarning");
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === "string" ? warning : warning.message;
    if (/\bSQLite\b/.test(text)) return;
    emit(warning, ...rest);
  };
  try {
    sqliteModule = process.getBuiltinModule("node:sqlite");
  } finally {
    if (original) Object.defineProperty(process, "emitWarning", original);
  }
  return sqliteModule;
}

/** Opens (creating it when missing) the store at `path`, with the pragmas and schema above. */
export function openDatabase(path: string): DatabaseSync {
  const { DatabaseSync } = sqlite();
  const db = new DatabaseSync(path);
  try {
    db.exec(`
      PRAGMA busy_timeout = 10000;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${process.env[FSYNC_ENV] === "1" ? "FULL" : "NORMAL"};
      PRAGMA cache_size = -65536;
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rows (
        tableset TEXT NOT NULL,
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (tableset, tbl, key)
      ) WITHOUT ROWID;
    `);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** A row to write: table set id, table, storage key, version, row JSON. */
export type PutRow = [tableset: string, table: string, key: string, version: number, data: string];

/** A row to delete: table set id, table, storage key. */
export type DeleteRow = [tableset: string, table: string, key: string];

/** What the main thread sends. */
export type WorkerRequest =
  | { readonly op: "begin" }
  | { readonly op: "rows"; readonly puts: PutRow[]; readonly deletes: DeleteRow[] }
  | { readonly op: "drop"; readonly tableset: string }
  | { readonly op: "commit"; readonly id: number; readonly state: string; readonly tables?: string }
  | {
      /** A small save in one message: begin, drops, rows, commit. */
      readonly op: "save";
      readonly id: number;
      readonly drops: string[];
      readonly puts: PutRow[];
      readonly deletes: DeleteRow[];
      readonly state: string;
      readonly tables?: string;
    }
  | { readonly op: "close"; readonly id: number };

/** What the worker answers to `commit` and `close`. */
export type WorkerReply = { readonly id: number; readonly error?: string };

/**
 * Applies save requests to a store (on the persistence worker, or on the main thread for the
 * small saves of a memory-fast configuration): the statements of one save run inside one
 * transaction; a failure is reported at its commit and rolls the save back.
 */
export class StoreWriter {
  private readonly put: StatementSync;
  private readonly remove: StatementSync;
  private readonly drop: StatementSync;
  private readonly meta: StatementSync;
  private open = false;
  /** The first failure of the current save; reported at its commit. */
  private failure: string | undefined;

  constructor(private readonly db: DatabaseSync) {
    this.put = db.prepare(
      "INSERT INTO rows (tableset, tbl, key, version, data) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (tableset, tbl, key) DO UPDATE SET version = excluded.version, data = excluded.data",
    );
    this.remove = db.prepare("DELETE FROM rows WHERE tableset = ? AND tbl = ? AND key = ?");
    this.drop = db.prepare("DELETE FROM rows WHERE tableset = ?");
    this.meta = db.prepare(
      "INSERT INTO meta (name, value) VALUES (?, ?) " +
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    );
  }

  handle(message: WorkerRequest): WorkerReply | undefined {
    switch (message.op) {
      case "begin":
        this.failure = undefined;
        this.run(() => {
          this.db.exec("BEGIN");
          this.open = true;
        });
        return undefined;
      case "rows":
        this.run(() => {
          for (const [tableset, table, key, version, data] of message.puts)
            this.put.run(tableset, table, key, version, data);
          for (const [tableset, table, key] of message.deletes)
            this.remove.run(tableset, table, key);
        });
        return undefined;
      case "drop":
        this.run(() => this.drop.run(message.tableset));
        return undefined;
      case "commit": {
        this.run(() => {
          this.meta.run("state", message.state);
          if (message.tables !== undefined) this.meta.run("tables", message.tables);
          this.db.exec("COMMIT");
          this.open = false;
        });
        const failure = this.failure;
        if (this.open) {
          try {
            this.db.exec("ROLLBACK");
          } catch {
            // The transaction is gone already (SQLite rolls back on some errors itself).
          }
          this.open = false;
        }
        this.failure = undefined;
        return failure === undefined ? { id: message.id } : { id: message.id, error: failure };
      }
      case "save":
        this.handle({ op: "begin" });
        for (const tableset of message.drops) this.handle({ op: "drop", tableset });
        this.handle({ op: "rows", puts: message.puts, deletes: message.deletes });
        return this.handle({
          op: "commit",
          id: message.id,
          state: message.state,
          ...(message.tables !== undefined ? { tables: message.tables } : {}),
        });
      case "close":
        this.db.close();
        return { id: message.id };
    }
  }

  /** Runs a step unless the save already failed; remembers the first failure. */
  private run(step: () => void): void {
    if (this.failure !== undefined) return;
    try {
      step();
    } catch (e) {
      this.failure = e instanceof Error ? e.message : String(e);
    }
  }
}
