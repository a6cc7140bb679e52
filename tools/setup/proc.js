"use strict";
// Small process helpers. The setup runs under whatever Node the machine has
// (Node 20 here), so this is plain CommonJS with no dependencies.

const fs = require("node:fs");
const path = require("node:path");
const { spawn, spawnSync } = require("node:child_process");

/** Runs a command to completion and captures its output (for short probes). */
function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  return {
    ok: !result.error && result.status === 0,
    status: result.status,
    stdout: result.stdout || "",
    stderr: result.stderr || "",
    error: result.error,
  };
}

/**
 * Runs a command with the terminal attached and resolves with its exit code
 * (128 + signal number when it was killed).
 */
function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "inherit", ...options });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal) resolve(128 + (require("node:os").constants.signals[signal] || 0));
      else resolve(code === null ? 1 : code);
    });
  });
}

/** The first executable called `name` on `searchPath`, skipping the `exclude` directories. */
function which(name, searchPath, exclude = []) {
  const skip = new Set(exclude.map((dir) => path.resolve(dir)));
  for (const dir of (searchPath || "").split(path.delimiter)) {
    if (!dir || skip.has(path.resolve(dir))) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** `PATH` with `dir` first (and not repeated further down). */
function pathWithFirst(dir, searchPath) {
  const rest = (searchPath || "")
    .split(path.delimiter)
    .filter((entry) => entry && path.resolve(entry) !== dir);
  return [dir, ...rest].join(path.delimiter);
}

module.exports = { capture, run, which, pathWithFirst };
