"use strict";
// File-system helpers shared by the setup steps.

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

/** sha256 over the contents of the given files, as hex. */
function hashFiles(files) {
  const hash = crypto.createHash("sha256");
  for (const file of files) {
    hash.update(path.basename(file));
    hash.update("\0");
    hash.update(fs.readFileSync(file));
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Makes `linkPath` a symlink to `target`, replacing whatever was there; no-op when it already is. */
function symlink(target, linkPath) {
  try {
    if (fs.readlinkSync(linkPath) === target) return false;
  } catch {
    // missing or not a link: (re)create below
  }
  fs.rmSync(linkPath, { force: true, recursive: true });
  fs.mkdirSync(path.dirname(linkPath), { recursive: true });
  fs.symlinkSync(target, linkPath);
  return true;
}

/**
 * Makes `destination` the same file as `source`: a hard link when both are on one
 * file system, else a copy. A hard link (rather than a symlink) matters for the
 * Pulumi CLI, which looks for bundled plugins next to its *real* path.
 * Returns true when it had to change something.
 */
function placeFile(source, destination) {
  const from = fs.statSync(source);
  try {
    const to = fs.statSync(destination);
    const sameInode = to.ino === from.ino && to.dev === from.dev;
    const sameCopy = to.size === from.size && Math.trunc(to.mtimeMs) === Math.trunc(from.mtimeMs);
    if (sameInode || sameCopy) return false;
  } catch {
    // missing: place below
  }
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  const temporary = `${destination}.tmp-${process.pid}`;
  fs.rmSync(temporary, { force: true });
  try {
    fs.linkSync(source, temporary);
  } catch {
    fs.copyFileSync(source, temporary);
    fs.chmodSync(temporary, from.mode);
    fs.utimesSync(temporary, from.atime, from.mtime);
  }
  fs.rmSync(destination, { force: true, recursive: true });
  fs.renameSync(temporary, destination);
  return true;
}

/** Reads a JSON file, or returns undefined when it is missing or unreadable. */
function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

/** Writes a JSON file atomically (write to a temporary name, then rename). */
function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

module.exports = { hashFiles, symlink, placeFile, readJson, writeJson };
