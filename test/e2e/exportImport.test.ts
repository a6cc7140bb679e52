/**
 * Existing setups brought under management, with the real Pulumi CLI: `pulumi-dualwrite export`
 * (run as a person runs it, read-only) on every seeded scenario after its example's converged
 * `pulumi up`, and on a setup made by hand through the gateway and the control API (no provider
 * involved). Per setup:
 *
 * 1. the export exits 0, sends GET requests only, prints no secret, and is deterministic (a second
 *    export gives the same bytes); its import ids name every declared resource;
 * 2. YAML: in a fresh stack of the exported `yaml/` project (plugin from bin/, YAML language host),
 *    `pulumi import --file import.json`, then the first `pulumi preview` shows no change;
 * 3. TypeScript: the exported `typescript/index.ts` compiles with its own tsconfig; in a fresh stack
 *    (dynamic resources cannot be imported) its first `pulumi up` adopts the setup with no write to
 *    any environment (reads only, and prerequisite lookups that the gateway serves as POST), its
 *    state matches what the emulator shows (legal entities, each map's version, author, state),
 *    and the next `pulumi preview` shows no change.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import ts from "typescript";
import type { EnvironmentInfo } from "../../emulator/index";
import {
  emulatorProcessEnv,
  emulatorProviderConfig,
  programFromModule,
  SCENARIO_EXAMPLES,
  scenarioExampleConfig,
} from "../../tools/examples";
import { readPairReport, type PairReport } from "../../tools/emulatorReport";
import { loadToolchain } from "../../tools/toolchain";
import { Action, Maps, Pair } from "../emulator/dualWriteHarness";
import { isWrite } from "../provider/harness";
import { emulatorEnv, repoRoot, runCli } from "../cli/runCli";
import type { TestEmulator } from "../support/emulator";
import { EngineStack } from "../support/engine";
import {
  changes,
  exampleStack,
  OutputBuffer,
  previewSteps,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
} from "./scenarioSupport";

/** The exported project's name and stack (the export's `--project` and `--stack`). */
const PROJECT = "exported";
const STACK = "dev";

/** One resource of `import.json`. */
interface ImportEntry {
  readonly type: string;
  readonly name: string;
  readonly id: string;
}

/** A custom resource of a checkpoint. */
interface StateResource {
  readonly type: string;
  readonly urn: string;
  readonly outputs?: Record<string, unknown>;
}

describe("export → import → no-change preview (real CLI)", function () {
  this.timeout(15 * 60_000);
  const output = new OutputBuffer();
  let emu: TestEmulator;
  let scratch: string;

  before(async () => {
    emu = await startScenarioEmulator();
    scratch = await fs.promises.mkdtemp(path.join(os.tmpdir(), "dualwrite-export-"));
  });
  after(async () => {
    await fs.promises.rm(scratch, { recursive: true, force: true });
    await emu?.close();
  });
  afterEach(printOutputOnFailure(output));

  /** Runs `export` into `out`; checks the exit code and returns the stdout. */
  async function exportPair(
    pair: EnvironmentInfo,
    out: string,
    extra: readonly string[] = [],
  ): Promise<string> {
    const run = await runCli(
      emu,
      [
        "export",
        "--finance-operations-url",
        pair.financeOperationsUrl,
        "--dataverse-url",
        pair.dataverseUrl,
        "--out",
        out,
        "--project",
        PROJECT,
        "--stack",
        STACK,
        "--plugin-path",
        path.join(repoRoot, "bin"),
        ...extra,
      ],
      emulatorEnv(emu),
    );
    expect(run.stderr, "export's stderr").to.equal("");
    expect(run.code, run.stdout).to.equal(0);
    return run.stdout;
  }

  /** Every file below `dir`, by relative path. */
  async function filesOf(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const entry of await fs.promises.readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      out[path.relative(dir, file)] = await fs.promises.readFile(file, "utf8");
    }
    return out;
  }

  /** Step 1: export twice, same bytes; the import ids. */
  async function exportChecked(pair: EnvironmentInfo, label: string): Promise<string> {
    const out = path.join(scratch, label);
    const stdout = await exportPair(pair, out);
    expect(stdout).to.contain("not declared: CompanyBootstrap and InitialSyncRun");
    const again = path.join(scratch, `${label}-again`);
    await exportPair(pair, again);
    expect(await filesOf(again), "a second export gives the same bytes").to.deep.equal(
      await filesOf(out),
    );
    // Without --force an export never overwrites.
    const refused = await runCli(
      emu,
      [
        "export",
        "--finance-operations-url",
        pair.financeOperationsUrl,
        "--out",
        out,
        "--project",
        PROJECT,
      ],
      emulatorEnv(emu),
    );
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.contain("pass --force to overwrite");

    const entries = importEntries(out);
    expect(entries[0]).to.deep.equal({
      type: "dualwrite:index:DualWriteConnection",
      name: "dualwrite",
      id: `${pair.financeOperationsUrl}|${pair.dataverseUrl}`,
    });
    for (const e of entries.slice(1)) {
      expect(e.type).to.equal("dualwrite:index:EntityMapBinding");
      expect(e.id.startsWith(`${pair.financeOperationsUrl}|${pair.dataverseUrl}|`), e.id).to.equal(
        true,
      );
    }
    return out;
  }

  function importEntries(out: string): ImportEntry[] {
    const text = fs.readFileSync(path.join(out, "yaml", "import.json"), "utf8");
    return (JSON.parse(text) as { resources: ImportEntry[] }).resources;
  }

  /**
   * Step 2: the YAML project in a fresh stack, with the commands its README gives: `pulumi stack
   * init`, the secrets, `pulumi import --file import.json --generate-code=false --yes`, then
   * `pulumi preview --expect-no-changes`. No warning may come from the import (an imported input
   * that fails the provider's check is one).
   */
  async function importYaml(out: string): Promise<void> {
    const toolchain = loadToolchain();
    const backend = await fs.promises.mkdtemp(path.join(scratch, "yaml-state-"));
    const workDir = path.join(out, "yaml");
    const env = {
      ...process.env,
      ...toolchain.env,
      ...emulatorProcessEnv(emu),
      PULUMI_BACKEND_URL: `file://${backend}`,
    };
    // Asynchronously: the emulator answers from this very process.
    const pulumi = async (args: readonly string[], input?: string): Promise<string> => {
      output.sink(`--- pulumi ${args.join(" ")}\n`);
      const child = spawn(path.join(toolchain.binDir, "pulumi"), [...args, "--non-interactive"], {
        cwd: workDir,
        env,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let text = "";
      child.stdout.on("data", (d: Buffer) => (text += d.toString()));
      child.stderr.on("data", (d: Buffer) => (text += d.toString()));
      child.stdin.end(input ?? "");
      const code = await new Promise<number | null>((done) => child.on("close", done));
      output.sink(text);
      expect(code, `pulumi ${args.join(" ")}: ${text}`).to.equal(0);
      return text;
    };
    await pulumi(["stack", "init", STACK]);
    for (const [key, value] of Object.entries(emulatorProviderConfig(emu).secrets))
      await pulumi(["config", "set", "--secret", key], value); // from stdin: no secret in argv or logs
    const imported = await pulumi([
      "import",
      "--file",
      "import.json",
      "--generate-code=false",
      "--yes",
    ]);
    expect(imported).to.match(/= \d+ imported/);
    expect(imported, "warnings of the import").not.to.match(/warning/i);
    const preview = await pulumi(["preview", "--expect-no-changes", "--diff"]);
    expect(preview).to.match(/Resources:\s+\d+ unchanged/);
  }

  /** Compiles `typescript/index.ts` with the exported tsconfig.json; returns the JavaScript file. */
  function compileTypescript(out: string): string {
    const dir = path.join(out, "typescript");
    // `pulumi-dualwrite` and `@pulumi/pulumi` resolve as after `npm install`: from node_modules.
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
    const configFile = path.join(dir, "tsconfig.json");
    const parsed = ts.parseJsonConfigFileContent(
      ts.readConfigFile(configFile, (f) => ts.sys.readFile(f)).config,
      ts.sys,
      dir,
    );
    const program = ts.createProgram(parsed.fileNames, { ...parsed.options, outDir: dir });
    const emitted = program.emit();
    const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) =>
      ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    );
    expect(problems, "the exported TypeScript compiles").to.deep.equal([]);
    return path.join(dir, "index.js");
  }

  /**
   * Step 3: the TypeScript program in a fresh stack: the first `up` adopts with no write, its
   * state matches the emulator's report, and the next preview shows no change.
   */
  async function adoptTypescript(out: string, pairName: string): Promise<void> {
    const program = compileTypescript(out);
    const stack = await EngineStack.create({
      projectName: PROJECT,
      program: programFromModule(program),
      env: emulatorProcessEnv(emu),
      output: output.sink,
    });
    try {
      const file = path.join(stack.stack.workspace.workDir, `Pulumi.${stack.name}.yaml`);
      const salt = (await fs.promises.readFile(file, "utf8").catch(() => ""))
        .split("\n")
        .filter((line) => line.startsWith("encryptionsalt:"));
      const exported = await fs.promises.readFile(
        path.join(out, "typescript", `Pulumi.${STACK}.yaml`),
        "utf8",
      );
      await fs.promises.writeFile(file, [...salt, exported].join("\n"));
      await stack.setConfig(emulatorProviderConfig(emu).secrets, { secret: true });

      const mark = await emu.control.lastRequestSeq();
      await stack.up();
      const writes = (await emu.control.requests(mark)).filter(isWrite);
      expect(
        writes.map((w) => `${w.surface} ${w.method} ${w.path}`),
        "the adopting up writes nothing",
      ).to.deep.equal([]);

      expectStateMatches(await stateResources(stack), await readPairReport(emu.control, pairName));
      const { steps } = await previewSteps(stack, output, { expectNoChanges: true });
      expect(changes(steps)).to.deep.equal([]);
    } finally {
      await forget(stack);
    }
  }

  async function stateResources(stack: EngineStack): Promise<StateResource[]> {
    const deployment = (await stack.stack.exportStack()).deployment as {
      resources?: StateResource[];
    };
    return deployment.resources ?? [];
  }

  /** The adopted state says what the emulator shows: legal entities; each running map's version, author, state. */
  function expectStateMatches(resources: readonly StateResource[], report: PairReport): void {
    const of = (suffix: string) => resources.filter((r) => r.type.endsWith(suffix));
    const [link] = of("DualWriteConnection");
    expect(link?.outputs?.legalEntities).to.deep.equal(
      [...(report.link?.legalEntities ?? [])].sort(),
    );
    const maps = new Map(
      of("EntityMapBinding").map((r) => [String(r.outputs?.mapName), r.outputs]),
    );
    const running = report.maps.filter((m) => m.state === "Running");
    expect(running.length, "maps running in the emulator").to.be.greaterThan(0);
    for (const m of running) {
      const declared = maps.get(m.name);
      expect(declared, `an EntityMapBinding for ${m.name}`).to.not.equal(undefined);
      expect(declared).to.include({ version: m.version, author: m.author, state: "Running" });
    }
  }

  /** Drops a stack's state without destroying: the setup belongs to the test's emulator. */
  async function forget(stack: EngineStack): Promise<void> {
    await stack.stack.workspace.removeStack(stack.name, { force: true });
    await fs.promises.rm(stack.scratchDir, { recursive: true, force: true });
  }

  for (const example of SCENARIO_EXAMPLES) {
    it(`${example}: exported after a converged up; YAML imports and TypeScript adopts with no change`, async () => {
      const pair = await seedPair(emu, example, `export-${example}`);
      const stack = await exampleStack({
        emulator: emu,
        example,
        config: scenarioExampleConfig(example, pair),
        output,
      });
      try {
        await stack.up();
        const out = await exportChecked(pair, example);
        await importYaml(out);
        await adoptTypescript(out, pair.name);
      } finally {
        await forget(stack);
      }
    });
  }

  it("a setup made by hand (gateway and control API): exported, imported and adopted with no change", async () => {
    const pair = await Pair.seed(emu, "existing-existing", 5);
    await pair.link(["DEMF", "USMF"]);
    const applied = await pair.applySolution("msdyn_DualWriteAppCoreMaps");
    expect(applied.state, applied.result.message).to.equal("2");
    const running = [Maps.legalEntities, Maps.currencies, Maps.customerGroups, Maps.contacts];
    const init = await pair.run(Action.init, [...running, Maps.accounts]);
    expect(init.state, String(init.errorMessage)).to.equal("2");
    await pair.startMaps(...running);
    // accounts: Contoso's version, one key, never started; contacts paused.
    const version = await pair.control(
      "PUT",
      `maps/${encodeURIComponent(pair.name)}/${encodeURIComponent(Maps.accounts)}/version`,
      { version: "1.0.0.1", author: "Contoso" },
    );
    expect(version.status, version.text).to.equal(200);
    const set = await pair.connectionSet();
    const crm = Object.values(set.environments).find((e) => e.targetType === "CRM");
    const keys = await pair.gateway("POST", `api/dataset/${String(crm?.name)}/IntegrationKeys`, {
      integrationKeys: { accounts: ["accountnumber"] },
      datasetName: crm?.name,
    });
    expect(keys.status, keys.text).to.equal(200);
    const paused = await pair.run(Action.pause, [Maps.contacts]);
    expect(paused.state, String(paused.errorMessage)).to.equal("2");

    const out = await exportChecked(pair.info, "by-hand");
    const program = await fs.promises.readFile(path.join(out, "typescript", "index.ts"), "utf8");
    expect(program).to.contain(
      [
        "new dw.EntityMapBinding(",
        '  "accounts-customers-v3",',
        "  {",
        "    connection: link,",
        '    mapName: "accounts - Customers V3",',
        '    version: "1.0.0.1",',
        '    author: "Contoso",',
        '    integrationKeys: ["accountnumber"],',
        '    state: "Stopped",',
      ].join("\n"),
    );
    expect(program).to.match(/mapName: "contacts - Customers V3",[^)]*state: "Paused",/s);
    expect(program).to.contain('legalEntities: ["DEMF", "USMF"],');
    await importYaml(out);
    await adoptTypescript(out, pair.name);
  });
});
