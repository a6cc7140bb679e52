/**
 * A TypeScript program on the SDK that `pulumi package gen-sdk` generated from schema.json
 * (sdk/nodejs, by the set-up), served by the provider plugin: the SDK's classes register
 * `dualwrite:index:*` resources, the engine starts `pulumi-resource-dualwrite` (on the toolchain's
 * PATH) and the plugin runs the same lifecycles as the dynamic resources. The program runs as an
 * Automation API inline program (no Node language host, docs/adr/0001), on the real CLI, against
 * the emulator: preview, up, a no-change preview, a declared change shown property by property,
 * destroy.
 */
import * as path from "node:path";
import { expect } from "chai";
import type * as sdk from "../../sdk/nodejs/bin/index";
import type { EnvironmentInfo } from "../../emulator/index";
import { readPairReport } from "../../tools/emulatorReport";
import { emulatorProcessEnv, emulatorProviderConfig } from "../../tools/examples";
import { findRepoRoot } from "../../tools/toolchain";
import { EngineStack } from "../support/engine";
import type { TestEmulator } from "../support/emulator";
import {
  OutputBuffer,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
} from "./scenarioSupport";

/** The generated SDK, compiled (sdk/nodejs/bin); loaded at run time, it is not part of dist/. */
function generatedSdk(): typeof sdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path outside the build
  return require(path.join(findRepoRoot(), "sdk", "nodejs", "bin")) as typeof sdk;
}

describe("e2e: a TypeScript program on the generated SDK, served by the provider plugin", function () {
  this.timeout(600_000);
  const buffer = new OutputBuffer();
  let emulator: TestEmulator;
  let pair: EnvironmentInfo;
  let stack: EngineStack;

  /** The program: the link for DAT and two maps, the second in the state `mapState`. */
  const program = (mapState: "Running" | "Stopped") => () => {
    const dw = generatedSdk();
    const link = new dw.DualWriteConnection("link", {
      scenario: "new-new",
      financeOperationsUrl: pair.financeOperationsUrl,
      dataverseUrl: pair.dataverseUrl,
      legalEntities: ["DAT"],
    });
    const companies = new dw.EntityMapBinding("companies", {
      connection: link,
      mapName: "cdm_companies - Legal entities",
    });
    const currencies = new dw.EntityMapBinding(
      "currencies",
      { connection: link, mapName: "transactioncurrencies - Currencies", state: mapState },
      { dependsOn: [companies] },
    );
    return Promise.resolve({
      environmentId: link.environmentId,
      states: { companies: companies.observedState, currencies: currencies.observedState },
    });
  };

  before(async function () {
    emulator = await startScenarioEmulator();
    pair = await seedPair(emulator, "new-new", "sdk");
    const provider = emulatorProviderConfig(emulator);
    stack = await EngineStack.create({
      projectName: "dualwrite-sdk",
      program: program("Running"),
      config: provider.config,
      secrets: provider.secrets,
      env: emulatorProcessEnv(emulator),
      output: buffer.sink,
    });
  });

  afterEach(printOutputOnFailure(buffer));

  after(async function () {
    await stack?.dispose();
    await emulator?.close();
  });

  it("previews creates of the plugin's types", async function () {
    const preview = await stack.preview();
    expect(preview.changeSummary.create).to.equal(4); // the stack, the link, two maps
    expect(preview.stdout).to.include("dualwrite:index:DualWriteConnection");
  });

  it("converges with up, through the plugin", async function () {
    const up = await stack.up();
    const outputs = up.outputs;
    expect(outputs.states?.value).to.deep.equal({ companies: "Running", currencies: "Running" });
    expect(outputs.environmentId?.value).to.equal(pair.cid);
    const state = await stack.stateText();
    expect(state).to.match(/"type":\s*"dualwrite:index:EntityMapBinding"/);
    expect(state).to.not.include("pulumi-nodejs:dynamic");
    for (const value of Object.values(emulatorProviderConfig(emulator).secrets)) {
      expect(state).to.not.include(value);
    }
  });

  it("shows no change on the next preview", async function () {
    await stack.preview({ expectNoChanges: true });
  });

  it("shows a declared change as a detailed diff of the property, then applies it", async function () {
    stack.setProgram(program("Stopped"));
    const preview = await stack.preview({ diff: true });
    expect(preview.changeSummary.update).to.equal(1);
    expect(preview.stdout).to.match(/~ state\s*: "Running" => "Stopped"/);
    await stack.up();
    const report = await readPairReport(emulator.control, pair.name);
    expect(
      report.maps.find((m) => m.name === "transactioncurrencies - Currencies")?.state,
    ).to.equal("Stopped");
  });

  it("destroys", async function () {
    await stack.destroy();
    expect((await readPairReport(emulator.control, pair.name)).link).to.equal(undefined);
  });
});
