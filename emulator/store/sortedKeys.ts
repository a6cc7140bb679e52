/**
 * A sorted set of strings that stays cheap to change at a million entries: the ordered index of
 * the store (primary-key order, and the rows of one value of a secondary index).
 *
 * The keys live in chunks of at most {@link MAX_CHUNK} sorted strings, with the last key of each
 * chunk in a sorted array beside them. Adding or removing a key is two binary searches and a
 * `splice` inside one chunk (O(log n + chunk)); walking from a key is a binary search, then
 * sequential reads; position `i` (for F&O's `$skip`) is found by summing chunk lengths
 * (O(n / chunk)). Keys added to an empty or unsettled set are only appended and sorted once, at
 * the first read or removal, so a bulk load of n keys costs one O(n log n) sort instead of n
 * inserts.
 *
 * Order is JavaScript's string order (UTF-16 code units), the order of the storage keys.
 */

/** Largest chunk; a chunk that grows past it splits in two halves. */
const MAX_CHUNK = 1024;

/** A sorted set of strings. */
export class SortedKeys {
  private chunks: string[][] = [];
  /** `lasts[i]` is the last (largest) key of `chunks[i]`. */
  private lasts: string[] = [];
  /** Keys added but not yet merged into the chunks (unsorted). */
  private pending: string[] = [];
  private settledSize = 0;

  /** Number of keys. */
  get size(): number {
    return this.settledSize + this.pending.length;
  }

  /**
   * Adds a key. The caller guarantees that it is not present (the store adds a storage key once
   * per row); adding a present key would list it twice.
   */
  add(key: string): void {
    // Appending is O(1); the sort happens at the next read. Only worth it when the set is being
    // filled in bulk, which is when it is empty or already has pending keys.
    if (this.settledSize === 0 || this.pending.length > 0) {
      this.pending.push(key);
      return;
    }
    const last = this.lasts[this.lasts.length - 1] as string;
    if (key > last) {
      // Keys that grow (generated codes, counters) go to the end without a search.
      const chunk = this.chunks[this.chunks.length - 1] as string[];
      chunk.push(key);
      this.lasts[this.lasts.length - 1] = key;
      this.settledSize++;
      if (chunk.length > MAX_CHUNK) this.split(this.chunks.length - 1);
      return;
    }
    const c = this.chunkFor(key);
    const chunk = this.chunks[c] as string[];
    chunk.splice(lowerBound(chunk, key), 0, key);
    this.settledSize++;
    if (chunk.length > MAX_CHUNK) this.split(c);
  }

  /** Removes a key; false when it was not there. */
  delete(key: string): boolean {
    this.settle();
    if (this.settledSize === 0) return false;
    const c = this.chunkFor(key);
    const chunk = this.chunks[c];
    if (!chunk) return false;
    const i = lowerBound(chunk, key);
    if (chunk[i] !== key) return false;
    chunk.splice(i, 1);
    this.settledSize--;
    if (chunk.length === 0) {
      this.chunks.splice(c, 1);
      this.lasts.splice(c, 1);
    } else if (i === chunk.length) {
      this.lasts[c] = chunk[chunk.length - 1] as string;
    }
    return true;
  }

  /** Whether `key` is in the set. */
  has(key: string): boolean {
    this.settle();
    const chunk = this.chunks[this.chunkFor(key)];
    return chunk !== undefined && chunk[lowerBound(chunk, key)] === key;
  }

  /** The keys greater than `after` (every key when undefined), in order. Do not change the set while walking. */
  *after(after?: string): Generator<string, void, undefined> {
    this.settle();
    let c = after === undefined ? 0 : this.chunkFor(after);
    let i = 0;
    if (after !== undefined) {
      const chunk = this.chunks[c];
      if (!chunk) return;
      i = upperBound(chunk, after);
    }
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c] as string[];
      for (; i < chunk.length; i++) yield chunk[i] as string;
    }
  }

  /** The keys from position `index` (0 = the smallest) on, in order. */
  *fromPosition(index: number): Generator<string, void, undefined> {
    this.settle();
    let c = 0;
    let skip = Math.max(0, Math.floor(index));
    while (c < this.chunks.length && skip >= (this.chunks[c] as string[]).length) {
      skip -= (this.chunks[c] as string[]).length;
      c++;
    }
    for (let i = skip; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c] as string[];
      for (; i < chunk.length; i++) yield chunk[i] as string;
    }
  }

  /** Index of the chunk that holds `key` or would hold it (the last chunk for keys above all). */
  private chunkFor(key: string): number {
    const c = lowerBound(this.lasts, key);
    return Math.min(c, this.chunks.length - 1);
  }

  private split(c: number): void {
    const chunk = this.chunks[c] as string[];
    const right = chunk.splice(chunk.length >>> 1);
    this.chunks.splice(c + 1, 0, right);
    this.lasts.splice(c, 1, chunk[chunk.length - 1] as string, right[right.length - 1] as string);
  }

  /** Merges pending keys: one sort, then either inserts (few) or a rebuild (many). */
  private settle(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    if (pending.length < 64 && this.settledSize > 0) {
      for (const key of pending) this.add(key);
      return;
    }
    pending.sort(compare);
    const all = this.settledSize === 0 ? pending : mergeSorted(this.flatten(), pending);
    this.chunks = [];
    this.lasts = [];
    // Chunks start three quarters full, so that the next adds rarely split at once.
    const size = (MAX_CHUNK * 3) >>> 2;
    for (let i = 0; i < all.length; i += size) {
      const chunk = all.slice(i, i + size);
      this.chunks.push(chunk);
      this.lasts.push(chunk[chunk.length - 1] as string);
    }
    this.settledSize = all.length;
  }

  private flatten(): string[] {
    const out: string[] = [];
    for (const chunk of this.chunks) for (const key of chunk) out.push(key);
    return out;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First index whose value is ≥ `key`. */
function lowerBound(values: readonly string[], key: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as string) < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > `key`. */
function upperBound(values: readonly string[], key: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((values[mid] as string) <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function mergeSorted(a: readonly string[], b: readonly string[]): string[] {
  const out: string[] = new Array<string>(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length)
    out[k++] = (a[i] as string) <= (b[j] as string) ? (a[i++] as string) : (b[j++] as string);
  while (i < a.length) out[k++] = a[i++] as string;
  while (j < b.length) out[k++] = b[j++] as string;
  return out;
}
