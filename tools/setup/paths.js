"use strict";
// Where things live. The tool folder `.toolchain/` belongs to one clone; the
// cache belongs to the machine, so a fresh clone (as CI makes) reuses the
// expensive parts — the Node download and the Pulumi CLI build — in seconds.

const os = require("node:os");
const path = require("node:path");

/** The repository root (this file is tools/setup/paths.js). */
const repoRoot = path.resolve(__dirname, "..", "..");

/** The clone's tool folder: links to the cached tools, PULUMI_HOME, stamps. */
const toolDir = path.join(repoRoot, ".toolchain");

/** Put first on PATH for every command: holds node, pulumi and the dynamic-provider plugin. */
const binDir = path.join(toolDir, "bin");

/** The local Pulumi state of the people using this clone (`npm run pulumi`). */
const stateDir = path.join(repoRoot, ".pulumi-state");

/**
 * The machine-wide cache. `PULUMI_DUALWRITE_CACHE_DIR` overrides it (used to test
 * the empty-cache path without losing the real cache).
 */
function cacheRoot() {
  if (process.env.PULUMI_DUALWRITE_CACHE_DIR) {
    return path.resolve(process.env.PULUMI_DUALWRITE_CACHE_DIR);
  }
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "pulumi-dualwrite");
}

module.exports = { repoRoot, toolDir, binDir, stateDir, cacheRoot };
