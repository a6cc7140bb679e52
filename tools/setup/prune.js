"use strict";
// Compiled files whose TypeScript source is gone: the set-up's build and `npm pack`'s prepack both
// delete them, so that a renamed or deleted module (or test) never runs, or ships, from a stale .js.

const fs = require("node:fs");
const path = require("node:path");

const repoRoot = path.resolve(__dirname, "..", "..");

/** What tsc writes for one source file. */
const OUTPUT_SUFFIXES = [".d.ts.map", ".d.ts", ".js.map", ".js"];

/** The source extensions a compiled file may come from. */
const SOURCE_EXTENSIONS = [".ts", ".tsx", ".mts", ".cts"];

/**
 * Deletes compiled files under dist/<folder> (all of dist/ without a folder) whose source is
 * gone; returns how many it deleted.
 */
function pruneOrphans(folder = "") {
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
      const sources = SOURCE_EXTENSIONS.map((ext) => path.join(repoRoot, `${stem}${ext}`));
      if (!sources.some((source) => fs.existsSync(source))) {
        fs.rmSync(full, { force: true });
        removed += 1;
      }
    }
  };
  walk(path.join(dist, folder));
  return removed;
}

module.exports = { pruneOrphans };
