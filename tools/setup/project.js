"use strict";
// Steps 2 and 4: the project's own dependencies and build, run with the
// toolchain's Node first on PATH.

const fs = require("node:fs");
const path = require("node:path");
const { binDir, repoRoot, toolDir } = require("./paths");
const { capture, run } = require("./proc");
const { hashFiles, placeFile, symlink, readJson, writeJson } = require("./fsUtil");
const log = require("./log");
const { pruneOrphans } = require("./prune");

const LOCK_FILE = path.join(repoRoot, "package-lock.json");
const STAMP_FILE = path.join(toolDir, "npm-install.json");
const INSTALLED_MARKER = path.join(repoRoot, "node_modules", ".package-lock.json");

/**
 * Installs the npm dependencies when package-lock.json (or the Node major) changed
 * since the last install: `npm ci` on a fresh clone or in CI, `npm install` on a
 * working tree that already has node_modules (it keeps what is there).
 */
async function ensureDependencies(env, nodeVersion) {
  const wanted = { lock: hashFiles([LOCK_FILE]), nodeMajor: nodeVersion.split(".")[0] };
  const stamp = readJson(STAMP_FILE);
  if (
    stamp &&
    stamp.lock === wanted.lock &&
    stamp.nodeMajor === wanted.nodeMajor &&
    fs.existsSync(INSTALLED_MARKER)
  ) {
    return "up to date with package-lock.json";
  }
  const fresh = !fs.existsSync(path.join(repoRoot, "node_modules")) || process.env.CI === "true";
  const args = fresh ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"];
  log.info(`npm ${args[0]} (package-lock.json changed or first run) ...`);
  const started = Date.now();
  // npm itself is a Node script: with .toolchain/bin first on PATH the new Node runs it.
  const code = await run("npm", args, { cwd: repoRoot, env });
  if (code !== 0) {
    throw new log.SetupError(`npm ${args[0]} failed with exit code ${code}; see its output above.`);
  }
  writeJson(STAMP_FILE, { lock: hashFiles([LOCK_FILE]), nodeMajor: wanted.nodeMajor });
  return `npm ${args[0]} in ${log.formatDuration(Date.now() - started)}`;
}

/** The installed @pulumi/pulumi version: the Pulumi CLI must be at least this new. */
function sdkVersion() {
  const manifest = readJson(
    path.join(repoRoot, "node_modules", "@pulumi", "pulumi", "package.json"),
  );
  if (!manifest || !manifest.version) {
    throw new log.SetupError(
      "node_modules/@pulumi/pulumi is missing after the install; delete node_modules and retry.",
    );
  }
  return manifest.version;
}

/**
 * Puts the dynamic-provider plugin script beside `pulumi` (and the project's own provider plugin) (the CLI would otherwise
 * try to download a "pulumi-nodejs" plugin), and links node_modules/pulumi-dualwrite
 * to the repository: dynamic providers `require("pulumi-dualwrite/...")` inside
 * their methods, and the provider process resolves that from the program's
 * directory (Node's package self-reference does not work from require-from-string).
 */
function linkRuntimePieces() {
  const plugin = path.join(
    repoRoot,
    "node_modules",
    "@pulumi",
    "pulumi",
    "pulumi-resource-pulumi-nodejs",
  );
  placeFile(plugin, path.join(binDir, "pulumi-resource-pulumi-nodejs"));
  // The provider plugin (bin/pulumi-resource-dualwrite) on PATH for every Pulumi command of this
  // clone: the CLI finds `dualwrite` plugins there (docs/adr/0008-provider-plugin.md). A symlink:
  // Node follows it to the real file, whose ../dist/ holds the compiled plugin.
  symlink(
    path.join(repoRoot, "bin", "pulumi-resource-dualwrite"),
    path.join(binDir, "pulumi-resource-dualwrite"),
  );
  symlink("..", path.join(repoRoot, "node_modules", "pulumi-dualwrite"));
}

/**
 * Compiles the TypeScript (incrementally) into dist/. tsc emits even when some
 * files have type errors; those are counted, listed unless `listErrors` is false, and not fatal here.
 * @returns {Promise<{ errors: number }>}
 */
async function compile(env, { listErrors = true } = {}) {
  const tsc = path.join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  const result = capture(
    path.join(binDir, "node"),
    [tsc, "-p", "tsconfig.json", "--pretty", "false"],
    {
      cwd: repoRoot,
      env,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const output = `${result.stdout}${result.stderr}`.trim();
  const errors = (output.match(/error TS\d+/g) || []).length;
  if (output && (listErrors || errors === 0)) process.stderr.write(`${output}\n`);
  if (result.status !== 0 && errors === 0) {
    throw new log.SetupError(
      `tsc failed (exit ${result.status}) without reporting type errors; see above.`,
    );
  }
  pruneOrphans();
  return { errors };
}

module.exports = { ensureDependencies, sdkVersion, linkRuntimePieces, compile };
