/**
 * Persistence: with a data directory, everything an emulator acknowledged survives a restart and
 * a kill, at a million rows per side (ADR 0006).
 *
 * The state lives in one SQLite file, `state.db` (`sqlite.ts`): every stored row as its own
 * record, plus one small JSON document (clock, settings, environment pairs, the dual-write
 * runtime's state, the table definitions). A surface calls `ctx.persist()` after a write and
 * before it answers; `SnapshotWriter` then saves **only the rows that changed** since its last
 * save (each `TableSet` reports its committed changes to a change sink) and the document, in one
 * transaction committed with fsync by a worker thread (`persistenceWorker.ts`), and resolves once
 * that commit is on disk. A table set seen for the first time (a new seed, a restored legacy
 * file) is saved whole, a chunk of rows at a time, yielding to the event loop between chunks.
 *
 * Concurrent calls coalesce: while one save runs, every new caller waits for the next one, which
 * is taken after their writes and covers all of them. A failed save rejects its callers (their
 * requests answer an error, and the request's transaction rolls their writes back,
 * `transaction.ts`) and keeps its changes for the next save. Changes nobody persisted (a table
 * written directly in a test, a rollback) are saved by a background save shortly after.
 *
 * Without a data directory the emulator is memory-only and `persist()` returns at once.
 *
 * A data directory written by an older emulator (`state.json`, one JSON snapshot of everything)
 * is imported into `state.db` on start and renamed `state.json.imported`.
 */
import { randomBytes } from "node:crypto";
import { existsSync, renameSync } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import type { EmulatorContext, EmulatorSettings, EnvironmentPair } from "../core/context";
import { applySettings } from "../core/settings";
import type { DatabaseSync } from "node:sqlite";
import { dataverseTableDefinitions, financeOperationsTableDefinitions } from "./schema";
import {
  type DeleteRow,
  FSYNC_ENV,
  openDatabase,
  type PutRow,
  StoreWriter,
  type WorkerReply,
  type WorkerRequest,
} from "./sqlite";
import {
  type StoredRow,
  type StoreKind,
  type TableDefinition,
  TableSet,
  type TableSetSnapshot,
} from "./tables";

/** File name of the store inside a data directory. */
export const STORE_FILE = "state.db";

/** File name of the single JSON snapshot older emulators wrote (imported once). */
export const LEGACY_STATE_FILE = "state.json";

/** What the dual-write runtime offers persistence (implemented by `DualWriteRuntime`). */
export interface PersistentRuntime {
  snapshot(): unknown;
  restore(data: unknown): void;
  /** Hooks the runtime's write listeners onto a restored pair's table sets. */
  attach(pair: EnvironmentPair): void;
}

/** Emulated time as saved, so a restarted emulator does not jump back. */
export interface ClockState {
  readonly now: number;
  readonly speed: number;
}

/**
 * The emulator's state at one moment: the small parts as values, the table sets by reference
 * (the writer saves what changed in them; a restored snapshot carries them loaded).
 */
export interface EmulatorSnapshot {
  readonly format: 2;
  /** Wall-clock time of the capture, ISO 8601 (for people reading the file). */
  readonly savedAt: string;
  readonly clock: ClockState;
  readonly settings: EmulatorSettings;
  readonly environments: EnvironmentPair[];
  readonly dataverse: readonly TableSet[];
  readonly fno: readonly TableSet[];
  readonly runtime: unknown;
}

/** One table set in the saved document: where its rows belong and its version counter. */
interface SavedTableSet {
  readonly kind: StoreKind;
  readonly instance: string;
  readonly nextVersion: number;
}

/** The `state` document of `state.db` (saved with every save; small). */
interface StateDocument {
  readonly format: 2;
  readonly savedAt: string;
  readonly clock: ClockState;
  readonly settings: EmulatorSettings;
  readonly environments: EnvironmentPair[];
  readonly runtime: unknown;
  readonly sets: readonly SavedTableSet[];
}

/**
 * The `tables` document of `state.db`: each table set's table definitions, by table set id
 * (saved only when they change, which is rarely: they are most of the state's size).
 */
type TablesDocument = Record<string, readonly TableDefinition[]>;

/** Takes the snapshot of a running emulator (cheap: table sets are not copied). */
export function captureSnapshot(
  ctx: EmulatorContext,
  runtime: PersistentRuntime,
): EmulatorSnapshot {
  return {
    format: 2,
    savedAt: new Date().toISOString(),
    clock: { now: ctx.clock.now(), speed: ctx.clock.speed },
    settings: { ...ctx.settings },
    environments: [...ctx.environments.values()],
    dataverse: [...ctx.dataverse.values()],
    fno: [...ctx.fno.values()],
    runtime: runtime.snapshot(),
  };
}

/**
 * Puts a snapshot back into an empty context: environments, table sets, settings, then the
 * runtime's own state, and finally hooks the runtime onto every pair's tables.
 * (Emulated time is restored by whoever builds the clock, from `snapshot.clock`.)
 */
export function restoreSnapshot(
  ctx: EmulatorContext,
  runtime: PersistentRuntime,
  snapshot: EmulatorSnapshot,
): void {
  applySettings(ctx.settings, snapshot.settings);
  for (const set of snapshot.dataverse) ctx.dataverse.set(set.instance, set);
  for (const set of snapshot.fno) ctx.fno.set(set.instance, set);
  for (const pair of snapshot.environments) ctx.environments.set(pair.name, pair);
  runtime.restore(snapshot.runtime);
  for (const pair of snapshot.environments) runtime.attach(pair);
}

/** Table sets whose rows are on disk as they are (loaded, or saved whole): saved by change only. */
const onDisk = new WeakSet<TableSet>();

/**
 * Reads the state of a data directory: `state.db`, else a legacy `state.json` (imported into
 * `state.db` at once); undefined when there is neither (or the store was never committed to).
 * Loading blocks while it runs (a million rows take seconds), before the emulator listens.
 */
export async function readSnapshot(dataDir: string): Promise<EmulatorSnapshot | undefined> {
  const path = join(dataDir, STORE_FILE);
  if (existsSync(path)) return loadStore(path);
  const legacy = join(dataDir, LEGACY_STATE_FILE);
  if (!existsSync(legacy)) return undefined;
  const snapshot = await readLegacySnapshot(legacy);
  saveWhole(path, snapshot);
  renameSync(legacy, `${legacy}.imported`);
  return snapshot;
}

/** The table set id used in `state.db`: `dataverse/<org>`, `fno/<env>`. */
function setId(set: { readonly kind: StoreKind; readonly instance: string }): string {
  return `${set.kind}/${set.instance}`;
}

/** The code's current definitions (they win over saved ones: new indexes apply to old data). */
function currentDefinitions(kind: StoreKind): Map<string, TableDefinition> {
  const defs = kind === "fno" ? financeOperationsTableDefinitions() : dataverseTableDefinitions();
  return new Map(defs.map((d) => [d.name, d]));
}

function loadStore(path: string): EmulatorSnapshot | undefined {
  let db;
  try {
    db = openDatabase(path);
  } catch (e) {
    throw new Error(
      `${path} is not an emulator store (${(e as Error).message}); restore it or delete it to start empty.`,
      { cause: e },
    );
  }
  try {
    const meta = db.prepare("SELECT value FROM meta WHERE name = 'state'").get();
    if (!meta) return undefined;
    let doc: StateDocument;
    try {
      doc = JSON.parse(String(meta.value)) as StateDocument;
    } catch (e) {
      throw new Error(
        `${path} holds an unreadable state document (${(e as Error).message}); restore it or delete it to start empty.`,
        { cause: e },
      );
    }
    if (doc.format !== 2 || !Array.isArray(doc.sets) || !Array.isArray(doc.environments))
      throw new Error(
        `${path} is not an emulator store of format 2; restore it or delete it to start empty.`,
      );
    const tablesRow = db.prepare("SELECT value FROM meta WHERE name = 'tables'").get();
    const definitions = (tablesRow ? JSON.parse(String(tablesRow.value)) : {}) as TablesDocument;
    const sets = new Map<string, TableSet>();
    const savedSets: readonly SavedTableSet[] = doc.sets;
    for (const saved of savedSets) {
      const set = new TableSet(saved.kind, saved.instance);
      const current = currentDefinitions(saved.kind);
      for (const def of definitions[setId(saved)] ?? []) set.define(current.get(def.name) ?? def);
      for (const def of current.values()) set.define(def);
      set.restoreVersion(saved.nextVersion);
      sets.set(setId(saved), set);
    }
    const rows = db.prepare(
      "SELECT tableset, tbl, key, version, data FROM rows ORDER BY tableset, tbl, key",
    );
    rows.setReturnArrays(true);
    for (const record of rows.iterate() as Iterable<unknown[]>) {
      const [tableset, table, key, version, data] = record as [
        string,
        string,
        string,
        number,
        string,
      ];
      const set = sets.get(tableset);
      if (!set?.definition(table)) continue;
      set.load(table, key, { row: JSON.parse(data) as StoredRow["row"], version: Number(version) });
    }
    for (const set of sets.values()) onDisk.add(set);
    const all = [...sets.values()];
    return {
      format: 2,
      savedAt: doc.savedAt,
      clock: doc.clock,
      settings: doc.settings,
      environments: doc.environments,
      dataverse: all.filter((s) => s.kind === "dataverse"),
      fno: all.filter((s) => s.kind === "fno"),
      runtime: doc.runtime,
    };
  } finally {
    db.close();
  }
}

/** The content of a format-1 `state.json`. */
interface LegacySnapshot {
  readonly format: 1;
  readonly savedAt: string;
  readonly clock: ClockState;
  readonly settings: EmulatorSettings;
  readonly environments: EnvironmentPair[];
  readonly dataverse: TableSetSnapshot[];
  readonly fno: TableSetSnapshot[];
  readonly runtime: unknown;
}

async function readLegacySnapshot(path: string): Promise<EmulatorSnapshot> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(
      `${path} is not valid JSON (${(e as Error).message}). The emulator wrote it atomically, so ` +
        `this file was changed by something else; restore it or delete it to start empty.`,
      { cause: e },
    );
  }
  const v = value as Partial<LegacySnapshot> | null;
  if (
    !v ||
    v.format !== 1 ||
    !Array.isArray(v.environments) ||
    !Array.isArray(v.dataverse) ||
    !Array.isArray(v.fno)
  ) {
    throw new Error(
      `${path} is not an emulator snapshot (format 1); restore it or delete it to start empty.`,
    );
  }
  const s = v as LegacySnapshot;
  const restore = (t: TableSetSnapshot) => TableSet.restore(t, currentDefinitions(t.kind));
  return {
    format: 2,
    savedAt: s.savedAt,
    clock: s.clock,
    settings: s.settings,
    environments: s.environments,
    dataverse: s.dataverse.map(restore),
    fno: s.fno.map(restore),
    runtime: s.runtime,
  };
}

/** Writes a whole snapshot into a new `state.db` in one transaction (the legacy import). */
function saveWhole(path: string, snapshot: EmulatorSnapshot): void {
  const db = openDatabase(path);
  try {
    const put = db.prepare(
      "INSERT OR REPLACE INTO rows (tableset, tbl, key, version, data) VALUES (?, ?, ?, ?, ?)",
    );
    db.exec("BEGIN");
    for (const set of [...snapshot.dataverse, ...snapshot.fno]) {
      for (const table of set.tableNames()) {
        const { keys } = set.access(table, new Map());
        for (const [key, stored] of set.walk(table, keys))
          put.run(setId(set), table, key, stored.version, JSON.stringify(stored.row));
      }
      onDisk.add(set);
    }
    const meta = db.prepare("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)");
    meta.run("state", stateText(snapshot).text);
    meta.run("tables", tablesText(snapshot));
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

/**
 * The `state` document as text, and the same without the clock and the time of the save (what
 * says whether anything but time changed since the last save). One serialization for both.
 */
function stateText(snapshot: EmulatorSnapshot): { text: string; comparable: string } {
  const rest: Omit<StateDocument, "savedAt" | "clock"> = {
    format: 2,
    settings: snapshot.settings,
    environments: snapshot.environments,
    runtime: snapshot.runtime,
    sets: [...snapshot.dataverse, ...snapshot.fno].map((set) => ({
      kind: set.kind,
      instance: set.instance,
      nextVersion: set.versionCounter,
    })),
  };
  const comparable = JSON.stringify(rest);
  const time = JSON.stringify({ savedAt: snapshot.savedAt, clock: snapshot.clock });
  return { text: `${time.slice(0, -1)},${comparable.slice(1)}`, comparable };
}

/** The `tables` document as text. */
function tablesText(snapshot: EmulatorSnapshot): string {
  const doc: Record<string, TableDefinition[]> = {};
  for (const set of [...snapshot.dataverse, ...snapshot.fno])
    doc[setId(set)] = set.tableNames().map((name) => set.definition(name) as TableDefinition);
  return JSON.stringify(doc);
}

/** Rows of one table set changed since its last save: table → storage key → row (undefined: deleted). */
type Changes = Map<string, Map<string, StoredRow | undefined>>;

/** What one save writes. */
interface Save {
  /** Table sets written whole (rows captured when the save started, in key order). */
  readonly whole: Array<{ set: TableSet; rows: Array<[string, string, StoredRow]> }>;
  /** Changed rows of the other table sets. */
  readonly changed: Array<{ set: TableSet; changes: Changes }>;
  /** Table sets that left the emulator. */
  readonly dropped: string[];
  readonly state: string;
  /** The `tables` document, when a table set came or went since the last save. */
  readonly tables?: string;
}

/** Rows per message to the worker (and per turn of the event loop in a big save). */
const CHUNK = 5_000;

/**
 * Largest save committed on the main thread: a request's few rows, when commits do not wait for
 * an fsync, take microseconds — less than a round trip to the worker.
 */
const LOCAL_SAVE_ROWS = 1_000;

/** Delay of the background save of changes nobody persisted. */
const BACKGROUND_SAVE_MS = 200;

/** Saves an emulator's state to its data directory, one save at a time, coalescing callers. */
export class SnapshotWriter {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;
  private readonly tracked = new Map<TableSet, Changes>();
  private worker: Worker | undefined;
  /** The main thread's own connection, for small saves (see `LOCAL_SAVE_ROWS`). */
  private local: { db: DatabaseSync; writer: StoreWriter } | undefined;
  private readonly replies = new Map<number, { resolve(): void; reject(e: Error): void }>();
  private nextId = 1;
  /** The state document of the last save, without clock and time (to skip saves of nothing). */
  private lastState: string | undefined;
  /** Whether the `tables` document of the current table sets was saved. */
  private tablesSaved = false;
  private background: NodeJS.Timeout | undefined;

  /**
   * @param dataDir where `state.db` goes; undefined = memory only.
   * @param capture takes the snapshot; called synchronously when a save starts.
   */
  constructor(
    private readonly dataDir: string | undefined,
    private readonly capture: () => EmulatorSnapshot,
  ) {}

  /** Whether saves go to disk. */
  get enabled(): boolean {
    return this.dataDir !== undefined;
  }

  /**
   * Resolves once a save taken after this call is committed to disk (at once when memory-only).
   * Rejects when that save fails, so the caller does not acknowledge an unsaved write.
   */
  persist(): Promise<void> {
    if (this.dataDir === undefined || this.closed) return Promise.resolve();
    // A save that starts after the current one already covers this caller: share it.
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.start();
    this.queued = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /**
   * Waits for pending saves, saves what changed since (rows written without a `persist()`), then
   * stops saving: a closing emulator saves nothing more.
   */
  async close(): Promise<void> {
    await (this.queued ?? this.inFlight)?.catch(() => undefined);
    await this.persist().catch(() => undefined);
    this.closed = true;
    if (this.background) clearTimeout(this.background);
    for (const set of this.tracked.keys()) set.setChangeSink(undefined);
    this.local?.db.close();
    this.local = undefined;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) {
      await this.request(worker, { op: "close", id: this.nextId++ }).catch(() => undefined);
      await worker.terminate();
    }
  }

  private start(): Promise<void> {
    // Capture now, synchronously: the save reflects exactly the writes made so far.
    const save = this.collect(this.capture());
    if (!save) return Promise.resolve();
    const write = this.write(save)
      .catch((e: unknown) => {
        this.giveBack(save);
        throw e;
      })
      .finally(() => {
        if (this.inFlight === write) this.inFlight = undefined;
      });
    this.inFlight = write;
    return write;
  }

  /** What changed since the last save, or undefined when nothing did. */
  private collect(snapshot: EmulatorSnapshot): Save | undefined {
    const sets = [...snapshot.dataverse, ...snapshot.fno];
    const present = new Set(sets);
    const dropped: string[] = [];
    for (const set of [...this.tracked.keys()]) {
      if (present.has(set)) continue;
      set.setChangeSink(undefined);
      this.tracked.delete(set);
      if (!sets.some((s) => setId(s) === setId(set))) dropped.push(setId(set));
    }
    const whole: Save["whole"] = [];
    const changed: Save["changed"] = [];
    for (const set of sets) {
      const changes = this.tracked.get(set);
      if (changes) {
        if (changes.size > 0) {
          changed.push({ set, changes });
          this.tracked.set(set, new Map<string, Map<string, StoredRow | undefined>>());
        }
        continue;
      }
      this.track(set);
      if (onDisk.has(set)) continue;
      const rows: Array<[string, string, StoredRow]> = [];
      for (const table of set.tableNames()) {
        const { keys } = set.access(table, new Map());
        for (const [key, stored] of set.walk(table, keys)) rows.push([table, key, stored]);
      }
      whole.push({ set, rows });
    }
    const { text, comparable } = stateText(snapshot);
    if (
      whole.length === 0 &&
      changed.length === 0 &&
      dropped.length === 0 &&
      comparable === this.lastState
    )
      return undefined;
    this.lastState = comparable;
    // Table definitions only change with the table sets (a seed, a restore).
    const tables =
      whole.length > 0 || dropped.length > 0 || !this.tablesSaved
        ? tablesText(snapshot)
        : undefined;
    this.tablesSaved = true;
    return { whole, changed, dropped, state: text, ...(tables !== undefined ? { tables } : {}) };
  }

  /** Starts collecting a table set's changes (every committed row change is recorded). */
  private track(set: TableSet): void {
    this.tracked.set(set, new Map<string, Map<string, StoredRow | undefined>>());
    set.setChangeSink((table, key, stored) => {
      const changes = this.tracked.get(set);
      if (!changes) return;
      let perTable = changes.get(table);
      if (!perTable) changes.set(table, (perTable = new Map<string, StoredRow | undefined>()));
      perTable.set(key, stored);
      this.scheduleBackgroundSave();
    });
  }

  /** A save shortly after a change, for changes whose writer does not call `persist()`. */
  private scheduleBackgroundSave(): void {
    if (this.background || this.closed) return;
    this.background = setTimeout(() => {
      this.background = undefined;
      this.persist().catch(() => {
        // The next save retries the changes; callers who waited were told.
      });
    }, BACKGROUND_SAVE_MS);
    this.background.unref();
  }

  /** Puts the changes of a failed save back, under any newer change of the same row. */
  private giveBack(save: Save): void {
    this.lastState = undefined;
    if (save.tables !== undefined) this.tablesSaved = false;
    for (const { set } of save.whole) {
      if (!this.tracked.has(set)) continue;
      // Saved whole again next time.
      set.setChangeSink(undefined);
      this.tracked.delete(set);
    }
    for (const { set, changes } of save.changed) {
      const current = this.tracked.get(set);
      if (!current) continue;
      for (const [table, rows] of changes) {
        let perTable = current.get(table);
        if (!perTable) current.set(table, (perTable = new Map<string, StoredRow | undefined>()));
        for (const [key, stored] of rows) if (!perTable.has(key)) perTable.set(key, stored);
      }
    }
  }

  /** Sends a save to the worker (in chunks when big) and waits for its commit. */
  private async write(save: Save): Promise<void> {
    const commit = {
      id: this.nextId++,
      state: save.state,
      ...(save.tables !== undefined ? { tables: save.tables } : {}),
    };
    let rows = 0;
    for (const { rows: r } of save.whole) rows += r.length;
    for (const { changes } of save.changed) for (const t of changes.values()) rows += t.size;
    if (rows <= CHUNK) {
      // The usual save of a request: a few rows, one message, one answer — or no message at all
      // when commits do not wait for the disk.
      const { puts, deletes } = this.encode(save);
      const drops = [...save.dropped, ...save.whole.map(({ set }) => setId(set))];
      const message = { op: "save", drops, puts, deletes, ...commit } as const;
      if (rows <= LOCAL_SAVE_ROWS && process.env[FSYNC_ENV] !== "1") {
        const reply = this.localWriter().handle(message);
        if (reply?.error !== undefined) throw this.saveError(reply.error);
      } else await this.request(this.workerFor(), message);
    } else {
      const worker = this.workerFor();
      worker.ref();
      worker.postMessage({ op: "begin" } satisfies WorkerRequest);
      for (const id of save.dropped) worker.postMessage({ op: "drop", tableset: id });
      let puts: PutRow[] = [];
      let deletes: DeleteRow[] = [];
      const flush = async (): Promise<void> => {
        worker.postMessage({ op: "rows", puts, deletes } satisfies WorkerRequest);
        puts = [];
        deletes = [];
        // A big save gives the event loop a turn between chunks (requests go on being answered).
        await yieldToEventLoop();
      };
      for (const { set, rows: whole } of save.whole) {
        const id = setId(set);
        worker.postMessage({ op: "drop", tableset: id } satisfies WorkerRequest);
        for (const [table, key, stored] of whole) {
          puts.push([id, table, key, stored.version, JSON.stringify(stored.row)]);
          if (puts.length >= CHUNK) await flush();
        }
      }
      for (const { set, changes } of save.changed) {
        const id = setId(set);
        for (const [table, changed] of changes) {
          for (const [key, stored] of changed) {
            if (stored) puts.push([id, table, key, stored.version, JSON.stringify(stored.row)]);
            else deletes.push([id, table, key]);
            if (puts.length + deletes.length >= CHUNK) await flush();
          }
        }
      }
      if (puts.length + deletes.length > 0) await flush();
      await this.request(worker, { op: "commit", ...commit });
    }
    for (const { set } of save.whole) onDisk.add(set);
  }

  /** The rows of a small save, as the worker takes them. */
  private encode(save: Save): { puts: PutRow[]; deletes: DeleteRow[] } {
    const puts: PutRow[] = [];
    const deletes: DeleteRow[] = [];
    for (const { set, rows } of save.whole) {
      const id = setId(set);
      for (const [table, key, stored] of rows)
        puts.push([id, table, key, stored.version, JSON.stringify(stored.row)]);
    }
    for (const { set, changes } of save.changed) {
      const id = setId(set);
      for (const [table, changed] of changes)
        for (const [key, stored] of changed)
          if (stored) puts.push([id, table, key, stored.version, JSON.stringify(stored.row)]);
          else deletes.push([id, table, key]);
    }
    return { puts, deletes };
  }

  /** The error of a failed save. */
  private saveError(detail: string): Error {
    return new Error(`Saving to ${join(this.dataDir as string, STORE_FILE)} failed: ${detail}`);
  }

  /** The main thread's connection, opened on first use. */
  private localWriter(): StoreWriter {
    if (!this.local) {
      const db = openDatabase(join(this.dataDir as string, STORE_FILE));
      this.local = { db, writer: new StoreWriter(db) };
    }
    return this.local.writer;
  }

  /** The worker thread, started on first use (and again after it died). */
  private workerFor(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(join(__dirname, "persistenceWorker.js"), {
      workerData: { path: join(this.dataDir as string, STORE_FILE) },
    });
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      const waiter = this.replies.get(reply.id);
      if (!waiter) return;
      this.replies.delete(reply.id);
      if (reply.error === undefined) waiter.resolve();
      else waiter.reject(this.saveError(reply.error));
    });
    const fail = (e: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.replies.values()) waiter.reject(e);
      this.replies.clear();
    };
    worker.on("error", (e) => fail(e));
    worker.on("exit", (code) => fail(new Error(`The persistence worker stopped (exit ${code}).`)));
    this.worker = worker;
    return worker;
  }

  /**
   * Posts a request that the worker answers, and waits for the answer. The worker keeps the
   * process alive only while a save is sent or an answer awaited (an idle emulator may exit).
   */
  private request(worker: Worker, message: Extract<WorkerRequest, { id: number }>): Promise<void> {
    worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.replies.set(message.id, { resolve, reject });
      worker.postMessage(message);
    }).finally(() => {
      if (this.replies.size === 0) worker.unref();
    });
  }
}

/**
 * Writes a file atomically and durably: temporary file in the same directory, fsync, rename over
 * the target, then fsync of the directory (where the platform allows) so the rename itself is on
 * disk. (The identity registration, `identity.json`, is saved this way.)
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    const handle = await open(tmp, "w", mode);
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dir);
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Windows cannot open a directory for fsync; its rename is already durable enough there.
  }
}
