/**
 * Shared reads: within one provider process (one `pulumi preview` or `up`), resources that need
 * the same remote collection — the maps of a connection, the legal entities of an environment —
 * share one request instead of making one each.
 *
 * A read joins a request already in flight for the same key, or takes a result younger than
 * `ttlMs`. Any write through the owning client calls `invalidate` — for every key, or only for the
 * keys the write can change (a map start changes the link's map list, not its connection set) —
 * and a read that was in flight when a write invalidated its key is neither shared with later
 * readers nor cached, so a resource never sees data older than its own writes. Results are copied per reader, so one resource's edits
 * to an array cannot leak into another's.
 */

/** Options of `SharedReads`. */
export interface SharedReadsOptions {
  /** How long a result may be reused. @default 5000 */
  readonly ttlMs?: number;
  /** The clock, injectable for tests. @default Date.now */
  readonly now?: () => number;
}

interface Entry {
  readonly generation: number;
  /** The key's own generation when the load began (`invalidate` with a match bumps it). */
  readonly keyGeneration: number;
  readonly promise: Promise<unknown>;
  /** Set once the load finished successfully. */
  loadedAt?: number;
}

/** A per-key cache of reads in flight and recent results; see the file comment. */
export class SharedReads {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private generation = 0;
  private readonly keyGenerations = new Map<string, number>();
  private loadCount = 0;
  private hitCount = 0;

  constructor(options: SharedReadsOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** Loads made so far (for tests and benchmarks). */
  get loads(): number {
    return this.loadCount;
  }

  /** Reads served from a shared load (for tests and benchmarks). */
  get hits(): number {
    return this.hitCount;
  }

  /**
   * The value for `key`: shared with a load in flight or a recent result, else loaded now.
   * With `fresh`, always loads (and the new result is what later readers share).
   */
  async read<T>(
    key: string,
    load: () => Promise<T>,
    options: { fresh?: boolean } = {},
  ): Promise<T> {
    const entry = this.entries.get(key);
    if (!options.fresh && entry && this.current(key, entry)) {
      const usable = entry.loadedAt === undefined || this.now() - entry.loadedAt < this.ttlMs;
      if (usable) {
        this.hitCount++;
        return structuredClone((await entry.promise) as T);
      }
    }
    this.loadCount++;
    const promise = load();
    const created: Entry = {
      generation: this.generation,
      keyGeneration: this.keyGenerations.get(key) ?? 0,
      promise,
    };
    this.entries.set(key, created);
    try {
      const value = await promise;
      if (this.entries.get(key) === created) {
        if (this.current(key, created)) created.loadedAt = this.now();
        else this.entries.delete(key);
      }
      return structuredClone(value);
    } catch (error) {
      // A failure is not cached: the next reader tries again.
      if (this.entries.get(key) === created) this.entries.delete(key);
      throw error;
    }
  }

  /**
   * Forgets results and detaches reads in flight: of every key, or of the keys `match` accepts
   * (what a write can change); called before and after every write.
   */
  invalidate(match?: (key: string) => boolean): void {
    if (!match) {
      this.generation++;
      this.entries.clear();
      return;
    }
    for (const key of [...this.entries.keys()]) {
      if (!match(key)) continue;
      this.keyGenerations.set(key, (this.keyGenerations.get(key) ?? 0) + 1);
      this.entries.delete(key);
    }
  }

  /** Whether no write invalidated `entry`'s key since its load began. */
  private current(key: string, entry: Entry): boolean {
    return (
      entry.generation === this.generation &&
      entry.keyGeneration === (this.keyGenerations.get(key) ?? 0)
    );
  }
}
