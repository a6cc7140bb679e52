/**
 * Persistence: with a data directory, everything an emulator acknowledged survives a restart.
 *
 * The whole state (environments, every table set, the dual-write runtime, settings, emulated
 * time) is one JSON snapshot, `state.json`. A surface calls `ctx.persist()` after a write and
 * before it answers; the snapshot is written to a temporary file, flushed to disk and renamed
 * over the old one, so a crash leaves either the old or the new state, never half of one.
 * Concurrent calls coalesce: while one snapshot is being written, every new caller waits for
 * the next one, which is taken after their writes and covers all of them.
 *
 * Without a data directory the emulator is memory-only and `persist()` returns at once.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { EmulatorContext, EmulatorSettings, EnvironmentPair } from "../core/context";
import { applySettings } from "../core/settings";
import { TableSet, type TableSetSnapshot } from "./tables";

/** File name of the snapshot inside a data directory. */
export const STATE_FILE = "state.json";

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

/** The JSON content of `state.json`. */
export interface EmulatorSnapshot {
  readonly format: 1;
  /** Wall-clock time of the save, ISO 8601 (for people reading the file). */
  readonly savedAt: string;
  readonly clock: ClockState;
  readonly settings: EmulatorSettings;
  readonly environments: EnvironmentPair[];
  readonly dataverse: TableSetSnapshot[];
  readonly fno: TableSetSnapshot[];
  readonly runtime: unknown;
}

/** Takes the snapshot of a running emulator. */
export function captureSnapshot(
  ctx: EmulatorContext,
  runtime: PersistentRuntime,
): EmulatorSnapshot {
  return {
    format: 1,
    savedAt: new Date().toISOString(),
    clock: { now: ctx.clock.now(), speed: ctx.clock.speed },
    settings: { ...ctx.settings },
    environments: [...ctx.environments.values()],
    dataverse: [...ctx.dataverse.values()].map((t) => t.snapshot()),
    fno: [...ctx.fno.values()].map((t) => t.snapshot()),
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
  for (const s of snapshot.dataverse) ctx.dataverse.set(s.instance, TableSet.restore(s));
  for (const s of snapshot.fno) ctx.fno.set(s.instance, TableSet.restore(s));
  for (const pair of snapshot.environments) ctx.environments.set(pair.name, pair);
  runtime.restore(snapshot.runtime);
  for (const pair of snapshot.environments) runtime.attach(pair);
}

/** Reads `state.json` from a data directory; undefined when there is none yet. */
export async function readSnapshot(dataDir: string): Promise<EmulatorSnapshot | undefined> {
  const path = join(dataDir, STATE_FILE);
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new Error(
      `${path} is not valid JSON (${(e as Error).message}). The emulator writes it atomically, so ` +
        `this file was changed by something else; restore it or delete it to start empty.`,
      { cause: e },
    );
  }
  const v = value as Partial<EmulatorSnapshot> | null;
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
  return v as EmulatorSnapshot;
}

/** Writes snapshots of one emulator to its data directory, one at a time, coalescing callers. */
export class SnapshotWriter {
  private inFlight: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private closed = false;

  /**
   * @param dataDir where `state.json` goes; undefined = memory only.
   * @param capture takes the snapshot; called synchronously when a write starts.
   */
  constructor(
    private readonly dataDir: string | undefined,
    private readonly capture: () => EmulatorSnapshot,
  ) {}

  /** Whether snapshots go to disk. */
  get enabled(): boolean {
    return this.dataDir !== undefined;
  }

  /**
   * Resolves once a snapshot taken after this call is on disk (at once when memory-only).
   * Rejects when that write fails, so the caller does not acknowledge an unsaved write.
   */
  persist(): Promise<void> {
    if (this.dataDir === undefined || this.closed) return Promise.resolve();
    // A write that starts after the current one already covers this caller: share it.
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

  /** Waits for pending writes, then stops writing (a closing emulator saves nothing more). */
  async close(): Promise<void> {
    await (this.queued ?? this.inFlight)?.catch(() => undefined);
    this.closed = true;
  }

  private start(): Promise<void> {
    // Serialize now, synchronously: the snapshot reflects exactly the writes made so far.
    const text = JSON.stringify(this.capture());
    const write = writeFileAtomic(join(this.dataDir!, STATE_FILE), text, 0o600).finally(() => {
      if (this.inFlight === write) this.inFlight = undefined;
    });
    this.inFlight = write;
    return write;
  }
}

/**
 * Writes a file atomically and durably: temporary file in the same directory, fsync, rename over
 * the target, then fsync of the directory (where the platform allows) so the rename itself is on disk.
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
