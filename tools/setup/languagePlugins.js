"use strict";
// Step 3b: two more Go programs from the Go module proxy, built and cached like the CLI
// (docs/adr/0008-provider-plugin.md):
//   - pulumi-language-yaml (module github.com/pulumi/pulumi-yaml, wrapper tools/pulumi-yaml):
//     the YAML language host, so that `runtime: yaml` programs run with a plain `pulumi up`;
//     placed in .toolchain/bin beside the CLI.
//   - the code-generation host (wrapper tools/pulumi-codegen, pkg/v3's own SDK generators):
//     what `pulumi package gen-sdk` asks for as pulumi-language-nodejs / pulumi-language-python;
//     placed in .toolchain/codegen, a folder put on PATH for gen-sdk only (it runs no programs).
// Each is cached per machine under <cache>/<name>-<version>-<sha256(go.mod+go.sum+sources)>.

const fs = require("node:fs");
const path = require("node:path");
const { binDir, cacheRoot, repoRoot, toolDir } = require("./paths");
const { run } = require("./proc");
const { hashFiles, placeFile } = require("./fsUtil");
const { goToolchain } = require("./pulumiCli");
const log = require("./log");

/** Where gen-sdk finds the code-generation host under the language hosts' names. */
const codegenDir = path.join(toolDir, "codegen");

/** The Go programs this step builds. */
const PROGRAMS = [
  {
    name: "pulumi-language-yaml",
    wrapper: path.join(repoRoot, "tools", "pulumi-yaml"),
    modulePath: "github.com/pulumi/pulumi-yaml",
    package: "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml",
    // The language host reports this version (its Makefile's -X).
    versionSymbol: "github.com/pulumi/pulumi-yaml/pkg/version.Version",
    expected: "about 2-4 minutes on 2 cores",
    places: (binary) => [[binary, path.join(binDir, "pulumi-language-yaml")]],
  },
  {
    name: "pulumi-codegen-host",
    wrapper: path.join(repoRoot, "tools", "pulumi-codegen"),
    modulePath: "github.com/pulumi/pulumi/pkg/v3",
    package: ".",
    versionSymbol: "main.version",
    expected:
      "about 1-3 minutes on 2 cores (less right after the CLI build, which shares its packages)",
    places: (binary) => [
      [binary, path.join(codegenDir, "pulumi-language-nodejs")],
      [binary, path.join(codegenDir, "pulumi-language-python")],
    ],
  },
];

/** The version of `modulePath` that the wrapper's go.mod requires. */
function requiredVersion(wrapper, modulePath) {
  const text = fs.readFileSync(path.join(wrapper, "go.mod"), "utf8");
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`${escaped}\\s+(v\\S+)`).exec(text);
  if (!match) throw new log.SetupError(`${wrapper}/go.mod must require ${modulePath}.`);
  return match[1];
}

/** The files whose content decides the build (the cache key). */
function keyFiles(wrapper) {
  return fs
    .readdirSync(wrapper)
    .filter((name) => name === "go.mod" || name === "go.sum" || name.endsWith(".go"))
    .sort()
    .map((name) => path.join(wrapper, name));
}

async function build(program, version, binary) {
  const goMod = fs.readFileSync(path.join(program.wrapper, "go.mod"), "utf8");
  const goVersion = (/^go\s+(\S+)/m.exec(goMod) || [])[1] || "1.26.6";
  const toolchain = goToolchain(goVersion, `${program.name} ${version}`);
  const temporary = `${binary}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  log.info(
    `building ${program.name} ${version} from the Go module proxy with Go ${toolchain.goVersion} ` +
      `(first run on this machine only: ${program.expected}; cached in ${path.dirname(path.dirname(binary))}) ...`,
  );
  const started = Date.now();
  const stop = log.ticker(
    `building ${program.name}`,
    "still working; Go prints nothing while it compiles",
  );
  let code;
  try {
    code = await run(
      toolchain.go,
      [
        "build",
        "-mod=readonly",
        "-buildvcs=false",
        "-trimpath",
        "-ldflags",
        `-X ${program.versionSymbol}=${version}`,
        "-o",
        temporary,
        program.package,
      ],
      { cwd: program.wrapper, env: toolchain.env },
    );
  } finally {
    stop();
  }
  if (code !== 0 || !fs.existsSync(temporary)) {
    fs.rmSync(temporary, { force: true });
    throw new log.SetupError(
      `Building ${program.name} failed (go build exit ${code}); see the Go output above.`,
    );
  }
  fs.renameSync(temporary, binary);
  log.info(`built ${program.name} ${version} in ${log.formatDuration(Date.now() - started)}`);
}

/**
 * Makes the YAML language host and the code-generation host ready (cached build, else a build),
 * and places them. Returns one line per program for the set-up log.
 */
async function ensureLanguagePlugins() {
  const lines = [];
  for (const program of PROGRAMS) {
    const version = requiredVersion(program.wrapper, program.modulePath);
    const key = hashFiles(keyFiles(program.wrapper)).slice(0, 12);
    const binary = path.join(cacheRoot(), `${program.name}-${version}-${key}`, "bin", program.name);
    let source = "cached build";
    if (!fs.existsSync(binary)) {
      await build(program, version, binary);
      source = "built from the Go module proxy";
    }
    for (const [from, to] of program.places(binary)) placeFile(from, to);
    lines.push(`${program.name} ${version}: ${source} (${path.dirname(binary)})`);
  }
  return lines;
}

module.exports = { ensureLanguagePlugins, codegenDir };
