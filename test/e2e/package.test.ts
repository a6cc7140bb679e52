/**
 * End to end, the way a user gets the package: `npm pack` (which builds the shipped parts), the
 * tarball installed into new projects in a temporary folder outside the repository, and a small
 * program — one DualWriteConnection, one EntityMapBinding — run through the real Pulumi CLI:
 * preview, up, a preview with no changes, destroy. Nothing in those projects resolves from the
 * repository: the driver (`packageApp/driver.ts`) and the program are copied in, and load
 * `@pulumi/pulumi` and `pulumi-dualwrite` from the project's own `node_modules`.
 *
 * Two projects, the two ways the provider runtime must be found (docs/adr/0004):
 * - **npm**, `pulumi-dualwrite` a direct dependency, `@pulumi/pulumi` at the lower bound of the
 *   peer range (read from package.json): the ordinary install, compiled both with Pulumi's
 *   template compiler options and with `nodenext`.
 * - **pnpm** (installed from the npm registry), `pulumi-dualwrite` a dependency of a wrapper
 *   package only, so the name does not resolve from the project folder (pnpm does not hoist);
 *   `@pulumi/pulumi` at the newest release known. The runtime is found by the path the program
 *   captured. After `up` the project folder is moved, as when the state is used on another
 *   machine: the preview from the new folder shows no changes, and `destroy` — which runs the
 *   providers serialized in the state, whose path no longer exists — finds the runtime at the
 *   same place below the new folder's `node_modules/.pnpm`.
 *
 * Only npm's own cache and the emulator's shared TLS directory are used outside the temporary
 * folder (pnpm's store and `PULUMI_HOME` live inside it). The emulator runs in this process with
 * the default TLS directory: a second CA with the same subject, trusted in this one mocha process,
 * would make every later test's TLS fail with "certificate signature failure". Its CLI from the
 * installed package is started once, on the same TLS directory, to show that the shipped emulator
 * serves.
 */
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { EmulatorControl, type EnvironmentInfo } from "../../emulator/index";
import { emulatorProcessEnv, emulatorProviderConfig } from "../../tools/examples";
import { findRepoRoot, loadToolchain } from "../../tools/toolchain";
import { isWrite } from "../provider/harness";
import { startTestEmulator, type TestEmulator } from "../support/emulator";
import type { DriverResult, DriverSettings } from "./packageApp/driver";
import { OutputBuffer, printOutputOnFailure } from "./scenarioSupport";

const REPO = findRepoRoot();

/** The newest `@pulumi/pulumi` 3.x on the registry when this test was written: the range's top. */
const NEWEST_SDK = "3.276.0";

/** The pnpm release installed from the npm registry (`npm view pnpm version` when written). */
const PNPM_VERSION = "12.21.0";

/** The map the program binds (it has no prerequisite maps). */
const MAP = "cdm_companies - Legal entities";

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  exports?: Record<string, string | Record<string, string>>;
  typesVersions?: Record<string, Record<string, string[]>>;
  bin?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as Manifest;

/** The lower bound of the `@pulumi/pulumi` peer range, e.g. `3.200.0` from `>=3.200.0 <4.0.0`. */
function lowestSdk(): string {
  const range = manifest.peerDependencies?.["@pulumi/pulumi"] ?? "";
  const match = /^>=(\d+\.\d+\.\d+) <4\.0\.0$/.exec(range);
  if (!match?.[1]) throw new Error(`peerDependencies["@pulumi/pulumi"] is "${range}"`);
  return match[1];
}

/**
 * What `npm test` sets for its own run and must not leak into an install in another folder: the
 * run-script variables and the prefixes (an inherited prefix would install into the repository).
 * The rest of `npm_config_*` — registry, cache, CA file, user config — is the person's own npm
 * configuration and is kept.
 */
const NPM_RUN_VARIABLES =
  /^(npm_(lifecycle_|package_|command$|execpath$|node_execpath$|config_(local_|global_)?prefix$)|INIT_CWD$)/i;

/** The process environment without npm's run-script variables, the toolchain's Node first on PATH. */
function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!NPM_RUN_VARIABLES.test(key)) env[key] = value;
  }
  const toolchain = loadToolchain();
  return { ...env, PATH: toolchain.env.PATH, npm_config_update_notifier: "false", ...extra };
}

interface Finished {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; onStderr?: (text: string) => void },
): Promise<Finished> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { cwd: options.cwd, env: options.env ?? cleanEnv() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      stderr += text;
      options.onStderr?.(text);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const ms = Date.now() - started;
      if (code === 0) return resolve({ stdout, stderr, ms });
      reject(
        new Error(
          `${path.basename(command)} ${args.join(" ")} (in ${options.cwd}) exited ` +
            `${code ?? signal}:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`,
        ),
      );
    });
  });
}

/** Prints how long a step took, so that the cost of the test shows in its output. */
function timed(step: string, ms: number): void {
  process.stdout.write(`      (${step}: ${(ms / 1000).toFixed(1)} s)\n`);
}

/** Whether `inner` is `outer` or inside it. */
function isInside(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/** TypeScript of the repository, used to compile the program against the installed declarations. */
const TSC = path.join(REPO, "node_modules", "typescript", "bin", "tsc");

/** Node's own types for those compilations (the user's project would have `@types/node`). */
const TYPE_ROOTS = path.join(REPO, "node_modules", "@types");

/** Pulumi's `typescript` template's compiler options (pulumi/templates, `*-typescript/tsconfig.json`). */
const PULUMI_TEMPLATE_OPTIONS = {
  strict: true,
  outDir: "bin",
  target: "es2020",
  module: "commonjs",
  moduleResolution: "node",
  sourceMap: true,
  experimentalDecorators: true,
  pretty: true,
  noFallthroughCasesInSwitch: true,
  noImplicitReturns: true,
  forceConsistentCasingInFileNames: true,
};

/** A file that imports the package's subpaths, to check their declarations resolve. */
const SUBPATHS_TS = `import { startEmulator, type RunningEmulator } from "pulumi-dualwrite/emulator";
import { configure } from "pulumi-dualwrite/dynamic-runtime";
export const start: (typeof startEmulator)[] = [startEmulator];
export type Running = RunningEmulator;
export const configureRuntime: typeof configure = configure;
`;

/** One project outside the repository that uses the installed package. */
class AppProject {
  /** The project's folder; it changes when the project is moved. */
  dir: string;
  readonly settingsFile: string;
  readonly backendDir: string;

  constructor(
    readonly work: string,
    readonly name: string,
    readonly pair: EnvironmentInfo,
  ) {
    this.dir = path.join(work, name);
    this.settingsFile = path.join(work, `${name}.settings.json`);
    this.backendDir = path.join(work, `${name}-state`);
    fs.mkdirSync(this.dir, { recursive: true });
    fs.mkdirSync(this.backendDir, { recursive: true });
  }

  /** Writes the driver's settings: where the state and the CLI are, and the stack config. */
  writeSettings(emulator: TestEmulator): void {
    const provider = emulatorProviderConfig(emulator);
    const settings: DriverSettings = {
      projectName: this.name,
      stackName: "dev",
      backendUrl: `file://${this.backendDir}`,
      cliRoot: loadToolchain().toolDir,
      config: {
        [`${this.name}:financeOperationsUrl`]: this.pair.financeOperationsUrl,
        [`${this.name}:dataverseUrl`]: this.pair.dataverseUrl,
        ...provider.config,
      },
      secrets: provider.secrets,
    };
    fs.writeFileSync(this.settingsFile, JSON.stringify(settings), { mode: 0o600 });
  }

  /**
   * Copies the program (importing `specifier` instead of `pulumi-dualwrite`), a file that imports
   * the package's subpaths, and the compiled driver into the project.
   */
  copyProgram(specifier = "pulumi-dualwrite"): void {
    const source = fs.readFileSync(
      path.join(REPO, "test", "e2e", "packageApp", "index.ts"),
      "utf8",
    );
    const rewritten = source.replace(/from "pulumi-dualwrite"/g, `from "${specifier}"`);
    expect(rewritten).to.include(`from "${specifier}"`);
    fs.writeFileSync(path.join(this.dir, "index.ts"), rewritten);
    fs.writeFileSync(path.join(this.dir, "subpaths.ts"), SUBPATHS_TS);
    fs.copyFileSync(
      path.join(REPO, "dist", "test", "e2e", "packageApp", "driver.js"),
      path.join(this.dir, "driver.js"),
    );
  }

  /** Compiles the program with `compilerOptions` (emitting index.js unless `noEmit`). */
  async compile(
    label: string,
    compilerOptions: Record<string, unknown>,
    files: string[],
  ): Promise<void> {
    const tsconfig = path.join(this.dir, `tsconfig.${label}.json`);
    fs.writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: { ...compilerOptions, typeRoots: [TYPE_ROOTS], types: ["node"] },
        files,
      }),
    );
    const done = await run(
      path.join(loadToolchain().binDir, "node"),
      [TSC, "-p", tsconfig, "--pretty", "false"],
      {
        cwd: this.dir,
      },
    );
    timed(`tsc ${label}`, done.ms);
  }

  /** Runs the driver: one preview, up or destroy through the real CLI. */
  async drive(
    command: "preview" | "up" | "destroy",
    output: OutputBuffer,
    options: { expectNoChanges?: boolean } = {},
  ): Promise<DriverResult> {
    const toolchain = loadToolchain();
    const env = cleanEnv({
      ...toolchain.env,
      PULUMI_HOME: path.join(this.work, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${this.backendDir}`,
      ...emulatorProcessEnv(emulator()),
    });
    const args = [path.join(this.dir, "driver.js"), command, this.settingsFile];
    if (options.expectNoChanges) args.push("--expect-no-changes");
    const done = await run(path.join(toolchain.binDir, "node"), args, {
      cwd: this.dir,
      env,
      onStderr: output.sink,
    });
    timed(`${command}`, done.ms);
    const last = done.stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(last) as DriverResult;
  }

  /** The stack's checkpoint as the backend stores it. */
  stateText(): string {
    return fs.readFileSync(
      path.join(this.backendDir, ".pulumi", "stacks", this.name, "dev.json"),
      "utf8",
    );
  }

  /** `require` as a module in the project folder would have it. */
  requireHere(): NodeJS.Require {
    return createRequire(path.join(this.dir, "index.js"));
  }
}

let current: TestEmulator | undefined;

function emulator(): TestEmulator {
  if (!current) throw new Error("the emulator was not started");
  return current;
}

/** The map's state in the emulator, e.g. `Running`. */
async function mapState(pair: string): Promise<string | undefined> {
  const maps = await emulator().control.call<{ name: string; stateName?: string }[]>(
    "GET",
    `maps?env=${encodeURIComponent(pair)}`,
  );
  return maps.find((m) => m.name === MAP)?.stateName;
}

/** The emulator's links of one environment pair. */
async function linksOf(pair: string): Promise<{ fnoEnv: string; legalEntities: string[] }[]> {
  const links = await emulator().control.call<{ fnoEnv: string; legalEntities: string[] }[]>(
    "GET",
    "links",
  );
  return links.filter((l) => l.fnoEnv === pair);
}

/** Surface writes since a request-log bookmark. */
async function writesSince(mark: number): Promise<unknown[]> {
  return (await emulator().control.requests(mark)).filter(isWrite);
}

describe("e2e package: npm pack, installed outside the repository, run through the real CLI", function () {
  const output = new OutputBuffer();
  let work = "";
  let tarball = "";
  let packed: { path: string }[] = [];
  let bins: ChildProcess | undefined;

  before(async function () {
    this.timeout(300_000);
    work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-dualwrite-package-")));
    expect(isInside(work, REPO)).to.equal(false);
    current = await startTestEmulator({
      seed: [
        { scenario: "existing-existing", name: "npmapp", size: 5 },
        { scenario: "existing-existing", name: "pnpmapp", size: 5 },
      ],
      clock: { speed: 50 },
      log: () => undefined,
    });
    // `npm pack` runs the package's "prepack" (tools/prepack.js: tsc -p tsconfig.build.json).
    const done = await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: REPO });
    timed("npm pack (with the prepack build)", done.ms);
    const json = done.stdout.slice(done.stdout.indexOf("["));
    const [result] = JSON.parse(json) as { filename: string; files: { path: string }[] }[];
    if (!result) throw new Error(`npm pack printed no result: ${done.stdout}`);
    tarball = path.join(work, result.filename);
    packed = result.files;
  });

  afterEach(printOutputOnFailure(output));

  after(async function () {
    bins?.kill("SIGKILL");
    await current?.close();
    current = undefined;
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("packs the built provider, facts, CLI and emulator, and nothing else", function () {
    const files = packed.map((f) => f.path).sort();
    for (const required of [
      "package.json",
      "README.md",
      "bin/dualwrite-emulator.js",
      "bin/pulumi-dualwrite.js",
      "dist/provider/index.js",
      "dist/provider/index.d.ts",
      "dist/provider/dynamic/runtime.js",
      "dist/emulator/index.js",
      "dist/emulator/cli.js",
      "dist/cli/main.js",
      "dist/facts/mapCatalog.js",
    ]) {
      expect(files, required).to.include(required);
    }
    // Only what `files` names, and what npm always adds.
    const listed = (file: string): boolean =>
      ["package.json", "README.md", "LICENSE"].includes(file) ||
      (manifest.files ?? []).some((entry) =>
        entry.endsWith("/") ? file.startsWith(entry) : file === entry,
      );
    expect(files.filter((f) => !listed(f))).to.deep.equal([]);
    // Never the repository's sources, tests, tools, examples or build records; in dist/, only
    // compiled JavaScript, its declarations and source maps.
    const never =
      /^(test|tools|examples|docs|sdk|node_modules|dist\/(test|tools|examples))\/|\.tsbuildinfo|(?<!\.d)\.ts$/;
    expect(files.filter((f) => never.test(f))).to.deep.equal([]);
    expect(
      files.filter((f) => f.startsWith("dist/") && !/\.(js|d\.ts|js\.map)$/.test(f)),
    ).to.deep.equal([]);
    // No compiled module whose source is gone (tools/prepack.js prunes them).
    const orphans = files
      .filter((f) => f.startsWith("dist/") && f.endsWith(".js"))
      .filter(
        (f) => !fs.existsSync(path.join(REPO, f.slice("dist/".length).replace(/\.js$/, ".ts"))),
      );
    expect(orphans).to.deep.equal([]);
    // Everything package.json points at is in the tarball.
    const targets = [
      manifest.main,
      manifest.types,
      ...Object.values(manifest.bin ?? {}),
      ...Object.values(manifest.exports ?? {}).flatMap((t) =>
        typeof t === "string" ? [t] : Object.values(t),
      ),
      ...Object.values(manifest.typesVersions?.["*"] ?? {}).flat(),
    ].map((t) => (t ?? "").replace(/^\.\//, ""));
    for (const target of targets) expect(files, target).to.include(target);
  });

  it("is publishable: not private, @pulumi/pulumi a peer dependency only", function () {
    expect(manifest.private).to.equal(undefined);
    expect(manifest.dependencies).not.to.have.property("@pulumi/pulumi");
    expect(manifest.peerDependencies?.["@pulumi/pulumi"]).to.equal(`>=${lowestSdk()} <4.0.0`);
  });

  describe(`npm: a direct dependency, @pulumi/pulumi at the range's lower bound`, function () {
    let app: AppProject;

    before(function () {
      app = new AppProject(
        work,
        "npm-app",
        emulator().environments.find((e) => e.name === "npmapp")!,
      );
    });

    it("installs the tarball and the lowest supported @pulumi/pulumi into a new project", async function () {
      this.timeout(600_000);
      fs.writeFileSync(
        path.join(app.dir, "package.json"),
        JSON.stringify({ name: app.name, version: "1.0.0", private: true }),
      );
      const done = await run(
        "npm",
        ["install", "--no-audit", "--no-fund", tarball, `@pulumi/pulumi@${lowestSdk()}`],
        { cwd: app.dir },
      );
      timed("npm install", done.ms);
      const installed = app.requireHere().resolve("pulumi-dualwrite");
      expect(isInside(installed, app.dir)).to.equal(true);
      expect(isInside(installed, REPO)).to.equal(false);
      const sdk = JSON.parse(
        fs.readFileSync(app.requireHere().resolve("@pulumi/pulumi/package.json"), "utf8"),
      ) as Manifest;
      expect(sdk.version).to.equal(lowestSdk());
    });

    it("npm refuses an @pulumi/pulumi below the peer range", async function () {
      this.timeout(300_000);
      const below = path.join(work, "npm-below");
      fs.mkdirSync(below);
      fs.writeFileSync(
        path.join(below, "package.json"),
        JSON.stringify({ name: "npm-below", version: "1.0.0", private: true }),
      );
      let failure: unknown;
      await run(
        "npm",
        ["install", "--no-audit", "--no-fund", "--dry-run", tarball, "@pulumi/pulumi@3.150.0"],
        { cwd: below },
      ).catch((e: unknown) => (failure = e));
      expect(String(failure))
        .to.match(/ERESOLVE/)
        .and.to.include("@pulumi/pulumi");
    });

    it("runs the installed bins: dualwrite-emulator serves a seeded pair, pulumi-dualwrite prints its help", async function () {
      // Every executable of the package keeps its mode through pack and install (the provider
      // plugin is started by the CLI from node_modules/pulumi-dualwrite/bin).
      const shipped = path.join(app.dir, "node_modules", "pulumi-dualwrite", "bin");
      for (const name of fs.readdirSync(shipped)) {
        expect(
          () => fs.accessSync(path.join(shipped, name), fs.constants.X_OK),
          name,
        ).not.to.throw();
      }
      const binDir = path.join(app.dir, "node_modules", ".bin");
      const help = await run(path.join(binDir, "pulumi-dualwrite"), ["--help"], { cwd: app.dir });
      expect(help.stdout).to.include("Usage: pulumi-dualwrite");

      bins = spawn(
        path.join(binDir, "dualwrite-emulator"),
        ["--seed", "mine=new-new", "--tls-dir", path.dirname(emulator().caCertPath)],
        { cwd: app.dir, env: cleanEnv() },
      );
      const child = bins;
      const line = await new Promise<string>((resolve, reject) => {
        let text = "";
        child.stdout?.on("data", (chunk: Buffer) => {
          text += chunk.toString("utf8");
          if (text.includes("\n")) resolve(text.slice(0, text.indexOf("\n")));
        });
        child.on("exit", (code) => reject(new Error(`dualwrite-emulator exited ${code}`)));
      });
      const started = JSON.parse(line) as { url: string; caCertPath: string };
      const control = new EmulatorControl(started.url, fs.readFileSync(started.caCertPath, "utf8"));
      expect((await control.environments()).map((e) => e.name)).to.deep.equal(["mine"]);
      const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).to.equal(0);
      bins = undefined;
    });

    it("the program compiles against the installed declarations (nodenext, and Pulumi's template)", async function () {
      app.copyProgram();
      await app.compile(
        "nodenext",
        {
          strict: true,
          target: "ES2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          outDir: ".",
        },
        ["index.ts", "subpaths.ts"],
      );
      // Pulumi's template, plus esModuleInterop: zod's declarations (reached through the resource
      // types) need it or skipLibCheck when tsc checks libraries.
      await app.compile(
        "template",
        { ...PULUMI_TEMPLATE_OPTIONS, esModuleInterop: true, noEmit: true },
        ["index.ts", "subpaths.ts"],
      );
      expect(fs.existsSync(path.join(app.dir, "index.js"))).to.equal(true);
    });

    it("preview plans the link and the map, and writes nothing", async function () {
      app.writeSettings(emulator());
      const mark = await emulator().control.lastRequestSeq();
      const result = await app.drive("preview", output);
      expect(result.sdkVersion).to.equal(lowestSdk());
      expect(result.changeSummary).to.deep.equal({ create: 3 });
      expect(await writesSince(mark)).to.deep.equal([]);
    });

    it("up links USMF and starts the map; the state names the installed runtime", async function () {
      const result = await app.drive("up", output);
      expect(result.resourceChanges).to.deep.equal({ create: 3 });
      expect(result.outputs).to.deep.equal({ linked: ["USMF"], mapState: "Running" });
      expect(await mapState("npmapp")).to.equal("Running");
      expect((await linksOf("npmapp")).map((l) => l.legalEntities)).to.deep.equal([["USMF"]]);
      const runtime = fs.realpathSync(
        app.requireHere().resolve("pulumi-dualwrite/dynamic-runtime"),
      );
      expect(app.stateText()).to.include(JSON.stringify(runtime).slice(1, -1));
    });

    it("a second preview shows no changes", async function () {
      const result = await app.drive("preview", output, { expectNoChanges: true });
      expect(result.changeSummary).to.deep.equal({ same: 3 });
    });

    it("destroy stops the map and resets the link", async function () {
      const result = await app.drive("destroy", output);
      expect(result.resourceChanges).to.deep.equal({ delete: 3 });
      expect(await linksOf("npmapp")).to.deep.equal([]);
    });
  });

  describe(`pnpm: a transitive dependency that is not hoisted, @pulumi/pulumi ${NEWEST_SDK}`, function () {
    let app: AppProject;
    let pnpm = "";

    /** pnpm's environment: its store, cache, state and data folders inside the temporary folder. */
    function pnpmEnv(): NodeJS.ProcessEnv {
      const home = path.join(work, "pnpm-home");
      return cleanEnv({
        XDG_CACHE_HOME: path.join(home, "cache"),
        XDG_CONFIG_HOME: path.join(home, "config"),
        XDG_DATA_HOME: path.join(home, "data"),
        XDG_STATE_HOME: path.join(home, "state"),
        PNPM_HOME: path.join(home, "bin"),
      });
    }

    before(function () {
      app = new AppProject(
        work,
        "pnpm-app",
        emulator().environments.find((e) => e.name === "pnpmapp")!,
      );
    });

    it(`installs pnpm ${PNPM_VERSION} from the npm registry`, async function () {
      this.timeout(300_000);
      const tool = path.join(work, "pnpm-tool");
      fs.mkdirSync(tool);
      const done = await run(
        "npm",
        ["install", "--no-audit", "--no-fund", "--prefix", tool, `pnpm@${PNPM_VERSION}`],
        { cwd: tool },
      );
      timed("npm install pnpm", done.ms);
      pnpm = path.join(tool, "node_modules", ".bin", "pnpm");
      const version = await run(pnpm, ["--version"], { cwd: tool, env: pnpmEnv() });
      expect(version.stdout.trim()).to.equal(PNPM_VERSION);
    });

    it("installs the tarball as the dependency of a wrapper package: the name does not resolve from the project", async function () {
      this.timeout(600_000);
      const wrapper = path.join(app.dir, "acme-dualwrite");
      fs.mkdirSync(wrapper);
      fs.writeFileSync(
        path.join(wrapper, "package.json"),
        JSON.stringify({
          name: "acme-dualwrite",
          version: "1.0.0",
          main: "index.js",
          types: "index.d.ts",
          dependencies: { "pulumi-dualwrite": `file:${tarball}` },
          peerDependencies: { "@pulumi/pulumi": "^3" },
        }),
      );
      // A company's own package that re-exports the provider, as platform teams publish them.
      fs.writeFileSync(
        path.join(wrapper, "index.js"),
        'module.exports = require("pulumi-dualwrite");\n',
      );
      fs.writeFileSync(path.join(wrapper, "index.d.ts"), 'export * from "pulumi-dualwrite";\n');
      fs.writeFileSync(
        path.join(app.dir, "package.json"),
        JSON.stringify({
          name: app.name,
          version: "1.0.0",
          private: true,
          dependencies: { "acme-dualwrite": "file:./acme-dualwrite", "@pulumi/pulumi": NEWEST_SDK },
        }),
      );
      // The store and cache stay in the temporary folder. --ignore-scripts: pnpm >= 11 fails an
      // install over dependencies' unapproved build scripts (protobufjs, under @pulumi/pulumi).
      const done = await run(
        pnpm,
        [
          "install",
          "--ignore-scripts",
          "--store-dir",
          path.join(work, "pnpm-store"),
          "--cache-dir",
          path.join(work, "pnpm-cache"),
        ],
        { cwd: app.dir, env: pnpmEnv() },
      );
      timed("pnpm install", done.ms);
      expect(() => app.requireHere().resolve("pulumi-dualwrite/dynamic-runtime")).to.throw(
        /Cannot find module/,
      );
      const through = createRequire(app.requireHere().resolve("acme-dualwrite"));
      expect(through.resolve("pulumi-dualwrite")).to.include(`${path.sep}.pnpm${path.sep}`);
    });

    it("the program compiles against the declarations reached through the wrapper", async function () {
      app.copyProgram("acme-dualwrite");
      await app.compile(
        "nodenext",
        {
          strict: true,
          target: "ES2022",
          module: "nodenext",
          moduleResolution: "nodenext",
          outDir: ".",
        },
        ["index.ts"],
      );
    });

    it("preview plans the link and the map, and writes nothing", async function () {
      app.writeSettings(emulator());
      const mark = await emulator().control.lastRequestSeq();
      const result = await app.drive("preview", output);
      expect(result.sdkVersion).to.equal(NEWEST_SDK);
      expect(result.changeSummary).to.deep.equal({ create: 3 });
      expect(await writesSince(mark)).to.deep.equal([]);
    });

    it("up links USMF and starts the map", async function () {
      const result = await app.drive("up", output);
      expect(result.resourceChanges).to.deep.equal({ create: 3 });
      expect(result.outputs).to.deep.equal({ linked: ["USMF"], mapState: "Running" });
      expect(await mapState("pnpmapp")).to.equal("Running");
      expect(app.stateText()).to.include(`${path.sep}.pnpm${path.sep}`);
    });

    it("moved to another folder (as on another machine), the project previews no changes", async function () {
      const before = app.dir;
      const moved = path.join(work, "pnpm-app-moved");
      fs.renameSync(before, moved);
      app.dir = moved;
      expect(fs.existsSync(before)).to.equal(false);
      const result = await app.drive("preview", output, { expectNoChanges: true });
      expect(result.changeSummary).to.deep.equal({ same: 3 });
    });

    it("destroy from there finds the runtime below node_modules/.pnpm, stops the map and resets the link", async function () {
      // The providers in the state name the old folder's runtime, which is gone.
      expect(app.stateText()).to.include(path.join(work, "pnpm-app", "node_modules", ".pnpm"));
      expect(() => app.requireHere().resolve("pulumi-dualwrite/dynamic-runtime")).to.throw(
        /Cannot find module/,
      );
      const result = await app.drive("destroy", output);
      expect(result.resourceChanges).to.deep.equal({ delete: 3 });
      expect(await linksOf("pnpmapp")).to.deep.equal([]);
    });
  });
});
