"use strict";
// What `--then <action>` runs once the toolchain is ready. Every action runs
// with the toolchain's Node and the offline Pulumi environment.

const fs = require("node:fs");
const path = require("node:path");
const { binDir, repoRoot, toolDir } = require("./paths");
const { readJson, writeJson } = require("./fsUtil");
const { run } = require("./proc");
const log = require("./log");

const NODE = path.join(binDir, "node");
const MOCHA = path.join(repoRoot, "node_modules", "mocha", "bin", "mocha.js");
const SMOKE_TEST = path.join(repoRoot, "dist", "test", "e2e", "smoke.test.js");

/** CLI commands that run the folder's program, so they go through the Automation API (no language host). */
const PROGRAM_COMMANDS = new Set([
  "preview",
  "pre",
  "up",
  "update",
  "refresh",
  "destroy",
  "down",
  "dn",
]);

/**
 * Mocha's arguments. Given test files (`npm test -- dist/test/unit/x.test.js`), mocha would still
 * add every file of .mocharc.json's "spec"; so then it runs with a copy of that config without
 * "spec", and only the files given.
 */
function mochaArgs(args) {
  const files = args.filter((arg) => !arg.startsWith("-") && arg.endsWith(".js"));
  if (files.length === 0) return [MOCHA, ...args];
  const config = readJson(path.join(repoRoot, ".mocharc.json")) || {};
  delete config.spec;
  const configFile = path.join(toolDir, "mocharc.files.json");
  writeJson(configFile, config);
  return [MOCHA, "--config", configFile, ...args];
}

const ESLINT = path.join(repoRoot, "node_modules", "eslint", "bin", "eslint.js");
const PRETTIER = path.join(repoRoot, "node_modules", "prettier", "bin", "prettier.cjs");

/**
 * `npm test`: mocha over dist/test/**\/*.test.js (.mocharc.json), extra arguments passed on. The
 * whole suite (no arguments) also runs the linters afterwards — typescript-eslint's type-checked
 * rules and Prettier — so that CI holds every change to the style the project promises.
 */
async function test(args, env) {
  const status = await run(NODE, mochaArgs(args), { cwd: repoRoot, env });
  if (args.length > 0) return status;
  log.info("lint: eslint (type-checked rules) and prettier --check");
  const eslint = await run(NODE, [ESLINT, "."], { cwd: repoRoot, env });
  const prettier = await run(NODE, [PRETTIER, "--check", "--log-level", "warn", "."], {
    cwd: repoRoot,
    env,
  });
  return status || eslint || prettier;
}

/** `npm start`: the demo once it exists, else the end-to-end smoke test as a smoke run. */
function demo(args, env) {
  const demoScript = path.join(repoRoot, "dist", "tools", "demo.js");
  if (fs.existsSync(demoScript)) {
    return run(NODE, [demoScript, ...args], { cwd: repoRoot, env });
  }
  log.info("there is no demo yet (dist/tools/demo.js); running the end-to-end smoke test instead");
  return run(NODE, mochaArgs([SMOKE_TEST]), { cwd: repoRoot, env });
}

/** `npm run bench`: every dist/test/bench/*.js, one after the other. */
async function bench(args, env) {
  const dir = path.join(repoRoot, "dist", "test", "bench");
  // BENCH_ONLY=<text> runs only the benchmarks whose file name contains it (e.g. `engine`).
  const only = process.env.BENCH_ONLY ?? "";
  const scripts = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((name) => name.endsWith(".js") && !name.endsWith(".test.js"))
        .filter((name) => name.includes(only))
        .sort()
    : [];
  if (scripts.length === 0) {
    log.info("there are no benchmarks yet (dist/test/bench/*.js)");
    return 0;
  }
  let worst = 0;
  for (const script of scripts) {
    log.info(`benchmark ${script}`);
    const code = await run(NODE, [path.join(dir, script), ...args], { cwd: repoRoot, env });
    worst = Math.max(worst, code);
  }
  return worst;
}

/** Position of the CLI command in `args`: the first word that is not a flag or a flag's value. */
function commandIndex(args) {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (["-s", "--stack", "-C", "--cwd", "--color"].includes(arg)) i += 1;
    else if (!arg.startsWith("-")) return i;
  }
  return -1;
}

/**
 * `npm run pulumi -- <args>` from any folder (npm puts the caller's folder in
 * INIT_CWD). preview/up/refresh/destroy of a Pulumi.yaml program go through
 * dist/tools/pulumiFolder.js (an Automation API inline program); everything else
 * goes straight to the CLI.
 */
function pulumi(args, env) {
  const cwd = process.env.INIT_CWD || process.cwd();
  const at = commandIndex(args);
  if (at !== -1 && PROGRAM_COMMANDS.has(args[at])) {
    const runner = path.join(repoRoot, "dist", "tools", "pulumiFolder.js");
    const flags = [...args.slice(0, at), ...args.slice(at + 1)];
    return run(NODE, [runner, cwd, args[at], ...flags], { cwd, env });
  }
  return run(path.join(binDir, "pulumi"), args, { cwd, env });
}

const ACTIONS = { test, demo, bench, pulumi };

module.exports = { ACTIONS };
