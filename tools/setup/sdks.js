"use strict";
// Step 5: the SDKs of the provider plugin, generated from schema.json by the CLI's
// `pulumi package gen-sdk` into sdk/nodejs and sdk/python (gitignored: they are derived from
// schema.json on every machine, so they can never drift from it; docs/adr/0008-provider-plugin.md).
// The TypeScript SDK is then compiled (its own tsconfig, into sdk/nodejs/bin, with its package.json
// beside it, as a published SDK has it). Skipped when
// schema.json and the generator are what the last generation used.

const fs = require("node:fs");
const path = require("node:path");
const { binDir, repoRoot } = require("./paths");
const { capture } = require("./proc");
const { hashFiles, readJson, writeJson } = require("./fsUtil");
const { codegenDir } = require("./languagePlugins");
const log = require("./log");

const SCHEMA = path.join(repoRoot, "schema.json");
const SDK_DIR = path.join(repoRoot, "sdk");
const STAMP = path.join(SDK_DIR, ".generated.json");
const LANGUAGES = ["nodejs", "python"];

/** What the generation depends on: the schema and the generator binary. */
function inputsKey() {
  const generator = fs.realpathSync(path.join(codegenDir, "pulumi-language-nodejs"));
  const stat = fs.statSync(generator);
  return `${hashFiles([SCHEMA]).slice(0, 16)}-${stat.size}-${Math.trunc(stat.mtimeMs)}`;
}

/**
 * gen-sdk leaves the package version as a placeholder (providers' Makefiles substitute it); the
 * SDKs ask the engine for the plugin of this version, so it is the schema's.
 */
function stampVersion(version) {
  const packageJson = path.join(SDK_DIR, "nodejs", "package.json");
  fs.writeFileSync(
    packageJson,
    fs.readFileSync(packageJson, "utf8").replace("${VERSION}", version),
  );
  const setupPy = path.join(SDK_DIR, "python", "setup.py");
  fs.writeFileSync(
    setupPy,
    fs.readFileSync(setupPy, "utf8").replace(/^VERSION = "[^"]*"/m, `VERSION = "${version}"`),
  );
}

/** Generates (when needed) and compiles the SDKs; returns a line for the set-up log. */
async function ensureSdks(env) {
  const key = inputsKey();
  const stamp = readJson(STAMP);
  const compiled = path.join(SDK_DIR, "nodejs", "bin", "index.js");
  if (stamp && stamp.key === key && fs.existsSync(compiled)) return "up to date (sdk/)";

  const started = Date.now();
  // The code-generation host answers gen-sdk under the language hosts' names; it is on PATH here only.
  const genEnv = { ...env, PATH: `${codegenDir}${path.delimiter}${env.PATH}` };
  const version = readJson(SCHEMA).version;
  for (const language of LANGUAGES) {
    const result = capture(
      path.join(binDir, "pulumi"),
      ["package", "gen-sdk", SCHEMA, "--language", language, "--out", SDK_DIR],
      { cwd: repoRoot, env: genEnv },
    );
    if (!result.ok) {
      throw new log.SetupError(
        `pulumi package gen-sdk --language ${language} failed:\n${result.stdout}${result.stderr}`,
      );
    }
  }
  stampVersion(version);
  const tsc = capture(
    path.join(binDir, "node"),
    [
      path.join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      path.join(SDK_DIR, "nodejs"),
    ],
    { cwd: repoRoot, env },
  );
  if (!tsc.ok) {
    throw new log.SetupError(
      `Compiling the generated TypeScript SDK failed:\n${tsc.stdout}${tsc.stderr}`,
    );
  }
  // As providers' SDK builds do: the compiled package carries its package.json (the SDK reads its
  // version from it, and asks the engine for the plugin of that version).
  fs.copyFileSync(
    path.join(SDK_DIR, "nodejs", "package.json"),
    path.join(SDK_DIR, "nodejs", "bin", "package.json"),
  );
  writeJson(STAMP, { key, version });
  return `generated sdk/nodejs and sdk/python (v${version}) and compiled sdk/nodejs in ${log.formatDuration(Date.now() - started)}`;
}

module.exports = { ensureSdks };
