/**
 * Promotion across stacks: examples/promotion is one program with stacks dev, test and prod, each
 * pointing at its own emulated environment pair. The stack files are the example's own
 * (Pulumi.<stack>.yaml, copied into the stack's scratch project); only the environment URLs and
 * the provider settings are set here, as the example's README says.
 *
 * dev comes up with the newest accounts map; test with the version validated in dev and a second
 * company; then prod's preview is compared with test's deployed state: it must contain exactly the
 * differences the two stack files declare (a third company, linked and bootstrapped) and nothing
 * else, before prod comes up too.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import type { EnvironmentInfo } from "../../emulator/index";
import { exampleDir } from "../../tools/examples";
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
  type PlannedStep,
} from "./scenarioSupport";

const PROJECT = "dualwrite-promotion";
const STAGES = ["dev", "test", "prod"] as const;
type Stage = (typeof STAGES)[number];

/** The value Pulumi uses for an output not known until the update runs. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Inputs that differ between stacks by construction: each stack has its own environment pair. */
const ENVIRONMENT_INPUTS = new Set(["financeOperationsUrl", "dataverseUrl"]);

/** A resource as compared across stacks: type and name (URNs differ by stack), and its inputs. */
interface ResourceView {
  readonly key: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

/** The custom resources of a stack's checkpoint (the stack itself and providers left out). */
async function deployedResources(stack: EngineStack): Promise<ResourceView[]> {
  const deployment = (await stack.stack.exportStack()).deployment as {
    resources?: Array<{ urn: string; type: string; inputs?: Record<string, unknown> }>;
  };
  return (deployment.resources ?? [])
    .filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"))
    .map((r) => ({ key: `${r.type}::${r.urn.split("::").pop() ?? ""}`, inputs: r.inputs ?? {} }));
}

/** The same view of a preview's steps. */
function plannedResources(steps: readonly PlannedStep[]): ResourceView[] {
  return steps
    .filter((s) => s.type !== "pulumi:pulumi:Stack" && !s.type.startsWith("pulumi:providers:"))
    .map((s) => ({ key: `${s.type}::${s.name}`, inputs: s.inputs ?? {} }));
}

/** Input names whose values differ, leaving out the provider text and values unknown in preview. */
function differingInputs(
  a: Readonly<Record<string, unknown>>,
  b: Readonly<Record<string, unknown>>,
): string[] {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names]
    .filter((n) => n !== "__provider" && a[n] !== UNKNOWN && b[n] !== UNKNOWN)
    .filter((n) => JSON.stringify(a[n]) !== JSON.stringify(b[n]))
    .sort();
}

/** The project config of a stack (plain values), without the environment URLs. */
async function promotedConfig(stack: EngineStack): Promise<Record<string, string>> {
  const all = await stack.stack.getAllConfig();
  return Object.fromEntries(
    Object.entries(all)
      .filter(
        ([key]) =>
          key.startsWith(`${PROJECT}:`) && !ENVIRONMENT_INPUTS.has(key.slice(PROJECT.length + 1)),
      )
      .map(([key, value]) => [key.slice(PROJECT.length + 1), value.value]),
  );
}

describe("e2e: promotion of one declaration across dev, test and prod", function () {
  let emulator: TestEmulator;
  let backendDir: string;
  const output = new OutputBuffer();
  const pairs = new Map<Stage, EnvironmentInfo>();
  const stacks = new Map<Stage, EngineStack>();

  /** Creates a stage's stack from the example's committed stack file, with this machine's URLs. */
  async function stageStack(stage: Stage): Promise<EngineStack> {
    const pair = pairs.get(stage);
    if (!pair) throw new Error(`no environment pair for ${stage}`);
    const stack = await exampleStack({
      emulator,
      example: "promotion",
      stackName: stage,
      stackFile: path.join(exampleDir("promotion"), `Pulumi.${stage}.yaml`),
      config: { financeOperationsUrl: pair.financeOperationsUrl, dataverseUrl: pair.dataverseUrl },
      output,
      backendDir,
    });
    stacks.set(stage, stack);
    return stack;
  }

  function stackOf(stage: Stage): EngineStack {
    const stack = stacks.get(stage);
    if (!stack) throw new Error(`the ${stage} stack was not created (see the earlier test)`);
    return stack;
  }

  before(async function () {
    emulator = await startScenarioEmulator();
    backendDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "pulumi-dualwrite-promotion-"));
    for (const stage of STAGES)
      pairs.set(stage, await seedPair(emulator, "existing-existing", `promo-${stage}`));
  });

  after(async function () {
    for (const stack of [...stacks.values()].reverse()) await stack.dispose();
    await fs.promises.rm(backendDir, { recursive: true, force: true });
    await emulator?.close();
  });

  afterEach(printOutputOnFailure(output));

  it("brings up dev: USMF only, the newest accounts map", async function () {
    const result = await (await stageStack("dev")).up();
    expect(result.summary.result).to.equal("succeeded");
    await expectConverged(emulator, "promo-dev", {
      legalEntities: ["USMF"],
      maps: [
        { name: "accounts - Customers V3", version: "latest" },
        { name: "contacts - Customers V3", version: "latest" },
      ],
      parityCompanies: ["USMF"],
      bootstrapped: [{ tables: ["accounts", "contacts"], owningBusinessUnit: "Contoso US" }],
    });
  });

  it("brings up test: the accounts-map version validated in dev, and USRT", async function () {
    const result = await (await stageStack("test")).up();
    expect(result.summary.result).to.equal("succeeded");
    await expectConverged(emulator, "promo-test", {
      legalEntities: ["USMF", "USRT"],
      maps: [
        { name: "accounts - Customers V3", version: "1.0.0.4" },
        { name: "contacts - Customers V3", version: "latest" },
      ],
      parityCompanies: ["USMF", "USRT"],
      bootstrapped: [{ tables: ["accounts", "contacts"], owningBusinessUnit: "Contoso US" }],
    });
  });

  it("the prod stack file differs from test's only in the company DEMF", async function () {
    const prod = await stageStack("prod");
    const [testConfig, prodConfig] = [
      await promotedConfig(stackOf("test")),
      await promotedConfig(prod),
    ];
    const differing = Object.keys({ ...testConfig, ...prodConfig }).filter(
      (k) => testConfig[k] !== prodConfig[k],
    );
    expect(differing.sort()).to.deep.equal(["bootstrapCompanies", "legalEntities"]);
    expect(JSON.parse(prodConfig.legalEntities ?? "[]")).to.deep.equal([
      ...(JSON.parse(testConfig.legalEntities ?? "[]") as string[]),
      "DEMF",
    ]);
  });

  it("prod's preview contains exactly those declared differences", async function () {
    const { result, steps } = await previewSteps(stackOf("prod"), output);
    const planned = plannedResources(steps);
    const deployed = await deployedResources(stackOf("test"));

    // Every resource of test is planned for prod, plus the bootstrap of DEMF, and nothing else.
    const bootstrapDemf =
      "pulumi-nodejs:dynamic/dualwrite:CompanyBootstrap::contoso-bootstrap-demf";
    expect(planned.map((r) => r.key).sort()).to.deep.equal(
      [...deployed.map((r) => r.key), bootstrapDemf].sort(),
    );
    expect(
      changes(steps).every((s) => s.op === "create"),
      "a new stack: every step creates",
    ).to.equal(true);
    expect(result.changeSummary).to.deep.equal({ create: planned.length + 1 }); // + the stack itself

    // Inputs equal test's except the environment URLs and the link's legal entities.
    const differences: Record<string, string[]> = {};
    for (const p of planned) {
      const d = deployed.find((r) => r.key === p.key);
      if (!d) continue;
      // A binding restates the link's declared legal entities (`connectionLegalEntities`, to check
      // its initial sync's companies in preview): that is the link's declared difference again.
      const differing = differingInputs(p.inputs, d.inputs).filter(
        (n) => !ENVIRONMENT_INPUTS.has(n) && n !== "connectionLegalEntities",
      );
      if (differing.length > 0) differences[p.key] = differing;
    }
    expect(differences).to.deep.equal({
      "pulumi-nodejs:dynamic/dualwrite:DualWriteConnection::contoso": ["legalEntities"],
    });
    const link = planned.find(
      (r) => r.key === "pulumi-nodejs:dynamic/dualwrite:DualWriteConnection::contoso",
    );
    expect(link?.inputs.legalEntities).to.deep.equal(["USMF", "USRT", "DEMF"]);
    const bootstrap = planned.find((r) => r.key === bootstrapDemf);
    expect(bootstrap?.inputs).to.include({
      companyCode: "DEMF",
      owningBusinessUnit: "Contoso Germany",
    });
  });

  it("brings up prod: USMF, USRT and DEMF at the versions of test", async function () {
    const result = await stackOf("prod").up();
    expect(result.summary.result).to.equal("succeeded");
    await expectConverged(emulator, "promo-prod", {
      legalEntities: ["USMF", "USRT", "DEMF"],
      maps: [
        { name: "accounts - Customers V3", version: "1.0.0.4" },
        { name: "contacts - Customers V3", version: "latest" },
      ],
      parityCompanies: ["USMF", "USRT", "DEMF"],
      bootstrapped: [
        { tables: ["accounts", "contacts"], owningBusinessUnit: "Contoso US" },
        { tables: ["accounts", "contacts"], owningBusinessUnit: "Contoso Germany" },
      ],
    });
    const { steps } = await previewSteps(stackOf("prod"), output, { expectNoChanges: true });
    expect(changes(steps)).to.deep.equal([]);
  });
});
