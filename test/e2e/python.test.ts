/**
 * A Python program on the SDK that `pulumi package gen-sdk` generated (sdk/python), served by the
 * provider plugin: a Python Automation API inline program (test/e2e/programs/python_inline.py) run
 * by the interpreter of the virtual environment the set-up made (`pulumi` from PyPI, the generated
 * SDK installed; tools/setup/python.js), on the real CLI, against the emulator. No Python language
 * host: the `pulumi` package's in-process language server answers the CLI. Preview, up, a
 * no-change preview, destroy — each a run of the program, with what the emulator shows checked.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import type { EnvironmentInfo } from "../../emulator/index";
import { readPairReport } from "../../tools/emulatorReport";
import { emulatorProcessEnv, emulatorProviderConfig } from "../../tools/examples";
import { findRepoRoot, loadToolchain } from "../../tools/toolchain";
import type { TestEmulator } from "../support/emulator";
import {
  OutputBuffer,
  printOutputOnFailure,
  seedPair,
  startScenarioEmulator,
} from "./scenarioSupport";

const MAPS = ["cdm_companies - Legal entities", "transactioncurrencies - Currencies"];

/** What the set-up recorded in `.toolchain/python.json` (tools/setup/python.js). */
interface PythonSetup {
  readonly python: string;
  readonly sdkPath: string;
}

/** The set-up's Python; fails (never skips) when the set-up did not prepare it. */
function pythonSetup(): PythonSetup {
  const file = path.join(findRepoRoot(), ".toolchain", "python.json");
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} is missing: run this test through \`npm test\` (the set-up prepares Python when ` +
        "the run includes dist/test/e2e/python.test.js or is the whole suite).",
    );
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as PythonSetup;
}

interface RunResult {
  readonly code: number;
  readonly output: string;
  /** The program's last line, parsed. */
  readonly result: Record<string, unknown>;
}

describe("e2e: a Python program on the generated SDK, served by the provider plugin", function () {
  this.timeout(600_000);
  const buffer = new OutputBuffer();
  let emulator: TestEmulator;
  let pair: EnvironmentInfo;
  let scratch: string;
  let params: string;
  let python: PythonSetup;
  let env: Record<string, string>;

  /** Runs the program with `operation`; its output goes to the buffer. */
  const run = (operation: "preview" | "up" | "destroy"): Promise<RunResult> =>
    new Promise((resolve, reject) => {
      const program = path.join(findRepoRoot(), "test", "e2e", "programs", "python_inline.py");
      buffer.sink(`$ python python_inline.py ${operation}\n`);
      const child = spawn(python.python, [program, params, operation], {
        cwd: scratch,
        env: { ...process.env, ...env, PYTHONPATH: python.sdkPath, PYTHONUNBUFFERED: "1" },
      });
      let output = "";
      const take = (chunk: Buffer) => {
        output += chunk.toString();
        buffer.sink(chunk.toString());
      };
      child.stdout.on("data", take);
      child.stderr.on("data", take);
      child.on("error", reject);
      child.on("exit", (code) => {
        const last = output.trim().split("\n").pop() ?? "";
        let result: Record<string, unknown> = {};
        try {
          result = JSON.parse(last) as Record<string, unknown>;
        } catch {
          // not a result line: the run failed, and `code` says so
        }
        resolve({ code: code ?? 1, output, result });
      });
    });

  before(async function () {
    python = pythonSetup();
    const toolchain = loadToolchain();
    emulator = await startScenarioEmulator();
    pair = await seedPair(emulator, "new-new", "python");
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), "dualwrite-python-"));
    const backendUrl = `file://${path.join(scratch, "state")}`;
    fs.mkdirSync(path.join(scratch, "state"));
    env = { ...toolchain.env, ...emulatorProcessEnv(emulator), PULUMI_BACKEND_URL: backendUrl };
    const provider = emulatorProviderConfig(emulator);
    params = path.join(scratch, "params.json");
    fs.writeFileSync(
      params,
      JSON.stringify({
        cliDir: toolchain.toolDir,
        env,
        backendUrl,
        financeOperationsUrl: pair.financeOperationsUrl,
        dataverseUrl: pair.dataverseUrl,
        config: provider.config,
        secrets: provider.secrets,
      }),
      { mode: 0o600 },
    );
  });

  afterEach(printOutputOnFailure(buffer));

  after(async function () {
    // Whatever a failed test left: the stack's objects at the emulator go with the emulator.
    await emulator?.close();
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  });

  it("previews the link and the maps as creates of the plugin's types", async function () {
    const preview = await run("preview");
    expect(preview.code, preview.output).to.equal(0);
    expect(preview.output).to.match(/\+\s+dualwrite:index:DualWriteConnection\s+link\s+create/);
    expect(preview.output.match(/dualwrite:index:EntityMapBinding \S+ create/g)).to.have.length(2);
    expect(preview.result.changes).to.deep.equal({ create: 4 });
    expect((await readPairReport(emulator.control, pair.name)).link).to.equal(undefined);
  });

  it("converges with up: the link for DAT and both maps Running", async function () {
    const up = await run("up");
    expect(up.code, up.output).to.equal(0);
    expect(up.result.result).to.equal("succeeded");
    const outputs = up.result.outputs as Record<string, unknown>;
    expect(outputs.linkedLegalEntities).to.deep.equal(["DAT"]);
    expect(outputs.maps).to.deep.equal(Object.fromEntries(MAPS.map((m) => [m, "Running"])));
    const report = await readPairReport(emulator.control, pair.name);
    expect(report.link?.legalEntities).to.deep.equal(["DAT"]);
    for (const name of MAPS) {
      expect(report.maps.find((m) => m.name === name)?.state, name).to.equal("Running");
    }
  });

  it("shows no change on the next preview", async function () {
    const preview = await run("preview");
    expect(preview.code, preview.output).to.equal(0);
    expect(preview.result.changes).to.deep.equal({ same: 4 });
  });

  it("destroys: the link reset", async function () {
    const destroy = await run("destroy");
    expect(destroy.code, destroy.output).to.equal(0);
    expect(destroy.result.result).to.equal("succeeded");
    expect((await readPairReport(emulator.control, pair.name)).link).to.equal(undefined);
  });
});
