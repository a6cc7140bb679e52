/**
 * Benchmark (issue 12): the forty-map program on the real Pulumi CLI against the engine's floor.
 *
 * Two stacks run on the toolchain's CLI through the Automation API, against one in-process
 * emulator (clock ×1, map transitions of 200 ms):
 *
 * | stack     | program                                                   |
 * |-----------|-----------------------------------------------------------|
 * | floor     | 44 trivial dynamic resources (programs/floor)             |
 * | candidate | 1 link + 3 company bootstraps + 40 maps (programs/forty-maps), existing-existing |
 *
 * Every `up` is from scratch (a new stack, and for the candidate a new environment pair); baseline
 * and candidate alternate, `BENCH_RUNS` times each (default 3), and the tables show the fastest and
 * the median run. Latency is the emulator's `latency` fault on every surface (identity, gateway,
 * Dataverse, F&O; never control). Requests come from the emulator's request log; the serial chain
 * is the longest run of requests each of which started after the one before had ended.
 *
 * The CLI runs with the runner's parallelism (`engineSpeedEnv`, tools/examples.ts). Set
 * `BENCH_ENGINE_DEFAULTS=1` to run with the CLI's defaults instead, for comparison.
 *
 * Nothing here fails on a time: the figures are printed, each with its target beside it.
 */
import { mapsOfSolution } from "../../emulator/runtime/maps";
import { emulatorProcessEnv, emulatorProviderConfig, engineSpeedEnv } from "../../tools/examples";
import { EngineStack } from "../support/engine";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { FLOOR_RESOURCES, floorProgram } from "./programs/floor/index";
import {
  FORTY_MAP_SOLUTIONS,
  MAP_COUNT,
  fortyMaps,
  fortyMapsProgram,
  longestChain,
  widestLevel,
} from "./programs/forty-maps/index";
import { benchRuns } from "./support/options";
import {
  countBySurface,
  describeCounts,
  printTable,
  runBenchmark,
  spreadOf,
  timed,
  type Row,
  type SurfaceCounts,
} from "./support/report";
import { ProviderMemory } from "./support/memory";
import {
  RequestEnds,
  abridged,
  chainTotals,
  countByPattern,
  describeChain,
  longestSerialChain,
  maxOverlap,
  timelineOf,
} from "./support/timeline";

/** The emulator's map transition time. */
const TRANSITION_MS = 200;
/** Latencies per request the `up` is measured at. */
const UP_LATENCIES = [0, 20, 100] as const;
/** Latencies per request the preview is measured at. */
const PREVIEW_LATENCIES = [0, 20] as const;

/** The bench's shared pieces: the emulator, the request ends, the CLI environment. */
interface Bench {
  readonly emu: TestEmulator;
  readonly ends: RequestEnds;
  readonly env: Record<string, string>;
  readonly maps: readonly string[];
  pairs: number;
}

/** A floor stack, new. */
function floorStack(b: Bench): Promise<EngineStack> {
  return EngineStack.create({
    projectName: "floor",
    program: () => Promise.resolve(floorProgram()),
    env: b.env,
    output: false,
  });
}

/** A candidate stack on a new existing-existing pair. */
async function candidateStack(b: Bench): Promise<EngineStack> {
  const pair = await b.emu.control.seed({
    scenario: "existing-existing",
    name: `forty-${++b.pairs}`,
    size: 30,
  });
  const provider = emulatorProviderConfig(b.emu);
  return EngineStack.create({
    projectName: "forty-maps",
    program: () =>
      Promise.resolve(
        fortyMapsProgram({
          financeOperationsUrl: pair.financeOperationsUrl,
          dataverseUrl: pair.dataverseUrl,
          maps: b.maps,
        }),
      ),
    config: provider.config,
    secrets: provider.secrets,
    env: b.env,
    output: false,
  });
}

/** Latency `ms` on every surface (none when 0). */
async function setLatency(emu: TestEmulator, ms: number): Promise<void> {
  await emu.control.setFaults(ms > 0 ? [{ kind: "latency", surface: "*", latencyMs: ms }] : []);
}

/** A measured operation: wall time and the requests it made. */
interface Measured {
  readonly ms: number;
  readonly seqFrom: number;
  readonly seqTo: number;
}

async function measure(b: Bench, fn: () => Promise<unknown>): Promise<Measured> {
  const seqFrom = await b.emu.control.lastRequestSeq();
  const { ms } = await timed(fn);
  const seqTo = await b.emu.control.lastRequestSeq();
  return { ms, seqFrom, seqTo };
}

async function requestsOf(b: Bench, m: Measured) {
  return (await b.emu.control.requests(m.seqFrom)).filter((e) => e.seq <= m.seqTo);
}

/** What one latency's `up` runs gave. */
interface UpFigures {
  readonly latency: number;
  readonly floor: number[];
  readonly candidate: number[];
  /** Requests of the candidate's last up, per surface. */
  readonly counts: SurfaceCounts;
  /** Requests of the candidate's last up, per pattern (most frequent first). */
  readonly patterns: [string, number][];
  /** The longest serial chain of the candidate's last up. */
  readonly chain: ReturnType<typeof longestSerialChain>;
  /** Most map starts in transition at once, in the candidate's last up. */
  readonly mapsAtOnce: number;
  /** Peak resident set of the provider process, floor's and candidate's last up, in bytes. */
  readonly rss: { readonly floor: number; readonly candidate: number };
}

/** Alternating floor and candidate `up`s from scratch at one latency. */
async function ups(b: Bench, latency: number, runs: number): Promise<UpFigures> {
  await setLatency(b.emu, latency);
  const floor: number[] = [];
  const candidate: number[] = [];
  let last: Measured | undefined;
  const rss = { floor: 0, candidate: 0 };
  for (let i = 0; i < runs; i++) {
    const f = await floorStack(b);
    try {
      const memory = new ProviderMemory();
      floor.push((await measure(b, () => f.up())).ms);
      rss.floor = memory.stop();
    } finally {
      await f.abandon();
      await f.dispose();
    }
    await setLatency(b.emu, 0);
    const c = await candidateStack(b);
    await setLatency(b.emu, latency);
    try {
      const memory = new ProviderMemory();
      last = await measure(b, () => c.up());
      rss.candidate = memory.stop();
      candidate.push(last.ms);
    } finally {
      await setLatency(b.emu, 0);
      await c.abandon();
      await c.dispose();
      await setLatency(b.emu, latency);
    }
  }
  await setLatency(b.emu, 0);
  const entries = await requestsOf(b, last!);
  const timeline = timelineOf(entries, b.ends);
  const starts = timeline
    .filter(
      (r) =>
        r.entry.method === "POST" && r.entry.surface === "gateway" && /\/Start$/.test(r.entry.path),
    )
    .map((r) => r.start);
  return {
    latency,
    floor,
    candidate,
    counts: countBySurface(entries),
    patterns: countByPattern(entries),
    chain: longestSerialChain(timeline),
    mapsAtOnce: maxOverlap(starts, TRANSITION_MS),
    rss,
  };
}

/** The steady operations of one up-to-date candidate and floor: previews and a refresh. */
interface SteadyFigures {
  readonly previews: Map<
    number,
    { floor: number[]; candidate: number[]; counts: SurfaceCounts; patterns: [string, number][] }
  >;
  readonly refresh: SurfaceCounts;
  readonly previewChain: ReturnType<typeof longestSerialChain>;
}

async function steady(b: Bench, runs: number): Promise<SteadyFigures> {
  const f = await floorStack(b);
  const c = await candidateStack(b);
  try {
    await f.up();
    await c.up();
    // One preview each first: the CLI's plugin cache and the provider's first load are warm.
    await f.preview({ expectNoChanges: true });
    await c.preview({ expectNoChanges: true });
    const previews: SteadyFigures["previews"] = new Map();
    let previewChain: ReturnType<typeof longestSerialChain> = [];
    for (const latency of PREVIEW_LATENCIES) {
      await setLatency(b.emu, latency);
      const floor: number[] = [];
      const candidate: number[] = [];
      let last: Measured | undefined;
      for (let i = 0; i < runs; i++) {
        floor.push((await measure(b, () => f.preview({ expectNoChanges: true }))).ms);
        last = await measure(b, () => c.preview({ expectNoChanges: true }));
        candidate.push(last.ms);
      }
      await setLatency(b.emu, 0);
      const entries = await requestsOf(b, last!);
      previews.set(latency, {
        floor,
        candidate,
        counts: countBySurface(entries),
        patterns: countByPattern(entries),
      });
      if (latency > 0) previewChain = longestSerialChain(timelineOf(entries, b.ends));
    }
    const r = await measure(b, () => c.refresh());
    return { previews, refresh: countBySurface(await requestsOf(b, r)), previewChain };
  } finally {
    for (const s of [f, c]) {
      await s.abandon();
      await s.dispose();
    }
  }
}

function timeRows(label: string, floor: number[], candidate: number[]): Row[] {
  const a = spreadOf(floor);
  const c = spreadOf(candidate);
  return [
    { label: `${label}, min`, baseline: a.min, candidate: c.min, unit: "ms" },
    { label: `${label}, median`, baseline: a.median, candidate: c.median, unit: "ms" },
  ];
}

const fmt = (n: number, digits = 2): string => n.toFixed(digits);

async function main(): Promise<void> {
  const runs = benchRuns();
  const ends = new RequestEnds();
  const emu = await startTestEmulator({
    clock: { speed: 1 },
    settings: { transitionMs: TRANSITION_MS },
    log: () => undefined,
    onRequest: ends.hook,
  });
  const defaults = process.env.BENCH_ENGINE_DEFAULTS === "1";
  const b: Bench = {
    emu,
    ends,
    env: { ...emulatorProcessEnv(emu), ...(defaults ? {} : engineSpeedEnv()) },
    maps: fortyMaps((s) => mapsOfSolution(s).map((m) => m.name)),
    pairs: 0,
  };
  if (b.maps.length !== MAP_COUNT)
    throw new Error(`the solutions ship ${b.maps.length} maps; the benchmark needs ${MAP_COUNT}`);
  const chain = longestChain(b.maps);
  const transitions = 1 + FORTY_MAP_SOLUTIONS.length + chain;
  const criticalMs = transitions * TRANSITION_MS;
  const engine = defaults
    ? "the CLI's default parallelism"
    : `the runner's settings (PULUMI_PARALLEL=${engineSpeedEnv().PULUMI_PARALLEL}, PULUMI_PARALLEL_DIFF=true, NODE_COMPILE_CACHE)`;
  process.stdout.write(
    `engine.bench: ${FLOOR_RESOURCES} trivial resources vs 1 link + 3 bootstraps + ${MAP_COUNT} maps; ` +
      `${runs} alternating runs; ${engine}; transitions ${TRANSITION_MS} ms, clock ×1\n`,
  );

  try {
    const s = await steady(b, runs);
    const upFigures: UpFigures[] = [];
    for (const latency of UP_LATENCIES) upFigures.push(await ups(b, latency, runs));

    // Requests.
    const p0 = s.previews.get(0)!;
    const up0 = upFigures[0]!;
    printTable(
      "Requests of the forty-map stack (emulator request log; baseline = the target)",
      { baseline: "target", candidate: "measured" },
      [
        { label: "steady preview, total", baseline: 12, candidate: p0.counts.total },
        {
          label: "refresh (after up --skip-preview)",
          baseline: 2 * p0.counts.total,
          candidate: s.refresh.total,
        },
        { label: "up from scratch, per map", baseline: 4, candidate: up0.counts.total / MAP_COUNT },
      ],
      [
        `targets: preview ≤ 12 in total; refresh ≤ 2 × the preview's (${p0.counts.total}); up ≤ 4 per map`,
        `steady preview: ${describeCounts(p0.counts)}`,
        `refresh: ${describeCounts(s.refresh)}`,
        `up from scratch: ${up0.counts.total} requests (${describeCounts(up0.counts)})`,
        `where they go (requests by pattern: ids as {id}, keys as ({key}), numbers as {n}):`,
        `  steady preview, ${p0.counts.total} requests:`,
        ...patternLines(p0.patterns),
        `  up from scratch, ${up0.counts.total} requests (${fmt(up0.counts.total / MAP_COUNT)} per map):`,
        ...patternLines(up0.patterns),
      ],
    );

    // Preview time.
    const previewRows: Row[] = [];
    const previewNotes: string[] = [];
    for (const latency of PREVIEW_LATENCIES) {
      const p = s.previews.get(latency)!;
      previewRows.push(...timeRows(`preview, ${latency} ms latency`, p.floor, p.candidate));
      const ratio = spreadOf(p.candidate).median / spreadOf(p.floor).median;
      previewNotes.push(
        `${latency} ms: candidate ÷ floor (medians) = ${fmt(ratio)}; target ≤ ${latency === 0 ? "1.10" : "1.25"}`,
      );
    }
    printTable(
      `Steady preview: floor vs forty maps (${runs} alternating runs)`,
      { baseline: "floor", candidate: "40 maps" },
      previewRows,
      [
        ...previewNotes,
        `serial chain of the 20 ms preview (${s.previewChain.length} requests; the engine checks one resource at a time):`,
        ...wrap(abridged(describeChain(s.previewChain), 40, 0).join(" → ")).map((l) => `  ${l}`),
      ],
    );

    // Up time.
    const upRows: Row[] = [];
    const upNotes: string[] = [];
    for (const u of upFigures) {
      upRows.push(...timeRows(`up, ${u.latency} ms latency`, u.floor, u.candidate));
      const over = spreadOf(u.candidate).median - spreadOf(u.floor).median;
      const overMin = spreadOf(u.candidate).min - spreadOf(u.floor).min;
      upNotes.push(
        `${u.latency} ms: (up − floor's up) ÷ critical path = ${fmt(over / criticalMs)} (medians), ` +
          `${fmt(overMin / criticalMs)} (mins); target ≤ 1.3; ` +
          `${u.counts.total} requests${u.latency > 0 ? `, serial chain ${u.chain.length}` : ""}`,
      );
    }
    printTable(
      `Up from scratch: floor vs forty maps (${runs} alternating runs)`,
      { baseline: "floor", candidate: "40 maps" },
      upRows,
      [
        `critical path on the server: ${transitions} transitions × ${TRANSITION_MS} ms = ${criticalMs} ms ` +
          `(link 1 + solutions ${FORTY_MAP_SOLUTIONS.length}, applied one after another + longest prerequisite chain ${chain})`,
        ...upNotes,
      ],
    );

    // Latency honesty.
    const first = upFigures[0]!;
    const lastUp = upFigures[upFigures.length - 1]!;
    const growth = spreadOf(lastUp.candidate).median - spreadOf(first.candidate).median;
    const perMs = growth / (lastUp.latency - first.latency);
    printTable(
      `How up grows with latency (medians; every request of every surface delayed)`,
      { baseline: `${first.latency} ms`, candidate: `${lastUp.latency} ms` },
      [
        {
          label: "up, forty maps",
          baseline: spreadOf(first.candidate).median,
          candidate: spreadOf(lastUp.candidate).median,
          unit: "ms",
        },
        {
          label: "up, floor",
          baseline: spreadOf(first.floor).median,
          candidate: spreadOf(lastUp.floor).median,
          unit: "ms",
        },
        {
          label: "requests of the forty-map up",
          baseline: first.counts.total,
          candidate: lastUp.counts.total,
        },
      ],
      [
        `the forty-map up grows ${fmt(perMs, 1)} ms per ms of latency: about that many requests lie on one serial chain ` +
          `(each takes the latency once); the floor's grows ${fmt((spreadOf(lastUp.floor).median - spreadOf(first.floor).median) / (lastUp.latency - first.latency), 1)} ms per ms`,
        `serial chain at ${lastUp.latency} ms: ${lastUp.chain.length} requests, in order (abridged):`,
        ...wrap(abridged(describeChain(lastUp.chain)).join(" → ")).map((l) => `  ${l}`),
        `the same chain by request: ${chainTotals(lastUp.chain).slice(0, 8).join("; ")}`,
        "why serial: the engine runs each resource's check (and, without PULUMI_PARALLEL_DIFF, its diff)",
        "one at a time (pkg/resource/deploy/deployment_executor.go handleSingleEvent → GenerateSteps), so every",
        "request a check makes lies on one chain; then each map's start waits for its prerequisites' transitions.",
      ],
    );

    // Concurrency.
    printTable(
      "Maps started at once (POST DWM/Start in transition together, last up of each latency)",
      { baseline: "target", candidate: "measured" },
      upFigures.map((u) => ({
        label: `up, ${u.latency} ms latency`,
        baseline: widestLevel(b.maps),
        candidate: u.mapsAtOnce,
      })),
      [
        `target: every map whose prerequisites run — the widest level of the prerequisite graph (${widestLevel(b.maps)} maps)`,
      ],
    );

    const mb = (bytes: number): number => Math.round(bytes / (1024 * 1024));
    printTable(
      "Peak resident set of the dynamic-provider process (VmHWM, sampled every 50 ms; last up of each latency)",
      { baseline: "floor", candidate: "40 maps" },
      upFigures.map((u) => ({
        label: `up, ${u.latency} ms latency, MB`,
        baseline: mb(u.rss.floor),
        candidate: mb(u.rss.candidate),
      })),
    );
  } finally {
    await emu.close();
  }
}

/** One indented line per request pattern: `    12 × gateway GET DWM/Entities`. */
function patternLines(patterns: readonly [string, number][]): string[] {
  const width = Math.max(...patterns.map(([, n]) => String(n).length));
  return patterns.map(([p, n]) => `    ${String(n).padStart(width)} × ${p}`);
}

/** Lines of at most `width` characters, broken after arrows. */
function wrap(text: string, width = 110): string[] {
  const lines: string[] = [];
  let line = "";
  for (const part of text.split(" → ")) {
    const next = line === "" ? part : `${line} → ${part}`;
    if (next.length > width && line !== "") {
      lines.push(`${line} →`);
      line = part;
    } else line = next;
  }
  if (line !== "") lines.push(line);
  return lines;
}

runBenchmark("engine.bench", main);
