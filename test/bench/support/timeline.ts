/**
 * What the emulator's request log says about time: each request's start and end, the longest
 * chain of requests that ran one after another (the part latency multiplies), and how many map
 * transitions overlapped.
 *
 * The log keeps the emulated arrival time (`at`); at clock ×1 that is wall time. The end of each
 * request comes from the in-process emulator's `onRequest` hook (called when the answer is
 * written), recorded by {@link RequestEnds}.
 */
import type { RequestLogEntry } from "../../../emulator/index";

/** Records when each logged request ended; pass {@link RequestEnds.hook} as `onRequest`. */
export class RequestEnds {
  private readonly ends = new Map<number, number>();

  /** The emulator's `onRequest`: the end of the request, in wall-clock milliseconds. */
  readonly hook = (entry: RequestLogEntry): void => {
    this.ends.set(entry.seq, Date.now());
  };

  /** When request `seq` ended (its start when unknown: a request cut off before an answer). */
  endOf(entry: RequestLogEntry): number {
    return this.ends.get(entry.seq) ?? Date.parse(entry.at);
  }
}

/** A request on the timeline. */
export interface TimedRequest {
  readonly entry: RequestLogEntry;
  readonly start: number;
  readonly end: number;
  /** `gateway POST DWM/Start`: surface, method and path with ids replaced by `{id}`. */
  readonly pattern: string;
}

/** The requests of a log slice on the timeline, by start. */
export function timelineOf(entries: readonly RequestLogEntry[], ends: RequestEnds): TimedRequest[] {
  return entries
    .map((entry) => ({
      entry,
      start: Date.parse(entry.at),
      end: ends.endOf(entry),
      pattern: patternOf(entry),
    }))
    .sort((a, b) => a.start - b.start || a.entry.seq - b.entry.seq);
}

/** `gateway POST DWM/Status/{id}`: ids, numbers and company codes of a path made generic. */
export function patternOf(entry: RequestLogEntry): string {
  const path = entry.path
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "{id}")
    .replace(/\([^)]*\)/g, "({key})")
    .replace(/\/\d+(?=\/|$)/g, "/{n}")
    .replace(/^\/api\/DualWriteManagement\/1\.0\//, "DWM/")
    .replace(/^\/api\/data\/v9\.\d\//, "")
    .replace(/^\/data\//, "")
    .replace(/^\/api\//, "api/")
    .replace(/^\//, "");
  return `${entry.surface} ${entry.method} ${path}`;
}

/**
 * Requests of a log slice by pattern, most frequent first, ties by pattern:
 * `["dataverse GET accounts", 3]` — where the requests of an operation go.
 */
export function countByPattern(entries: readonly RequestLogEntry[]): [string, number][] {
  const totals = new Map<string, number>();
  for (const e of entries) {
    const pattern = patternOf(e);
    totals.set(pattern, (totals.get(pattern) ?? 0) + 1);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * The longest chain of requests where each starts after the previous one ended: requests that
 * no concurrency overlapped, so every millisecond of latency on each of them adds to the wall time.
 */
export function longestSerialChain(requests: readonly TimedRequest[]): TimedRequest[] {
  const byEnd = [...requests].sort((a, b) => a.end - b.end);
  const length = new Map<TimedRequest, number>();
  const previous = new Map<TimedRequest, TimedRequest | undefined>();
  for (const r of requests) {
    let best = 0;
    let before: TimedRequest | undefined;
    for (const p of byEnd) {
      if (p.end > r.start) break;
      const l = length.get(p) ?? 0;
      if (l > best) {
        best = l;
        before = p;
      }
    }
    length.set(r, best + 1);
    previous.set(r, before);
  }
  let last: TimedRequest | undefined;
  for (const r of requests) if (!last || (length.get(r) ?? 0) > (length.get(last) ?? 0)) last = r;
  const chain: TimedRequest[] = [];
  for (let r = last; r; r = previous.get(r)) chain.unshift(r);
  return chain;
}

/** A chain summarised by pattern, consecutive repeats folded: `gateway GET DWM/Entities ×3 → …`. */
export function describeChain(chain: readonly TimedRequest[]): string[] {
  const runs: { pattern: string; count: number }[] = [];
  for (const r of chain) {
    const last = runs[runs.length - 1];
    if (last?.pattern === r.pattern) last.count++;
    else runs.push({ pattern: r.pattern, count: 1 });
  }
  return runs.map((r) => (r.count > 1 ? `${r.pattern} ×${r.count}` : r.pattern));
}

/**
 * A folded chain shortened to its first `head` and last `tail` steps, with how many were left out
 * between them.
 */
export function abridged(steps: readonly string[], head = 16, tail = 6): string[] {
  if (steps.length <= head + tail + 1) return [...steps];
  return [
    ...steps.slice(0, head),
    `… ${steps.length - head - tail} more steps …`,
    ...steps.slice(steps.length - tail),
  ];
}

/** Requests of a chain by pattern, most frequent first: `12 gateway GET DWM/Entities`. */
export function chainTotals(chain: readonly TimedRequest[]): string[] {
  const totals = new Map<string, number>();
  for (const r of chain) totals.set(r.pattern, (totals.get(r.pattern) ?? 0) + 1);
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([p, n]) => `${n} × ${p}`);
}

/**
 * The most intervals open at one moment, each `[start, start + durationMs)`: with the map starts
 * of an up and the transition time, how many maps were moving at once.
 */
export function maxOverlap(starts: readonly number[], durationMs: number): number {
  const events = starts.flatMap((s) => [
    { t: s, d: 1 },
    { t: s + durationMs, d: -1 },
  ]);
  events.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let most = 0;
  for (const e of events) {
    open += e.d;
    most = Math.max(most, open);
  }
  return most;
}
