/**
 * Benchmark (issue 9): the provider's exact count of 600,000 filtered Dataverse rows, against the
 * in-process emulator with the real `DataverseClient` (real tokens, HTTPS).
 *
 * | measure                       | baseline                         | candidate                          |
 * |-------------------------------|----------------------------------|------------------------------------|
 * | requests, wall time           | one page of 5,000 primary keys   | `countRows` of the 600,000 rows    |
 *
 * The rows go straight into the emulator's store (the count is measured, not the load). The
 * table holds 700,000 contacts of which 600,000 match the filter, so the count pages through
 * 120 pages of keys: ⌈600,000 / 5,000⌉ requests, the fewest an exact count above 5,000 can take.
 *
 * Two filters: on a column without an index (`description`: each page reads the rows from its
 * cookie on and evaluates the filter on them) and on an indexed lookup column
 * (`_owningbusinessunit_value`: each page walks that column's index from its cookie,
 * `odata/query/planner.ts`). Either way a page costs what it returns, so the count's time is
 * about the number of its pages times one page's: the ratio to read is time ÷ requests. Baseline
 * and candidate alternate, three times each (fastest and median shown), after a warm-up read
 * that builds the indexes and the key order once.
 */
import { randomUUID } from "node:crypto";
import { startClientHarness } from "../provider/clientsHarness";
import { alternating, countBySurface, printTable, runBenchmark } from "./support/report";

const MATCHING = 600_000;
const OTHERS = 100_000;
const RUNS = 3;

async function main(): Promise<void> {
  const h = await startClientHarness();
  try {
    const tables = h.emulator.context.dataverse.get(h.env.name);
    if (!tables) throw new Error("no Dataverse tables for the seeded pair");
    const [unit, other] = [randomUUID(), randomUUID()];
    for (let i = 0; i < MATCHING + OTHERS; i++)
      tables.insert(
        "contacts",
        {
          contactid: randomUUID(),
          description: i < MATCHING ? "bench-count" : "bench-other",
          _owningbusinessunit_value: i < MATCHING ? unit : other,
        },
        "seed",
      );
    const { dataverse } = h.clients();
    await dataverse.whoAmI(); // the token and the connection, outside every measure

    for (const [label, filter] of [
      ["a column without an index", "description eq 'bench-count'"],
      ["an indexed lookup column", `_owningbusinessunit_value eq ${unit}`],
    ] as const) {
      const page = async (): Promise<number> => {
        for await (const rows of dataverse.pages("contacts", { select: ["contactid"], filter }))
          return rows.length;
        return 0;
      };
      await page(); // warm-up: the key order and the column's index are built on first use
      let mark = await h.mark();
      await page();
      const pageRequests = countBySurface(await h.requestsSince(mark)).dataverse;
      mark = await h.mark();
      const counted = await dataverse.countRows("contacts", filter);
      const countRequests = countBySurface(await h.requestsSince(mark)).dataverse;
      if (counted.rows !== MATCHING)
        throw new Error(`counted ${counted.rows} rows, expected ${MATCHING}`);
      const m = await alternating(RUNS, page, () => dataverse.countRows("contacts", filter));

      printTable(
        `Exact count of ${MATCHING.toLocaleString("en-US")} filtered Dataverse rows (of ${(MATCHING + OTHERS).toLocaleString("en-US")}), filtered on ${label}`,
        { baseline: "one page", candidate: "countRows" },
        [
          { label: "requests", baseline: pageRequests, candidate: countRequests },
          {
            label: "wall time, min",
            baseline: m.baseline.min,
            candidate: m.candidate.min,
            unit: "ms",
          },
          {
            label: "wall time, median",
            baseline: m.baseline.median,
            candidate: m.candidate.median,
            unit: "ms",
          },
        ],
        [
          `countRows: ${counted.rows.toLocaleString("en-US")} rows, exact: ${String(counted.exact)}, requests: ${counted.requests}`,
          `Median time per request of the count: ${(m.candidate.median / countRequests).toFixed(1)} ms (one page: ${m.baseline.median.toFixed(1)} ms).`,
          "Pages of 5,000 primary keys ($select of the key only); the first page carries the capped @odata.count.",
        ],
      );
    }
  } finally {
    await h.close();
  }
}

runBenchmark("dataverseCount.bench", main);
