/**
 * Data volume, end to end: examples/existing-new against an F&O environment whose USMF customers
 * exceed what one initial-sync run may move (500,000 rows per legal entity, Microsoft's
 * "Considerations for initial synchronization"). The emulator holds them as real rows: 612,000
 * generated customers in USMF (`PUT /_emulator/bulk-rows`) beside the seeded ones.
 *
 * `pulumi preview` must refuse with the count it measured, the limit and what to do instead,
 * without writing anything; after `pulumi config set initialSync skip` (load each side
 * separately, then start live sync) the same program converges.
 */
import { expect } from "chai";
import { CommandError } from "@pulumi/pulumi/automation";
import { scenarioExampleConfig } from "../../tools/examples";
import type { TestEmulator } from "../support/emulator";
import type { EngineStack } from "../support/engine";
import {
  changes,
  expectConverged,
  exampleStack,
  OutputBuffer,
  previewSteps,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
} from "./scenarioSupport";

const PAIR = "e2e-volume";
const MEASURED = 612_000;

describe("e2e: an initial sync above the data-volume limits (examples/existing-new)", function () {
  let emulator: TestEmulator;
  let stack: EngineStack | undefined;
  const output = new OutputBuffer();

  function current(): EngineStack {
    if (!stack) throw new Error("the stack was not created");
    return stack;
  }

  before(async function () {
    emulator = await startScenarioEmulator();
    const env = await seedPair(emulator, "existing-new", PAIR);
    await emulator.control.call("PUT", "bulk-rows", {
      env: PAIR,
      side: "fno",
      table: "CustomersV3",
      company: "USMF",
      count: MEASURED,
    });
    stack = await exampleStack({
      emulator,
      example: "existing-new",
      config: scenarioExampleConfig("existing-new", env),
      output,
    });
  });

  after(async function () {
    await stack?.dispose();
    await emulator?.close();
  });

  afterEach(printOutputOnFailure(output));

  it("pulumi preview refuses with the measured count, the limit and what to do, writing nothing", async function () {
    const since = await emulator.control.lastRequestSeq();
    let failure: unknown;
    try {
      await previewSteps(current(), output);
    } catch (error: unknown) {
      failure = error;
    }
    expect(failure, "the preview fails").to.be.instanceOf(CommandError);
    const said = `${(failure as CommandError).message}\n${output.take()}`;
    // Both customer maps read CustomersV3; the engine stops at the first refusal it meets.
    const refusal = /Initial sync of (accounts|contacts) - Customers V3 refused: [^\n]+/.exec(
      said,
    )?.[0];
    expect(refusal, `a refusal in:\n${said}`).to.be.a("string");
    expect(refusal, "the legal entity").to.include("in USMF");
    // The generated rows plus the customers the seed stores for USMF.
    expect(refusal, "the measured count").to.match(/\b612,0\d\d CustomersV3 rows\b/);
    expect(refusal, "the limit").to.include("500,000 rows per legal entity");
    expect(refusal, "what to do instead").to.include("Load each side separately");
    expect(refusal, "what to do instead").to.include("initial sync skipped");

    const writes = (await emulator.control.requests(since)).filter(
      (r) => r.method !== "GET" && r.surface !== "identity",
    );
    expect(
      writes.map((r) => `${r.method} ${r.path}`),
      "requests that could change something",
    ).to.deep.equal([]);
  });

  it("with initial sync skipped, pulumi up converges and no initial sync runs", async function () {
    await current().setConfig({ initialSync: "skip" });
    const result = await current().up();
    expect(result.summary.result).to.equal("succeeded");
    await expectConverged(emulator, PAIR, {
      legalEntities: ["DAT", "USMF", "USRT", "DEMF"],
      maps: [
        "cdm_companies - Legal entities",
        "transactioncurrencies - Currencies",
        "msdyn_customergroups - Customer groups",
        "accounts - Customers V3",
        "contacts - Customers V3",
      ].map((name) => ({ name, version: "latest" })),
      // Each side is loaded separately in this case: the maps only carry changes from now on.
      parityCompanies: [],
    });
    const jobs = await emulator.control.call<Array<{ fnoEnv?: string }>>("GET", "jobs");
    expect(
      jobs.filter((j) => j.fnoEnv === PAIR),
      "initial-sync jobs",
    ).to.deep.equal([]);

    const { steps } = await previewSteps(current(), output, { expectNoChanges: true });
    expect(changes(steps)).to.deep.equal([]);
    // An initial sync is a map's start with `initialSync` on its binding: none declares one now.
    const bindings = steps.filter((s) => s.type.endsWith(":EntityMapBinding"));
    expect(bindings.map((b) => b.inputs?.mapName).sort(), "map bindings").to.deep.equal([
      "accounts - Customers V3",
      "cdm_companies - Legal entities",
      "contacts - Customers V3",
      "msdyn_customergroups - Customer groups",
      "transactioncurrencies - Currencies",
    ]);
    expect(
      bindings.filter((b) => b.inputs?.initialSync !== undefined).map((b) => b.name),
      "bindings with an initial sync",
    ).to.deep.equal([]);
  });
});
