"use strict";
// One setup at a time per clone: two concurrent `npm test` runs must not both
// run `npm ci` or replace the same links. The lock is a file holding the owner's
// pid; a lock whose owner is gone is taken over.

const fs = require("node:fs");
const path = require("node:path");
const log = require("./log");

function ownerAlive(lockFile) {
  try {
    const pid = Number(fs.readFileSync(lockFile, "utf8").trim());
    if (!pid) return false;
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return Boolean(error && error.code === "EPERM");
  }
}

/** Waits for and takes the lock; resolves with a function that releases it. */
async function acquireLock(lockFile) {
  fs.mkdirSync(path.dirname(lockFile), { recursive: true });
  let waitingSince;
  for (;;) {
    try {
      fs.writeFileSync(lockFile, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if (!error || error.code !== "EEXIST") throw error;
      if (!ownerAlive(lockFile)) {
        fs.rmSync(lockFile, { force: true });
        continue;
      }
      if (waitingSince === undefined) {
        waitingSince = Date.now();
        log.info(
          `another setup (pid ${fs.readFileSync(lockFile, "utf8").trim()}) is running in this clone; waiting ...`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    try {
      if (fs.readFileSync(lockFile, "utf8").trim() === String(process.pid))
        fs.rmSync(lockFile, { force: true });
    } catch {
      // already gone
    }
  };
  process.once("exit", release);
  return release;
}

module.exports = { acquireLock };
