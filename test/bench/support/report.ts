/**
 * What every benchmark script shares: timing, request counts per surface from the emulator's
 * request log, and the printed table.
 *
 * The project measures performance as ratios against a baseline run in the same process (never
 * as timed assertions in tests): absolute milliseconds depend on the machine, a ratio much less.
 * Each table row is `baseline | candidate | ratio`, with the ratio as candidate ÷ baseline.
 *
 * This folder is not a benchmark itself: `npm run bench` runs only the `*.js` files directly in
 * `dist/test/bench/`, so helpers live here, one level down.
 */
import { performance } from "node:perf_hooks";
import type { RequestLogEntry } from "../../../emulator/index";

/** The surfaces a request can reach, in the order tables show them. */
export const SURFACES = ["identity", "gateway", "dataverse", "fno"] as const;

/** One of {@link SURFACES}. */
export type SurfaceName = (typeof SURFACES)[number];

/** Requests per surface, plus the total. */
export type SurfaceCounts = Record<SurfaceName | "total", number>;

/** Counts logged requests per surface. */
export function countBySurface(entries: readonly RequestLogEntry[]): SurfaceCounts {
  const counts: SurfaceCounts = { identity: 0, gateway: 0, dataverse: 0, fno: 0, total: 0 };
  for (const e of entries) {
    counts[e.surface]++;
    counts.total++;
  }
  return counts;
}

/** `identity 1, gateway 2` — the non-zero surfaces of a count. */
export function describeCounts(counts: SurfaceCounts): string {
  const parts = SURFACES.filter((s) => counts[s] > 0).map((s) => `${s} ${counts[s]}`);
  return parts.length > 0 ? parts.join(", ") : "none";
}

/** Runs `fn` once and returns its value with the wall time in milliseconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/**
 * Runs `fn` `times` times, one after another, and returns the median wall time with the last
 * value. The median keeps one slow run (a garbage collection, a new TLS connection) from deciding
 * the ratio.
 */
export async function medianOf<T>(
  times: number,
  fn: (iteration: number) => Promise<T>,
): Promise<{ ms: number; value: T }> {
  const samples: number[] = [];
  let value: T | undefined;
  for (let i = 0; i < times; i++) {
    const run = await timed(() => fn(i));
    samples.push(run.ms);
    value = run.value;
  }
  samples.sort((a, b) => a - b);
  const mid = Math.floor(samples.length / 2);
  const ms =
    samples.length % 2 === 1
      ? (samples[mid] ?? 0)
      : ((samples[mid - 1] ?? 0) + (samples[mid] ?? 0)) / 2;
  return { ms, value: value as T };
}

/** A table row: one measure, its baseline and candidate values. */
export interface Row {
  readonly label: string;
  readonly baseline: number;
  readonly candidate: number;
  /** How to print the two values. @default "count" */
  readonly unit?: "count" | "ms";
}

/** candidate ÷ baseline, printed as `12.3x` (or `n/a` when the baseline is zero). */
export function ratio(baseline: number, candidate: number): string {
  if (baseline === 0) return candidate === 0 ? "1.00x" : "n/a";
  const r = candidate / baseline;
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}x`;
}

function formatValue(value: number, unit: Row["unit"]): string {
  return unit === "ms" ? `${value.toFixed(1)} ms` : value.toLocaleString("en-US");
}

/**
 * Prints a table with a title and the names of the two columns, e.g.
 *
 * ```
 * Shared reads: diff of 1 vs 20 EntityMapBindings
 * measure                  | 1 map   | 20 maps | ratio
 * -------------------------+---------+---------+------
 * requests (shared reads)  |       2 |       2 | 1.00x
 * ```
 */
export function printTable(
  title: string,
  columns: { readonly baseline: string; readonly candidate: string },
  rows: readonly Row[],
  notes: readonly string[] = [],
): void {
  const cells = rows.map((r) => [
    r.label,
    formatValue(r.baseline, r.unit),
    formatValue(r.candidate, r.unit),
    ratio(r.baseline, r.candidate),
  ]);
  const header = ["measure", columns.baseline, columns.candidate, "ratio"];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: readonly string[]): string =>
    c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(" | ");
  const out = [
    "",
    title,
    line(header),
    widths.map((w) => "-".repeat(w)).join("-+-"),
    ...cells.map(line),
    ...notes.map((n) => `  ${n}`),
    "",
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}

/**
 * Runs a benchmark's `main` and ends the process: 0 when it finished, 1 (with the error) when it
 * threw. The explicit exit keeps a lingering keep-alive socket of a credential library from
 * holding the benchmark run open after its emulator has closed.
 */
export function runBenchmark(name: string, main: () => Promise<void>): void {
  const start = performance.now();
  main().then(
    () => {
      process.stdout.write(
        `${name}: done in ${((performance.now() - start) / 1000).toFixed(1)} s\n`,
      );
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(
        `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}

/** Wall times of repeated runs of one measure: the fastest and the median, in milliseconds. */
export interface Spread {
  readonly min: number;
  readonly median: number;
}

/** The fastest and the median of `samples`. */
export function spreadOf(samples: readonly number[]): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] ?? 0)
      : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return { min: sorted[0] ?? 0, median };
}

/**
 * Runs `baseline` and `candidate` `times` times each, alternating (baseline, candidate,
 * baseline, …), and returns the spread of each. Alternating spreads a slow moment of the machine
 * (another process, a garbage collection) over both sides instead of one.
 */
export async function alternating(
  times: number,
  baseline: (iteration: number) => Promise<unknown>,
  candidate: (iteration: number) => Promise<unknown>,
): Promise<{ baseline: Spread; candidate: Spread }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < times; i++) {
    a.push((await timed(() => baseline(i))).ms);
    b.push((await timed(() => candidate(i))).ms);
  }
  return { baseline: spreadOf(a), candidate: spreadOf(b) };
}
