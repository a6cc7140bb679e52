/**
 * Benchmark (issue 12, "Memory"): a CompanyBootstrap of 200,000 Dataverse rows on the real Pulumi
 * CLI — how many list pages it reads, how many of those only to count, and the peak resident set
 * of the dynamic-provider process — against the same bootstrap of 2,000 rows.
 *
 * Each run seeds a new existing-existing pair and generates the rows without a company
 * (`PUT /_emulator/bulk-rows`, outside the measure), then runs `pulumi up` of one link and one
 * bootstrap of USMF's customer groups (a preview, then the update, as a person runs it). Baseline and
 * candidate alternate, `BENCH_RUNS` times each (default 3). Pages are the `GET msdyn_customergroups`
 * requests of the emulator's request log; a page "only to count" is one of a `$count=true` query.
 * Nothing here fails on a figure.
 */
import { DualWriteConnection, CompanyBootstrap } from "../../provider/index";
import { setBulkRows } from "../../emulator/seeds/bulk";
import type { RequestLogEntry } from "../../emulator/index";
import { emulatorProcessEnv, emulatorProviderConfig, engineSpeedEnv } from "../../tools/examples";
import { EngineStack } from "../support/engine";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { ProviderMemory } from "./support/memory";
import { benchRuns } from "./support/options";
import { printTable, runBenchmark, spreadOf, timed, type Row } from "./support/report";

const SMALL = 2_000;
const BIG = 200_000;
/** The target of the provider process's peak resident set, in MB. */
const RSS_TARGET_MB = 200;
// Customer groups: the bulk generator leaves a generated account without a customer group, which
// F&O refuses and the bootstrap rightly leaves unstamped; customer groups have no lookup, so every
// generated row is stamped. Reading, counting and stamping go the same way for every table.
const TABLE = "msdyn_customergroups";

/** What one bootstrap run gave. */
interface Run {
  readonly ms: number;
  readonly pages: number;
  readonly countOnly: number;
  readonly writes: number;
  readonly rssBytes: number;
  readonly stamped: number;
}

let pairs = 0;

async function bootstrapRun(emu: TestEmulator, rows: number): Promise<Run> {
  const name = `bootstrap-${++pairs}`;
  const pair = await emu.control.seed({ scenario: "existing-existing", name, size: 0 });
  setBulkRows(emu.context, { env: name, side: "dataverse", table: TABLE, count: rows });
  const provider = emulatorProviderConfig(emu);
  const stack = await EngineStack.create({
    projectName: "bootstrap",
    program: () => {
      const connection = new DualWriteConnection("link", {
        scenario: "existing-existing",
        financeOperationsUrl: pair.financeOperationsUrl,
        dataverseUrl: pair.dataverseUrl,
      });
      const bootstrap = new CompanyBootstrap("usmf", {
        connection,
        companyCode: "USMF",
        tables: [TABLE],
      });
      return Promise.resolve({ stampedRows: bootstrap.stampedRows });
    },
    config: provider.config,
    secrets: provider.secrets,
    env: { ...emulatorProcessEnv(emu), ...engineSpeedEnv() },
    output: false,
  });
  try {
    const since = await emu.control.lastRequestSeq();
    const memory = new ProviderMemory();
    const { ms } = await timed(async () => {
      await stack.preview();
      await stack.up();
    });
    const rssBytes = memory.stop();
    const log = await emu.control.requests(since);
    const outputs = await stack.outputs();
    return { ms, ...pagesOf(log), rssBytes, stamped: stampedCount(outputs.stampedRows?.value) };
  } finally {
    await stack.abandon();
    await stack.dispose();
  }
}

/**
 * The list requests of the table and how many of them only counted: a count asks for
 * `$count=true`, and Dataverse keeps the query in the `@odata.nextLink` of every later page
 * (provider/clients/dataverse.ts `countRows`), so each page of a count carries it too.
 */
function pagesOf(log: readonly RequestLogEntry[]): {
  pages: number;
  countOnly: number;
  writes: number;
} {
  const dv = log.filter((e) => e.surface === "dataverse");
  const pages = dv.filter((e) => e.method === "GET" && e.path.endsWith(`/${TABLE}`));
  const counting = pages.filter((e) => /(^|&)\$count=true(&|$)/i.test(decodeURIComponent(e.query)));
  const writes = dv.filter(
    (e) =>
      e.method === "POST" && e.path.endsWith(`/${TABLE}/Microsoft.Dynamics.CRM.UpdateMultiple`),
  );
  return { pages: pages.length, countOnly: counting.length, writes: writes.length };
}

function stampedCount(value: unknown): number {
  if (typeof value === "number") return value;
  if (value && typeof value === "object") {
    return Object.values(value as Record<string, unknown>).reduce<number>(
      (sum, v) => sum + (typeof v === "number" ? v : 0),
      0,
    );
  }
  return 0;
}

async function main(): Promise<void> {
  const runs = benchRuns();
  const emu = await startTestEmulator({ clock: { speed: 1 }, log: () => undefined });
  try {
    const small: Run[] = [];
    const big: Run[] = [];
    for (let i = 0; i < runs; i++) {
      small.push(await bootstrapRun(emu, SMALL));
      big.push(await bootstrapRun(emu, BIG));
    }
    const last = (r: Run[]): Run => r[r.length - 1]!;
    const mb = (bytes: number): number => Math.round(bytes / (1024 * 1024));
    const s = last(small);
    const b = last(big);
    const rows: Row[] = [
      { label: "rows stamped", baseline: s.stamped, candidate: b.stamped },
      { label: `list pages of ${TABLE} read`, baseline: s.pages, candidate: b.pages },
      { label: "  of which only to count", baseline: s.countOnly, candidate: b.countOnly },
      { label: "UpdateMultiple requests", baseline: s.writes, candidate: b.writes },
      {
        label: "provider peak RSS, MB (max of runs)",
        baseline: mb(Math.max(...small.map((r) => r.rssBytes))),
        candidate: mb(Math.max(...big.map((r) => r.rssBytes))),
      },
      {
        label: "preview + up, min",
        baseline: spreadOf(small.map((r) => r.ms)).min,
        candidate: spreadOf(big.map((r) => r.ms)).min,
        unit: "ms",
      },
      {
        label: "preview + up, median",
        baseline: spreadOf(small.map((r) => r.ms)).median,
        candidate: spreadOf(big.map((r) => r.ms)).median,
        unit: "ms",
      },
    ];
    printTable(
      `CompanyBootstrap of USMF's ${TABLE}: ${SMALL.toLocaleString("en-US")} vs ${BIG.toLocaleString("en-US")} rows without a company (${runs} alternating runs; preview + up)`,
      {
        baseline: `${SMALL.toLocaleString("en-US")} rows`,
        candidate: `${BIG.toLocaleString("en-US")} rows`,
      },
      rows,
      [
        `targets at ${BIG.toLocaleString("en-US")} rows: only the pages that are stamped are read ` +
          `(${Math.ceil(b.stamped / 5000)} pages of 5,000 for ${b.stamped.toLocaleString("en-US")} rows; ` +
          `measured ${b.pages}, ${b.countOnly} only to count); provider peak RSS ≤ ${RSS_TARGET_MB} MB ` +
          `(measured ${mb(Math.max(...big.map((r) => r.rssBytes)))} MB)`,
      ],
    );
  } finally {
    await emu.close();
  }
}

runBenchmark("bootstrap.bench", main);
