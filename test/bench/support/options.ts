/**
 * Settings of `npm run bench` read from the environment: `BENCH_RUNS=<n>` sets how many times each
 * measure runs (baseline and candidate alternating).
 */

/** Repetitions per measure: `BENCH_RUNS`, or `fallback` (at least 1). */
export function benchRuns(fallback = 3): number {
  const raw = process.env.BENCH_RUNS;
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`BENCH_RUNS: expected a whole number of at least 1, got '${raw}'.`);
  }
  return n;
}
