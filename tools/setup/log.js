"use strict";
// Console output of the setup: one prefixed line per fact, so a person can see
// what the first (slow) run is doing and what a later run merely checked.

const started = Date.now();

/** Seconds since the setup started, for the step lines. */
function elapsed() {
  return `${((Date.now() - started) / 1000).toFixed(1)}s`;
}

/** A normal progress line. */
function info(message) {
  process.stderr.write(`[setup ${elapsed()}] ${message}\n`);
}

/** Something a person may want to act on; the run continues. */
function warn(message) {
  process.stderr.write(`[setup ${elapsed()}] WARNING: ${message}\n`);
}

/** Formats a duration in milliseconds as "2m05s" or "7.3s". */
function formatDuration(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, "0")}s`;
}

/**
 * Prints "still working" lines every `everyMs` while a long step runs, so nobody
 * mistakes a four-minute Go build for a hang. Returns a function that stops it.
 */
function ticker(label, hint, everyMs = 20_000) {
  const since = Date.now();
  const timer = setInterval(() => {
    info(`... ${label}: ${formatDuration(Date.now() - since)} elapsed${hint ? ` (${hint})` : ""}`);
  }, everyMs);
  return () => clearInterval(timer);
}

/** An error the setup reports as one clear message, without a stack trace. */
class SetupError extends Error {
  constructor(message) {
    super(message);
    this.name = "SetupError";
  }
}

module.exports = { info, warn, ticker, formatDuration, SetupError };
