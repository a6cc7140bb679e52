#!/usr/bin/env node
"use strict";
// `npm pack` and `npm publish` run this first (package.json "prepack"): it compiles the parts
// that ship (tsconfig.build.json: provider/, facts/, cli/, emulator/) into dist/ and deletes
// compiled files there whose source is gone, so that a tarball packed from a working tree never
// carries a module that no longer exists. Type errors fail the pack: a package is not published
// half-typed. docs/adr/0007-package-layout.md says what ships and why.
//
// It runs under whatever Node runs npm, so it is plain CommonJS without dependencies beyond the
// repository's own TypeScript.

const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");

const repoRoot = path.resolve(__dirname, "..");

/** The dist/ folders that `files` in package.json ships; each is compiled from the folder of the same name. */
const SHIPPED = ["provider", "facts", "cli", "emulator"];

/** What tsc writes for one source file. */
const OUTPUT_SUFFIXES = [".d.ts.map", ".d.ts", ".js.map", ".js"];

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

/** Deletes compiled files under dist/<folder> whose `.ts` source is gone; returns how many. */
function pruneOrphans(folder) {
  const dist = path.join(repoRoot, "dist");
  let removed = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
        continue;
      }
      const suffix = OUTPUT_SUFFIXES.find((candidate) => entry.name.endsWith(candidate));
      if (!suffix) continue;
      const stem = path.relative(dist, full).slice(0, -suffix.length);
      if (!fs.existsSync(path.join(repoRoot, `${stem}.ts`))) {
        fs.rmSync(full, { force: true });
        removed += 1;
      }
    }
  };
  walk(path.join(dist, folder));
  return removed;
}

compile();
const removed = SHIPPED.reduce((sum, folder) => sum + pruneOrphans(folder), 0);
if (removed > 0) {
  process.stderr.write(`prepack: removed ${removed} compiled file(s) whose source is gone\n`);
}
