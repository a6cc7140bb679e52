/**
 * Benchmark: how the emulator's initial-sync job and the provider's InitialSyncRun scale with the
 * rows to move. Two `existing-existing` pairs, `size` 100 and 1,000 (customers per company), each
 * linked with USMF, bootstrapped (CompanyBootstrap) and with the accounts map running; then the
 * real InitialSyncRun `create` runs the initial sync of currencies and customer groups (untimed;
 * accounts look them up) and of accounts for USMF (timed): start, progress polls, results.
 *
 * The clock runs 50 times faster than real time (the resource harness's default), so the job's
 * `jobRowsPerSecond` pacing and state transitions cost little; what remains is the emulator's work
 * per row and the provider's polling. The ratio is size 1,000 ÷ size 100.
 */
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import { initialSyncRunLifecycle as run } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";
import type {
  InitialSyncRunInputs,
  InitialSyncRunOutputs,
} from "../../provider/resources/initialSyncRun/initialSyncRun.schema";
import { startResourceHarness, type ResourceHarness } from "../provider/harness";
import { countBySurface, printTable, runBenchmark, timed } from "./support/report";

const ACCOUNTS = "accounts - Customers V3";
const GROUPS = "msdyn_customergroups - Customer groups";
const CURRENCIES = "transactioncurrencies - Currencies";
const SMALL = 100;
const LARGE = 1_000;
/** Emulated milliseconds per real millisecond. */
const CLOCK_SPEED = 50;

/** One initial sync of accounts for USMF: wall time, requests, rows moved. */
interface SyncMeasure {
  readonly ms: number;
  readonly gatewayRequests: number;
  readonly upserted: number;
  readonly total: number;
}

/** Links pair `name`, prepares it, and times the initial sync of accounts for USMF. */
async function syncAccounts(h: ResourceHarness, name: string): Promise<SyncMeasure> {
  const ctx = h.ctx();
  const env = h.env(name);
  const link = (
    await connection.create(
      {
        scenario: "existing-existing",
        financeOperationsUrl: env.financeOperationsUrl,
        dataverseUrl: env.dataverseUrl,
        legalEntities: ["USMF"],
      },
      ctx,
    )
  ).outs;
  await bootstrap.create(
    {
      financeOperationsUrl: link.financeOperationsUrl,
      dataverseUrl: link.dataverseUrl,
      companyCode: "USMF",
      owningBusinessUnit: "Contoso US",
    },
    ctx,
  );
  await binding.create(
    {
      environmentId: link.environmentId,
      financeOperationsUrl: link.financeOperationsUrl,
      dataverseUrl: link.dataverseUrl,
      mapName: ACCOUNTS,
      startPrerequisites: true,
    },
    ctx,
  );
  const inputs = (mapName: string): InitialSyncRunInputs => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName,
    master: "FinanceOperations",
    legalEntities: ["USMF"],
    linkedLegalEntities: link.linkedLegalEntities,
  });
  // Accounts look up currencies and customer groups: those move first.
  for (const prerequisite of [CURRENCIES, GROUPS]) await run.create(inputs(prerequisite), ctx);

  const mark = await h.mark();
  const { ms, value } = await timed(() => run.create(inputs(ACCOUNTS), h.ctx()));
  const outs: InitialSyncRunOutputs = value.outs;
  const usmf = outs.results.find((r) => r.legalEntity === "USMF");
  if (outs.status !== "Succeeded" || !usmf)
    throw new Error(`the initial sync of accounts (size ${name}) ended ${outs.status}`);
  return {
    ms,
    gatewayRequests: countBySurface(await h.requestsSince(mark)).gateway,
    upserted: usmf.upserted,
    total: usmf.total,
  };
}

async function main(): Promise<void> {
  const h = await startResourceHarness({
    seed: [
      { scenario: "existing-existing", name: "small", size: SMALL },
      { scenario: "existing-existing", name: "large", size: LARGE },
    ],
    clock: { speed: CLOCK_SPEED },
  });
  try {
    // Small first: it also warms up the code paths both runs share.
    const small = await syncAccounts(h, "small");
    const large = await syncAccounts(h, "large");
    printTable(
      `Initial sync of accounts for USMF: seed size ${SMALL} vs ${LARGE.toLocaleString("en-US")} (clock ×${CLOCK_SPEED}, one run each)`,
      { baseline: `size ${SMALL}`, candidate: `size ${LARGE.toLocaleString("en-US")}` },
      [
        { label: "rows in the job (both legs)", baseline: small.total, candidate: large.total },
        { label: "rows upserted", baseline: small.upserted, candidate: large.upserted },
        {
          label: "gateway requests (start, polls, results)",
          baseline: small.gatewayRequests,
          candidate: large.gatewayRequests,
        },
        { label: "wall time", baseline: small.ms, candidate: large.ms, unit: "ms" },
      ],
    );
  } finally {
    await h.close();
  }
}

runBenchmark("initialSync.bench", main);
