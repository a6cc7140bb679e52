#!/usr/bin/env node
"use strict";
// `npm pack` and `npm publish` run this first (package.json "prepack"): it compiles the parts
// that ship (tsconfig.build.json: provider/, facts/, cli/, emulator/) into dist/ and deletes
// compiled files there whose source is gone, so that a tarball packed from a working tree never
// carries a module that no longer exists. Type errors fail the pack: a package is not published
// half-typed. docs/adr/0009-package-layout.md says what ships and why.
//
// It runs under whatever Node runs npm, so it is plain CommonJS without dependencies beyond the
// repository's own TypeScript.

const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { pruneOrphans } = require("./setup/prune");

const repoRoot = path.resolve(__dirname, "..");

/** The dist/ folders that `files` in package.json ships; each is compiled from the folder of the same name. */
const SHIPPED = ["provider", "facts", "cli", "emulator"];

/** Compiles what ships (tsconfig.build.json); a type error ends the pack. */
function compile() {
  const tsc = require.resolve("typescript/bin/tsc", { paths: [repoRoot] });
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(
      `prepack: tsc -p tsconfig.build.json failed (exit ${result.status}); nothing was packed.\n`,
    );
    process.exit(result.status || 1);
  }
}

compile();
const removed = SHIPPED.reduce((sum, folder) => sum + pruneOrphans(folder), 0);
if (removed > 0) {
  process.stderr.write(`prepack: removed ${removed} compiled file(s) whose source is gone\n`);
}
