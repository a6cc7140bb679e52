"use strict";
// The environment every Pulumi command runs in, so that the real CLI works
// offline against local state (reference/pulumi-notes.md §4). It is written to
// .toolchain/env.json for the TypeScript side (tools/toolchain.ts reads it) and
// to .toolchain/env.sh for a person's shell (`. .toolchain/env.sh`).

const fs = require("node:fs");
const path = require("node:path");
const { binDir, stateDir, toolDir } = require("./paths");
const { pathWithFirst } = require("./proc");
const { writeJson } = require("./fsUtil");

/**
 * Passphrase of the local stacks' secrets. Local state on a developer machine
 * only; set PULUMI_CONFIG_PASSPHRASE(_FILE) yourself to use another.
 */
const LOCAL_PASSPHRASE = "pulumi-dualwrite-local";

/** The Pulumi variables (without PATH) for this clone. */
function pulumiVariables() {
  const variables = {
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_HOME: path.join(toolDir, "pulumi-home"),
    // No version check against the Pulumi Cloud, no plugin or registry downloads.
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_DISABLE_REGISTRY_RESOLVE: "true",
  };
  if (!process.env.PULUMI_CONFIG_PASSPHRASE && !process.env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    variables.PULUMI_CONFIG_PASSPHRASE = LOCAL_PASSPHRASE;
  }
  return variables;
}

/** process.env plus the Pulumi variables, with .toolchain/bin first on PATH. */
function toolchainEnv() {
  return { ...process.env, ...pulumiVariables(), PATH: pathWithFirst(binDir, process.env.PATH) };
}

/** Records the toolchain for the TypeScript side and for shells. */
function writeToolchainFiles(facts) {
  fs.mkdirSync(stateDir, { recursive: true });
  const variables = pulumiVariables();
  fs.mkdirSync(variables.PULUMI_HOME, { recursive: true });
  writeJson(path.join(toolDir, "env.json"), {
    toolDir,
    binDir,
    pulumiVersion: facts.pulumiVersion,
    nodeVersion: facts.nodeVersion,
    languageHost: facts.languageHost,
    env: variables,
  });
  const quote = (value) => `'${String(value).replace(/'/g, "'\\''")}'`;
  const lines = [
    "# Written by tools/setup.js: the offline Pulumi environment of this clone.",
    ...Object.entries(variables).map(([name, value]) => `export ${name}=${quote(value)}`),
    `export PATH=${quote(binDir)}:"$PATH"`,
    "",
  ];
  fs.writeFileSync(path.join(toolDir, "env.sh"), lines.join("\n"));
}

module.exports = { toolchainEnv, writeToolchainFiles, LOCAL_PASSPHRASE };
