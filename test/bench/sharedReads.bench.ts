/**
 * Benchmark: do requests stay flat as EntityMapBindings are added to one connection?
 *
 * One `pulumi preview`/`up` runs one provider process for every dynamic resource, and
 * `createClients` gives them one set of clients whose shared reads (provider/clients/sharedReads.ts)
 * let every binding's `diff` use one `GET DWM/Entities` of the link. This script runs the real
 * EntityMapBinding `diff` (the real clients, `@azure/identity` tokens, HTTPS to an in-process
 * emulator) for 1 binding and for 20 bindings of one connection, counts the requests per surface
 * in the emulator's request log (`/_emulator/requests`), and prints 20-map ÷ 1-map ratios of
 * requests and wall time:
 *
 * | variant                                  | what it shows                                          |
 * |------------------------------------------|--------------------------------------------------------|
 * | shared reads, one after another          | the TTL cache: later diffs reuse the first one's read  |
 * | shared reads, concurrently               | reads in flight joined (the engine runs up to `--parallel` steps at once) |
 * | shared reads off, one after another      | `sharedReadTtlMs: 0` (the clients' switch): every diff reads |
 * | one client set per binding, concurrently | no process-wide clients: every diff reads and gets a token |
 * | shared reads, integrationKeys declared   | a diff that also compares integration keys             |
 * | refresh (read), one after another        | `read` shares the link's reads too, within one operation |
 *
 * Each measure is the median of several runs, each with new clients (as a new provider process).
 */
import { createClients, type ClientOptions } from "../../provider/clients/index";
import {
  DEFAULT_OPTIONS,
  type Environments,
  type HandlerContext,
} from "../../provider/resources/common/handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import type {
  EntityMapBindingInputs,
  EntityMapBindingOutputs,
} from "../../provider/resources/entityMapBinding/entityMapBinding.schema";
import { startResourceHarness, type ResourceHarness } from "../provider/harness";
import {
  countBySurface,
  describeCounts,
  medianOf,
  printTable,
  runBenchmark,
  type Row,
  type SurfaceCounts,
} from "./support/report";

/** Bindings in the candidate run. */
const MAPS = 20;
/** Runs per measure (the median is printed). */
const RUNS = 5;

/** A set of clients for one run, as one provider process has, and a way to close it. */
interface RunClients {
  readonly ctx: HandlerContext;
  close(): void;
}

/** A handler context whose clients are built with `options` (private: this run only). */
function runClients(h: ResourceHarness, options: ClientOptions): RunClients {
  const opened: ReturnType<typeof createClients>[] = [];
  const byKey = new Map<string, ReturnType<typeof createClients>>();
  return {
    ctx: {
      clients(envs: Environments) {
        const key = `${envs.financeOperationsUrl}|${envs.dataverseUrl}`;
        let c = byKey.get(key);
        if (!c) {
          c = createClients(h.config, envs, { private: true, pollMs: 20, ...options });
          byKey.set(key, c);
          opened.push(c);
        }
        return c;
      },
      log: () => undefined,
      options: DEFAULT_OPTIONS,
    },
    close: () => opened.forEach((c) => c.http.close()),
  };
}

/** How a variant runs its bindings. */
interface Variant {
  readonly label: string;
  /** Options of the clients. */
  readonly options: ClientOptions;
  /** All bindings at once, or one after another. */
  readonly concurrent: boolean;
  /** A client set per binding instead of one per run. */
  readonly perBinding?: boolean;
  /** `read` (refresh) instead of `diff`. */
  readonly refresh?: boolean;
  /** Declare each map's integration keys (diff then compares them too). */
  readonly withKeys?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { label: "diff, shared reads, one after another", options: {}, concurrent: false },
  { label: "diff, shared reads, concurrently", options: {}, concurrent: true },
  {
    label: "diff, shared reads off (ttl 0), one after another",
    options: { sharedReadTtlMs: 0 },
    concurrent: false,
  },
  {
    label: "diff, one client set per binding, concurrently",
    options: {},
    concurrent: true,
    perBinding: true,
  },
  {
    label: "diff, shared reads, integrationKeys declared",
    options: {},
    concurrent: false,
    withKeys: true,
  },
  { label: "refresh (read: shared reads)", options: {}, concurrent: false, refresh: true },
];

/** One measured run: requests per surface and whether every diff came out as expected. */
interface Measure {
  readonly ms: number;
  readonly counts: SurfaceCounts;
  readonly changes: number;
}

async function measure(
  h: ResourceHarness,
  variant: Variant,
  bindings: readonly EntityMapBindingOutputs[],
): Promise<Measure> {
  let counts: SurfaceCounts | undefined;
  let changes = 0;
  const { ms } = await medianOf(RUNS, async () => {
    const shared = runClients(h, variant.options);
    const opened: RunClients[] = [shared];
    const ctxFor = (): HandlerContext => {
      if (!variant.perBinding) return shared.ctx;
      const own = runClients(h, variant.options);
      opened.push(own);
      return own.ctx;
    };
    const one = async (olds: EntityMapBindingOutputs): Promise<boolean> => {
      const news: EntityMapBindingInputs = {
        ...declared(olds),
        ...(variant.withKeys && { integrationKeys: olds.integrationKeysInEffect }),
      };
      const oldOuts = variant.withKeys ? { ...olds, integrationKeys: news.integrationKeys } : olds;
      if (variant.refresh) return (await binding.read("x", oldOuts, ctxFor())) === undefined;
      const d = await binding.diff("x", oldOuts, news, ctxFor());
      if (d.changes) process.stderr.write(`${olds.mapName}: ${d.reasons.join("; ")}\n`);
      return d.changes;
    };
    const mark = await h.mark();
    try {
      const results = variant.concurrent
        ? await Promise.all(bindings.map(one))
        : await sequentially(bindings, one);
      changes = results.filter(Boolean).length;
    } finally {
      opened.forEach((o) => o.close());
    }
    // The log is read after the clock stops, so its own cost is not in the wall time.
    counts = countBySurface(await h.requestsSince(mark));
  });
  return { ms, counts: counts!, changes };
}

async function sequentially<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}

/** The inputs that declare a map as it is observed (so a diff finds no change). */
function declared(o: EntityMapBindingOutputs): EntityMapBindingInputs {
  return {
    environmentId: o.environmentId,
    financeOperationsUrl: o.financeOperationsUrl,
    dataverseUrl: o.dataverseUrl,
    mapName: o.mapName,
    ...(o.activeVersion && { version: o.activeVersion, author: o.activeAuthor }),
    state: o.observedState === "Running" ? "Running" : "Stopped",
  };
}

async function main(): Promise<void> {
  const h = await startResourceHarness({
    seed: [{ scenario: "existing-existing", name: "ee" }],
  });
  try {
    const link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env("ee").financeOperationsUrl,
          dataverseUrl: h.env("ee").dataverseUrl,
          legalEntities: ["USMF", "DEMF"],
          // The core maps alone are 13; the party (GAB) maps make the link big enough.
          solutions: ["msdyn_DualWriteAppCoreMaps", "Dynamics365GABDualWriteEntityMaps"],
        },
        h.ctx(),
      )
    ).outs;

    // The bindings' old outputs: the first MAPS maps of the link, as `read` observes them.
    const setup = runClients(h, {});
    const maps = await setup.ctx.clients(link).gateway.listMaps(link.environmentId);
    if (maps.length < MAPS)
      throw new Error(`the link has ${maps.length} maps; the benchmark needs ${MAPS}`);
    const bindings: EntityMapBindingOutputs[] = [];
    for (const m of maps.slice(0, MAPS)) {
      const props = {
        environmentId: link.environmentId,
        financeOperationsUrl: link.financeOperationsUrl,
        dataverseUrl: link.dataverseUrl,
        mapName: m.tName,
      } as EntityMapBindingOutputs;
      const read = await binding.read("x", props, setup.ctx);
      if (!read) throw new Error(`map ${m.tName} is not readable on the link`);
      // As the engine stores them after an up: the declaration and what was observed.
      bindings.push({ ...read.props, ...declared(read.props) });
    }
    setup.close();

    const requestRows: Row[] = [];
    const timeRows: Row[] = [];
    const notes: string[] = [];
    for (const v of VARIANTS) {
      const one = await measure(h, v, bindings.slice(0, 1));
      const many = await measure(h, v, bindings);
      // Declared as observed: a diff finds no change, a read finds every map.
      if (one.changes + many.changes > 0)
        throw new Error(`${v.label}: ${many.changes} of ${MAPS} bindings reported a change`);
      requestRows.push({
        label: v.label,
        baseline: one.counts.total,
        candidate: many.counts.total,
      });
      timeRows.push({ label: v.label, baseline: one.ms, candidate: many.ms, unit: "ms" });
      notes.push(
        `${v.label}: 1 map → ${describeCounts(one.counts)}; ${MAPS} maps → ${describeCounts(many.counts)}`,
      );
    }
    const columns = { baseline: "1 map", candidate: `${MAPS} maps` };
    printTable(
      `Shared reads: requests for 1 vs ${MAPS} EntityMapBindings of one connection (all surfaces, tokens included)`,
      columns,
      requestRows,
      ["per surface:", ...notes.map((n) => `  ${n}`)],
    );
    printTable(
      `Shared reads: wall time for 1 vs ${MAPS} EntityMapBindings (median of ${RUNS} runs, new clients each run)`,
      columns,
      timeRows,
    );
  } finally {
    await h.close();
  }
}

runBenchmark("sharedReads.bench", main);
