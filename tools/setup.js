#!/usr/bin/env node
"use strict";
// The project's toolchain, made ready in one idempotent command, then (with
// `--then <action>`) the thing the person asked for:
//
//   node tools/setup.js                      set up only          (npm run setup)
//   node tools/setup.js --then test [...]    set up, then mocha   (npm test)
//   node tools/setup.js --then demo          set up, then demo    (npm start)
//   node tools/setup.js --then pulumi -- ... set up, then the CLI (npm run pulumi -- ...)
//   node tools/setup.js --then bench         set up, then benchmarks
//
// It runs under the machine's Node, whatever its age (it is the bootstrap), so it
// is plain CommonJS without dependencies. The steps, each skipped when already
// done:
//   1. Node >= 22 in .toolchain/bin (the machine's, or the npm `node` package);
//   2. npm dependencies, when package-lock.json changed;
//   3. the Pulumi CLI in .toolchain/bin (PATH, machine cache, or a Go build),
//      with the dynamic-provider plugin and the provider plugin beside it; then the YAML
//      language host and the SDK code generator (machine cache, or Go builds);
//   4. the offline Pulumi environment (.toolchain/env.json, env.sh);
//   5. the SDKs generated from schema.json by `pulumi package gen-sdk` (sdk/nodejs, sdk/python);
//      for a test run that includes test/e2e/python.test.js (or the whole suite), a cached Python
//      virtual environment with `pulumi` from PyPI and the generated sdk/python installed;
//   6. tsc (incremental) into dist/.

const fs = require("node:fs");
const path = require("node:path");
const log = require("./setup/log");
const { binDir, toolDir } = require("./setup/paths");
const { acquireLock } = require("./setup/lock");
const { ensureNode } = require("./setup/nodeRuntime");
const { ensureDependencies, sdkVersion, linkRuntimePieces, compile } = require("./setup/project");
const { ensurePulumi } = require("./setup/pulumiCli");
const { ensureLanguagePlugins } = require("./setup/languagePlugins");
const { ensureSdks } = require("./setup/sdks");
const { ensurePython, testsNeedPython } = require("./setup/python");
const { toolchainEnv, writeToolchainFiles } = require("./setup/engineEnv");
const { ACTIONS } = require("./setup/actions");

function parseArguments(argv) {
  const at = argv.indexOf("--then");
  if (at === -1) {
    if (argv.length > 0)
      throw new log.SetupError(
        `Unknown arguments: ${argv.join(" ")}. Usage: node tools/setup.js [--then <action> ...]`,
      );
    return { action: undefined, rest: [] };
  }
  const action = argv[at + 1];
  if (!action || !Object.prototype.hasOwnProperty.call(ACTIONS, action)) {
    throw new log.SetupError(
      `--then needs one of: ${Object.keys(ACTIONS).join(", ")} (got "${action || ""}").`,
    );
  }
  const rest = argv.slice(at + 2);
  if (rest[0] === "--") rest.shift();
  return { action, rest };
}

async function prepare(action, rest) {
  fs.mkdirSync(binDir, { recursive: true });
  const release = await acquireLock(path.join(toolDir, "setup.lock"));
  try {
    const node = ensureNode();
    log.info(`node ${node.version}: ${node.source}`);
    const env = toolchainEnv();

    log.info(`npm dependencies: ${await ensureDependencies(env, node.version.replace(/^v/, ""))}`);
    const sdk = sdkVersion();
    linkRuntimePieces();

    const cli = await ensurePulumi(sdk);
    log.info(`pulumi ${cli.version}: ${cli.source}`);
    if (!cli.languageHost) {
      log.info(
        "no Node language host (the Go module proxy does not serve it, ADR 0001): " +
          "programs run as Automation API inline programs with this CLI",
      );
    }
    for (const line of await ensureLanguagePlugins()) log.info(line);
    writeToolchainFiles({
      pulumiVersion: cli.version,
      nodeVersion: node.version,
      languageHost: cli.languageHost,
    });

    // Before tsc: the end-to-end tests use the generated TypeScript SDK's types.
    log.info(`SDKs from schema.json: ${await ensureSdks(env)}`);
    // Only for a test run that includes the Python end-to-end test (a PyPI download the first time).
    if (action === "test" && testsNeedPython(rest)) log.info(`python: ${ensurePython()}`);

    // The list of type errors matters when testing or building, not before a CLI command.
    const listErrors = action === undefined || action === "test";
    const compiled = await compile(env, { listErrors });
    log.info(
      compiled.errors === 0
        ? "tsc: compiled into dist/"
        : `tsc: ${compiled.errors} type error(s)${listErrors ? " above" : " (`npm run build` lists them)"}; ` +
            "JavaScript was emitted anyway",
    );
    return { env, typeErrors: compiled.errors };
  } finally {
    release();
  }
}

async function main(argv) {
  const { action, rest } = parseArguments(argv);
  const started = Date.now();
  const { env, typeErrors } = await prepare(action, rest);
  log.info(`toolchain ready (set-up took ${log.formatDuration(Date.now() - started)})`);
  if (!action) return 0;

  const code = await ACTIONS[action](rest, env);
  if (action === "test" && typeErrors > 0) {
    log.warn(
      `the tests ran, but tsc reported ${typeErrors} type error(s) (listed before the tests); failing the run`,
    );
    return code === 0 ? 1 : code;
  }
  return code;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    if (error instanceof log.SetupError) {
      process.stderr.write(`\n[setup] ${error.message}\n`);
    } else {
      process.stderr.write(
        `\n[setup] unexpected failure: ${error && error.stack ? error.stack : error}\n`,
      );
    }
    process.exitCode = 1;
  },
);
