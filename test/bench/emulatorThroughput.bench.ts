/**
 * Benchmark: the two Dataverse patterns CompanyBootstrap relies on, against the in-process
 * emulator with the real `DataverseClient` (real tokens, HTTPS):
 *
 * | table   | baseline (what the provider does)          | candidate                        |
 * |---------|--------------------------------------------|----------------------------------|
 * | paging  | list every account, 5,000 rows per page    | the same with 100 rows per page  |
 * | writes  | stamp 1,000 accounts with `UpdateMultiple` | a `$batch` of 1,000 PATCHes; one PATCH per row |
 *
 * The writes are the bootstrap's own (`msdyn_company@odata.bind` to a company), on 1,000 rows of
 * a `size` 2,000 `existing-existing` seed. Ratios are candidate ÷ baseline; requests are counted
 * in the emulator's request log. The clock runs at real speed, so service protection (6,000
 * requests per app per 5 minutes) applies as it would in Dataverse; throttled answers are counted.
 */
import type { DataverseClient, Row as DataverseRow } from "../../provider/clients/index";
import { startResourceHarness, type ResourceHarness } from "../provider/harness";
import { countBySurface, medianOf, printTable, runBenchmark } from "./support/report";

/** Rows per table per company in the seed (accounts: about 1.4 × this). */
const SEED_SIZE = 2_000;
/** Rows written per run. */
const WRITE_ROWS = 1_000;
/**
 * Runs of the cheap measures (the median is printed). The 1,000-PATCH candidates run once: each
 * PATCH, in a `$batch` or not, counts against the 6,000-requests window, and a second run of each
 * would bring the script close enough to it to be throttled for minutes.
 */
const RUNS = 5;

/** Requests to Dataverse (and how many were throttled) while `fn` runs, and its median time. */
async function measure<T>(
  h: ResourceHarness,
  fn: () => Promise<T>,
  runs = RUNS,
): Promise<{ ms: number; requests: number; throttled: number; value: T }> {
  let requests = 0;
  let throttled = 0;
  const run = await medianOf(runs, async () => {
    const mark = await h.mark();
    const value = await fn();
    const log = await h.requestsSince(mark);
    requests = countBySurface(log).dataverse;
    throttled = log.filter((e) => e.status === 429).length;
    return value;
  });
  return { ms: run.ms, requests, throttled, value: run.value };
}

async function main(): Promise<void> {
  const h = await startResourceHarness({
    seed: [{ scenario: "existing-existing", name: "big", size: SEED_SIZE }],
    clock: { speed: 1 },
  });
  try {
    const env = h.env("big");
    const clients = h.ctx().clients(env);
    const dv: DataverseClient = clients.dataverse;
    await dv.whoAmI(); // the token and the connection, outside every measure

    // ── paging ─────────────────────────────────────────────────────────────────────────────
    const list = (pageSize: number): Promise<DataverseRow[]> =>
      dv.list("accounts", { select: ["accountid"], pageSize });
    const big = await measure(h, () => list(5_000));
    const small = await measure(h, () => list(100));
    const rows = big.value.length;
    if (small.value.length !== rows)
      throw new Error(`page size 100 listed ${small.value.length} accounts, 5,000 listed ${rows}`);
    printTable(
      `Dataverse paging: ${rows.toLocaleString("en-US")} accounts, page size 5,000 vs 100 (median of ${RUNS})`,
      { baseline: "page 5,000", candidate: "page 100" },
      [
        { label: "requests", baseline: big.requests, candidate: small.requests },
        { label: "wall time", baseline: big.ms, candidate: small.ms, unit: "ms" },
      ],
    );

    // ── writes ─────────────────────────────────────────────────────────────────────────────
    if (rows < WRITE_ROWS) throw new Error(`the seed has ${rows} accounts; ${WRITE_ROWS} needed`);
    const companies = await dv.list("cdm_companies", {
      select: ["cdm_companyid", "cdm_companycode"],
    });
    const usmf = companies.find((c) => c.cdm_companycode === "USMF")?.cdm_companyid;
    if (typeof usmf !== "string") throw new Error("the seed has no cdm_companies row USMF");
    const ids = big.value.slice(0, WRITE_ROWS).map((r) => String(r.accountid));
    const stamp = { "msdyn_company@odata.bind": `/cdm_companies(${usmf})` };

    const updateMultiple = await measure(h, () =>
      dv.updateMultiple(
        "accounts",
        "account",
        ids.map((accountid) => ({ accountid, ...stamp })),
      ),
    );
    const batch = await measure(
      h,
      async () => {
        const answers = await dv.batch(
          ids.map((id) => ({
            method: "PATCH",
            url: `accounts(${id})`,
            body: stamp,
            headers: { "If-Match": "*" },
          })),
        );
        const failed = answers.filter((a) => a.status >= 300);
        if (failed.length > 0) throw new Error(`${failed.length} PATCHes of the $batch failed`);
      },
      1,
    );
    const perRow = await measure(
      h,
      async () => {
        for (const id of ids) await dv.update("accounts", id, stamp);
      },
      1,
    );
    const stamped = (await h.emulator.control.rows("dataverse", "big", "accounts")).filter(
      (r) => r._msdyn_company_value === usmf,
    ).length;
    if (stamped < WRITE_ROWS)
      throw new Error(`only ${stamped} accounts carry USMF after the writes`);

    const throttled = updateMultiple.throttled + batch.throttled + perRow.throttled;
    printTable(
      `Dataverse writes: stamp ${WRITE_ROWS.toLocaleString("en-US")} accounts with a company (UpdateMultiple: median of ${RUNS}; others: 1 run)`,
      { baseline: "UpdateMultiple", candidate: "candidate" },
      [
        {
          label: "requests: $batch of PATCHes",
          baseline: updateMultiple.requests,
          candidate: batch.requests,
        },
        {
          label: "wall time: $batch of PATCHes",
          baseline: updateMultiple.ms,
          candidate: batch.ms,
          unit: "ms",
        },
        {
          label: "requests: one PATCH per row",
          baseline: updateMultiple.requests,
          candidate: perRow.requests,
        },
        {
          label: "wall time: one PATCH per row",
          baseline: updateMultiple.ms,
          candidate: perRow.ms,
          unit: "ms",
        },
      ],
      [
        "UpdateMultiple: ≤ 1,000 targets per call, all or nothing (what CompanyBootstrap sends).",
        "one PATCH per row: sequential, If-Match: * (never creates).",
        "Service protection counts every operation of a $batch as a request (as Dataverse does):",
        `  UpdateMultiple uses 1 of the 6,000 requests per 5 minutes; either candidate uses ${WRITE_ROWS.toLocaleString("en-US")}.`,
        `throttled answers (429) during the writes: ${throttled}`,
      ],
    );
  } finally {
    await h.close();
  }
}

runBenchmark("emulatorThroughput.bench", main);
