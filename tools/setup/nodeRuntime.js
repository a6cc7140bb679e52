"use strict";
// Step 1: a Node >= 22 for everything after the bootstrap (dependency install,
// tsc, tests, the Automation API and the dynamic-provider process).
// @pulumi/pulumi declares `node >=22`. Where the machine's Node is older, the npm
// registry's `node` package (a prebuilt binary) is installed once into the
// machine cache and linked into .toolchain/bin.

const fs = require("node:fs");
const path = require("node:path");
const { binDir, cacheRoot } = require("./paths");
const { capture } = require("./proc");
const { symlink } = require("./fsUtil");
const log = require("./log");

/**
 * Oldest Node the project runs on. @pulumi/pulumi needs 22; the project also needs 22.12 for
 * require() of ES modules (got, chai, jose) and 22.19 for tls.setDefaultCACertificates, which the
 * tests use to trust the emulator's CA in-process.
 */
const MIN_NODE = "22.19.0";
const MIN_NODE_MAJOR = 22;

/** The npm `node` package installed when the machine's Node is too old: the current LTS line, pinned. */
const NODE_PACKAGE_VERSION = "24.21.0";

/** True when `version` (e.g. "v22.20.0") is at least `min` (e.g. "22.19.0"). */
function isAtLeast(version, min) {
  const a = String(version).replace(/^v/, "").split(".").map(Number);
  const b = min.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] || 0) !== (b[i] || 0)) return (a[i] || 0) > (b[i] || 0);
  }
  return true;
}

/** How to call npm from here: the npm that started us when there is one, else npm on PATH. */
function npmCommand() {
  if (process.env.npm_execpath && process.env.npm_execpath.endsWith(".js")) {
    return { command: process.execPath, prefixArgs: [process.env.npm_execpath] };
  }
  return { command: "npm", prefixArgs: [] };
}

function installNodePackage(targetDir) {
  const temporary = `${targetDir}.tmp-${process.pid}`;
  fs.rmSync(temporary, { recursive: true, force: true });
  fs.mkdirSync(temporary, { recursive: true });
  fs.writeFileSync(path.join(temporary, "package.json"), '{ "private": true }\n');
  const npm = npmCommand();
  log.info(
    `installing node@${NODE_PACKAGE_VERSION} from the npm registry into ${targetDir} (about 10 s) ...`,
  );
  const result = capture(
    npm.command,
    [
      ...npm.prefixArgs,
      "install",
      "--no-save",
      "--no-package-lock",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `node@${NODE_PACKAGE_VERSION}`,
    ],
    { cwd: temporary, env: { ...process.env, npm_config_update_notifier: "false" } },
  );
  const binary = path.join(temporary, "node_modules", "node", "bin", "node");
  const version = capture(binary, ["-v"]).stdout.trim();
  if (version !== `v${NODE_PACKAGE_VERSION}`) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw new log.SetupError(
      `Installing node@${NODE_PACKAGE_VERSION} from the npm registry did not give a working binary ` +
        `(npm exit ${result.status}; ${binary} -v printed "${version}").\n${result.stderr.trim()}\n` +
        `Install Node ${MIN_NODE} or newer yourself and run the command again.`,
    );
  }
  fs.rmSync(targetDir, { recursive: true, force: true });
  fs.renameSync(temporary, targetDir);
}

/**
 * Makes .toolchain/bin/node a Node >= 22: the machine's own when it is new
 * enough, else the cached npm `node` package (installed on first use).
 * @returns {{ nodePath: string, version: string, source: string }}
 */
function ensureNode() {
  const linkPath = path.join(binDir, "node");
  if (isAtLeast(process.versions.node, MIN_NODE)) {
    const nodePath = fs.realpathSync(process.execPath);
    symlink(nodePath, linkPath);
    return { nodePath, version: `v${process.versions.node}`, source: "the machine's node" };
  }

  const installDir = path.join(
    cacheRoot(),
    `node-${NODE_PACKAGE_VERSION}-${process.platform}-${process.arch}`,
  );
  const binary = path.join(installDir, "node_modules", "node", "bin", "node");
  let source = `npm package node@${NODE_PACKAGE_VERSION}, cached in ${installDir}`;
  if (capture(binary, ["-v"]).stdout.trim() !== `v${NODE_PACKAGE_VERSION}`) {
    const started = Date.now();
    installNodePackage(installDir);
    source = `npm package node@${NODE_PACKAGE_VERSION}, installed in ${log.formatDuration(Date.now() - started)}`;
  }
  const nodePath = fs.realpathSync(binary);
  symlink(nodePath, linkPath);
  return {
    nodePath,
    version: `v${NODE_PACKAGE_VERSION}`,
    source: `${source} (machine node is v${process.versions.node})`,
  };
}

module.exports = { ensureNode, MIN_NODE, MIN_NODE_MAJOR, NODE_PACKAGE_VERSION, npmCommand };
