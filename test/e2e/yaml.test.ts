/**
 * A YAML program (examples/yaml) with the real CLI and nothing else: `pulumi preview`, `pulumi up`
 * and `pulumi destroy` run as commands; the CLI starts the program through the YAML language host
 * (built from the Go module proxy by the set-up) and the resources through the provider plugin
 * `pulumi-resource-dualwrite` from the repository's bin/ (the project's `plugins.providers` path).
 * No Automation API. The emulator stands in for both environments and the gateway.
 */
import * as path from "node:path";
import { expect } from "chai";
import type { EnvironmentInfo } from "../../emulator/index";
import { readPairReport } from "../../tools/emulatorReport";
import { emulatorProcessEnv, emulatorProviderConfig } from "../../tools/examples";
import { findRepoRoot } from "../../tools/toolchain";
import { CliProject } from "../support/cliProject";
import type { TestEmulator } from "../support/emulator";
import {
  OutputBuffer,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
  stopMapByHand,
} from "./scenarioSupport";

const MAPS = [
  "cdm_companies - Legal entities",
  "transactioncurrencies - Currencies",
  "msdyn_customergroups - Customer groups",
  "accounts - Customers V3",
  "contacts - Customers V3",
];

/** A YAML example's project and its emulated pair, as the hooks of one `describe` make them. */
interface YamlProject {
  readonly emulator: TestEmulator;
  readonly pair: EnvironmentInfo;
  readonly project: CliProject;
}

/**
 * Registers the hooks that start an emulator, seed a new-new pair named `pairName`, and copy
 * `examples/<example>` into a stack configured for that pair; returns getters valid inside tests.
 */
function yamlProject(example: string, pairName: string): YamlProject {
  const buffer = new OutputBuffer();
  let emulator: TestEmulator | undefined;
  let pair: EnvironmentInfo | undefined;
  let project: CliProject | undefined;

  before(async function () {
    emulator = await startScenarioEmulator();
    pair = await seedPair(emulator, "new-new", pairName);
    project = await CliProject.create({
      sourceDir: path.join(findRepoRoot(), "examples", example),
      stack: "dev",
      env: emulatorProcessEnv(emulator),
      output: buffer.sink,
    });
    const provider = emulatorProviderConfig(emulator);
    await project.setConfig({
      financeOperationsUrl: pair.financeOperationsUrl,
      dataverseUrl: pair.dataverseUrl,
      ...provider.config,
    });
    await project.setConfig(provider.secrets, true);
  });

  afterEach(printOutputOnFailure(buffer));

  after(async function () {
    await project?.dispose();
    await emulator?.close();
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not set up (the before hook failed)`);
    return value;
  };
  return {
    get emulator() {
      return ready(emulator, "the emulator");
    },
    get pair() {
      return ready(pair, "the pair");
    },
    get project() {
      return ready(project, "the project");
    },
  };
}

describe("e2e: a YAML program with the plain Pulumi CLI and the provider plugin", function () {
  this.timeout(600_000);
  const setup = yamlProject("yaml", "yaml");

  it("previews the whole scenario as creates of the plugin's types", async function () {
    const preview = await setup.project.run(["preview"], { check: true });
    expect(preview.stdout).to.match(/\+\s+dualwrite:index:DualWriteConnection\s+link\s+create/);
    expect(preview.stdout.match(/dualwrite:index:EntityMapBinding \S+ create/g)).to.have.length(5);
    expect(preview.stdout).to.match(/\+ 7 to create/);
    // A preview writes nothing.
    expect((await readPairReport(setup.emulator.control, setup.pair.name)).link).to.equal(
      undefined,
    );
  });

  it("converges with pulumi up: the link for DAT and every map Running", async function () {
    await setup.project.run(["up", "--yes", "--skip-preview"], { check: true });
    const outputs = await setup.project.outputs();
    expect(outputs.linkedLegalEntities).to.deep.equal(["DAT"]);
    expect(outputs.maps).to.deep.equal(Object.fromEntries(MAPS.map((m) => [m, "Running"])));
    // What the emulated environments show, not only what the stack says.
    const report = await readPairReport(setup.emulator.control, setup.pair.name);
    expect(report.link?.legalEntities).to.deep.equal(["DAT"]);
    for (const name of MAPS) {
      expect(report.maps.find((m) => m.name === name)?.state, name).to.equal("Running");
    }
  });

  it("keeps no secret in the state and reads the provider configuration from stack config", async function () {
    const state = await setup.project.exportedState();
    const { secrets } = emulatorProviderConfig(setup.emulator);
    for (const value of Object.values(secrets)) expect(state).to.not.include(value);
    expect(state).to.match(/"type":\s*"dualwrite:index:EntityMapBinding"/);
  });

  it("shows no change on the next preview", async function () {
    const preview = await setup.project.run(["preview", "--expect-no-changes"]);
    expect(preview.code, preview.stdout + preview.stderr).to.equal(0);
    expect(preview.stdout).to.match(/7 unchanged/);
  });

  it("shows a map stopped by hand as drift, with the reason, and up puts it back", async function () {
    await stopMapByHand(setup.emulator, setup.pair.name, "contacts - Customers V3");
    const preview = await setup.project.run(["preview", "--diff"], { check: true });
    expect(preview.stdout).to.match(
      /~ dualwrite:index:EntityMapBinding: \(update\)[\s\S]*::contacts\]/,
    );
    // The lifecycle's reason, logged by the plugin under the resource (the CLI prints diagnostics
    // on stderr when not interactive).
    expect(preview.stdout + preview.stderr).to.include(
      "map contacts - Customers V3 is Stopped; declared Running",
    );
    expect(preview.stdout).to.match(/~ 1 to update/);
    await setup.project.run(["up", "--yes", "--skip-preview"], { check: true });
    expect((await setup.project.outputs()).maps).to.have.property(
      "contacts - Customers V3",
      "Running",
    );
    const after = await setup.project.run(["preview", "--expect-no-changes"]);
    expect(after.code, after.stdout).to.equal(0);
  });

  it("destroys: maps stopped, the link reset", async function () {
    await setup.project.run(["destroy", "--yes", "--skip-preview"], { check: true });
    expect(await setup.project.exportedState()).to.not.include("dualwrite:index:");
    expect((await readPairReport(setup.emulator.control, setup.pair.name)).link).to.equal(
      undefined,
    );
  });
});

describe("e2e: a YAML program declaring the DualWriteScenario component, constructed by the plugin", function () {
  this.timeout(600_000);
  const setup = yamlProject("yaml-component", "yamlcomponent");

  it("previews the component's link and bindings as the plugin's types, under the component", async function () {
    const preview = await setup.project.run(["preview"], { check: true });
    expect(preview.stdout).to.match(/\+\s+dualwrite:index:DualWriteScenario\s+setup\s+create/);
    expect(preview.stdout).to.match(/\+\s+dualwrite:index:DualWriteConnection\s+setup\s+create/);
    // The two declared maps and the three they need, as the TypeScript component plans them.
    expect(preview.stdout.match(/dualwrite:index:EntityMapBinding \S+ create/g)).to.have.length(5);
    expect(preview.stdout).to.match(/setup-map-contacts-customers-v3\s+create/);
    expect(preview.stdout).to.match(/\+ 8 to create/);
    expect((await readPairReport(setup.emulator.control, setup.pair.name)).link).to.equal(
      undefined,
    );
  });

  it("converges with pulumi up: the component's outputs and the emulated environments agree", async function () {
    await setup.project.run(["up", "--yes", "--skip-preview"], { check: true });
    const outputs = await setup.project.outputs();
    expect(outputs.linkedLegalEntities).to.deep.equal(["DAT"]);
    expect(outputs.maps).to.deep.equal(Object.fromEntries(MAPS.map((m) => [m, "Running"])));
    const report = await readPairReport(setup.emulator.control, setup.pair.name);
    expect(report.link?.legalEntities).to.deep.equal(["DAT"]);
    for (const name of MAPS) {
      expect(report.maps.find((m) => m.name === name)?.state, name).to.equal("Running");
    }
    // The children are the plugin's custom resources, parented by the component.
    const state = JSON.parse(await setup.project.exportedState()) as {
      deployment: { resources: { type: string; parent?: string; urn: string }[] };
    };
    const resources = state.deployment.resources;
    const component = resources.find((r) => r.type === "dualwrite:index:DualWriteScenario");
    expect(component, "component in the state").to.not.equal(undefined);
    const children = resources.filter((r) => r.parent === component?.urn).map((r) => r.type);
    expect(children.sort()).to.deep.equal([
      "dualwrite:index:DualWriteConnection",
      ...MAPS.map(() => "dualwrite:index:EntityMapBinding"),
    ]);
  });

  it("shows no change on the next preview", async function () {
    const preview = await setup.project.run(["preview", "--expect-no-changes"]);
    expect(preview.code, preview.stdout + preview.stderr).to.equal(0);
    expect(preview.stdout).to.match(/8 unchanged/);
  });

  it("destroys: maps stopped, the link reset", async function () {
    await setup.project.run(["destroy", "--yes", "--skip-preview"], { check: true });
    expect(await setup.project.exportedState()).to.not.include("dualwrite:index:");
    expect((await readPairReport(setup.emulator.control, setup.pair.name)).link).to.equal(
      undefined,
    );
  });
});
