/**
 * Benchmark (issue 9, "Volume"): what a million rows cost, against the in-process emulator over
 * real HTTPS with real tokens. Ratios are measured in this run, baseline and candidate alternating,
 * several times; the table shows the fastest (min) and the median run of each.
 *
 * | table  | baseline                                   | candidate                                      | target |
 * |--------|--------------------------------------------|------------------------------------------------|--------|
 * | pages  | a page of 5,000 rows of a 5,000-row table  | the same page of a 1,000,000-row table          | ≤ 1.5  |
 * | writes | single-row writes, acknowledged, in memory | the same with persistence on, at 1,000,000 rows | ≥ 0.5 (writes/s) |
 *
 * The rows are generated (`PUT /_emulator/bulk-rows`), outside every measure. Nothing here fails
 * on a time: the figures are printed for people to read (docs/emulator.md, "Volume").
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Agent, request as httpsRequest } from "node:https";
import type { EnvironmentInfo } from "../../emulator/index";
import { setBulkRows } from "../../emulator/seeds/bulk";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import { alternating, printTable, runBenchmark, timed, type Row } from "./support/report";

const BIG = 1_000_000;
const SMALL = 5_000;
const PAGE = 5_000;
/** Alternating runs per measure. */
const RUNS = 7;
/** Sequential writes per run of the write measure. */
const WRITES = 200;

/** One environment pair of a benchmark, with authenticated raw requests. */
interface Side {
  readonly emu: TestEmulator;
  readonly env: EnvironmentInfo;
  dv(path: string, init?: { method?: string; body?: unknown }): Promise<unknown>;
  fno(path: string): Promise<unknown>;
}

/**
 * A `new-new` pair with `rows` generated accounts (and, with `fno`, as many customers in DAT),
 * generated straight into the store (`seeds/bulk.ts`) and not yet saved.
 */
async function side(emu: TestEmulator, name: string, rows: number, fno = true): Promise<Side> {
  const env = await emu.control.seed({ scenario: "new-new", name, size: 0 });
  setBulkRows(emu.context, { env: name, side: "dataverse", table: "accounts", count: rows });
  if (fno)
    setBulkRows(emu.context, {
      env: name,
      side: "fno",
      table: "CustomersV3",
      company: "DAT",
      count: rows,
    });
  const dvToken = await emu.token(env.dataverseUrl);
  const fnoToken = await emu.token(env.financeOperationsUrl);
  return {
    emu,
    env,
    dv: (path, init = {}) =>
      send(init.method ?? "GET", `${env.dataverseUrl}/api/data/v9.2/${path}`, dvToken, init.body),
    fno: (path) => send("GET", `${env.financeOperationsUrl}/data/${path}`, fnoToken),
  };
}

/** Kept-alive connections, as a client in a loop has them (a TLS handshake per call would dominate). */
const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One request; resolves with the parsed JSON body (undefined when empty), rejects unless 2xx. */
function send(method: string, url: string, token: string, body?: unknown): Promise<unknown> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url.replace(/ /g, "%20"),
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          prefer: `odata.maxpagesize=${PAGE}`,
          ...(payload
            ? { "content-type": "application/json", "content-length": String(payload.length) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status >= 300) reject(new Error(`${method} ${url}: ${status} ${text.slice(0, 300)}`));
          else resolve(text === "" ? undefined : JSON.parse(text));
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** `{value, nextLink}` of a page, checking its size. */
function page(body: unknown, rows: number): { next?: string } {
  const b = body as { value: unknown[]; "@odata.nextLink"?: string };
  if (b.value.length !== rows) throw new Error(`expected ${rows} rows, got ${b.value.length}`);
  return b["@odata.nextLink"] ? { next: b["@odata.nextLink"] } : {};
}

/** Two table rows (min, median) of a measure, baseline vs candidate. */
function rowsOf(label: string, m: Awaited<ReturnType<typeof alternating>>): Row[] {
  return [
    { label: `${label}, min`, baseline: m.baseline.min, candidate: m.candidate.min, unit: "ms" },
    {
      label: `${label}, median`,
      baseline: m.baseline.median,
      candidate: m.candidate.median,
      unit: "ms",
    },
  ];
}

async function pages(): Promise<void> {
  const emu = await startTestEmulator({ log: () => undefined });
  try {
    const small = await side(emu, "small", SMALL);
    const big = await side(emu, "big", BIG);
    const select = "$select=accountid,name,accountnumber,createdon";
    const first = (s: Side) => async () => page(await s.dv(`accounts?${select}`), PAGE);
    // Warm-up: tokens, TLS connections, and the indexes a read builds on first use.
    for (const s of [small, big]) {
      await first(s)();
      await s.dv("accounts?$select=accountid&$filter=accountnumber eq 'BULK-0000042'");
      await s.fno(`CustomersV3?$top=${PAGE}`);
    }
    // The cookie of page 100 of the big table: a page deep in it.
    let deepLink = "";
    {
      let link: string | undefined = `accounts?${select}`;
      for (let i = 0; i < 100 && link; i++) {
        const body = (await big.dv(link.replace(/^.*\/api\/data\/v9\.2\//, ""))) as {
          "@odata.nextLink"?: string;
        };
        link = body["@odata.nextLink"];
      }
      deepLink = (link ?? "").replace(/^.*\/api\/data\/v9\.2\//, "");
    }
    const measures: Row[] = [
      ...rowsOf("Dataverse first page", await alternating(RUNS, first(small), first(big))),
      ...rowsOf(
        "Dataverse page 101 (cookie) vs page 1",
        await alternating(RUNS, first(small), async () => page(await big.dv(deepLink), PAGE)),
      ),
      ...rowsOf(
        "Dataverse one row by alternate-key column",
        await alternating(
          RUNS,
          () => small.dv("accounts?$select=accountid&$filter=accountnumber eq 'BULK-0004242'"),
          () => big.dv("accounts?$select=accountid&$filter=accountnumber eq 'BULK-0424242'"),
        ),
      ),
      ...rowsOf(
        "F&O first page ($top)",
        await alternating(
          RUNS,
          async () => page(await small.fno(`CustomersV3?$top=${PAGE}`), PAGE),
          async () => page(await big.fno(`CustomersV3?$top=${PAGE}`), PAGE),
        ),
      ),
      ...rowsOf(
        "F&O page at $skip=900,000 vs $skip=0",
        await alternating(
          RUNS,
          async () => page(await small.fno(`CustomersV3?$top=${PAGE}`), PAGE),
          async () => page(await big.fno(`CustomersV3?$top=${PAGE}&$skip=900000`), PAGE),
        ),
      ),
    ];
    printTable(
      `A page of ${PAGE.toLocaleString("en-US")} rows: ${SMALL.toLocaleString("en-US")}-row table vs ${BIG.toLocaleString("en-US")}-row table (${RUNS} alternating runs; target ≤ 1.5)`,
      {
        baseline: `${SMALL.toLocaleString("en-US")} rows`,
        candidate: `${BIG.toLocaleString("en-US")} rows`,
      },
      measures,
      [
        "Pages walk the primary-key index from the paging cookie (Dataverse) or from a position (F&O $skip);",
        "an equality on an indexed column reads one index entry (odata/query/planner.ts).",
      ],
    );
  } finally {
    await emu.close();
  }
}

async function writes(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "dw-bench-volume-"));
  const memory = await startTestEmulator({ log: () => undefined });
  const disk = await startTestEmulator({ log: () => undefined, dataDir });
  try {
    const inMemory = await side(memory, "mem", BIG, false);
    const persisted = await side(disk, "disk", BIG, false);
    // The first save of the pair writes its million rows: time it, and the event loop meanwhile.
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    const save = await timed(() => disk.context.persist());
    stalls.disable();
    let n = 0;
    const create = (s: Side) => async () => {
      for (let i = 0; i < WRITES; i++) {
        n++;
        await s.dv("accounts", {
          method: "POST",
          body: { name: `Write ${n}`, accountnumber: `W-${n}` },
        });
      }
    };
    await create(inMemory)();
    await create(persisted)();
    const during = monitorEventLoopDelay({ resolution: 10 });
    during.enable();
    const m = await alternating(RUNS, create(inMemory), create(persisted));
    during.disable();
    const rate = (ms: number) => Math.round((WRITES * 1000) / ms);
    printTable(
      `Acknowledged single-row writes (POST accounts, one at a time) at ${BIG.toLocaleString("en-US")} rows: in memory vs persisted (${RUNS} alternating runs of ${WRITES}; target ≥ 0.5)`,
      { baseline: "in memory", candidate: "persisted" },
      [
        {
          label: "writes/s, best run",
          baseline: rate(m.baseline.min),
          candidate: rate(m.candidate.min),
        },
        {
          label: "writes/s, median run",
          baseline: rate(m.baseline.median),
          candidate: rate(m.candidate.median),
        },
      ],
      [
        "Persisted: each answer waits for its SQLite commit (ADR 0006): written to the write-ahead log, which survives",
        "a kill of the process; with DUALWRITE_EMULATOR_FSYNC=1 each commit also waits for an fsync (not measured here).",
        `Longest event-loop stall during the writes: ${(during.max / 1e6).toFixed(1)} ms.`,
        `First save of the ${BIG.toLocaleString("en-US")} accounts: ${(save.ms / 1000).toFixed(1)} s; ` +
          `longest event-loop stall meanwhile ${(stalls.max / 1e6).toFixed(1)} ms (rows go to the worker in chunks).`,
      ],
    );
  } finally {
    await memory.close();
    await disk.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

runBenchmark("volume.bench", async () => {
  await pages();
  await writes();
});
