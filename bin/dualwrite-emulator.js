#!/usr/bin/env node
// Shim for the `dualwrite-emulator` command: the CLI is TypeScript compiled to dist/ (npm run build).
"use strict";
require("../dist/emulator/cli.js")
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // The emulator has closed everything it opened; should anything still hold the event loop,
    // do not hang a shutdown on it.
    setTimeout(() => process.exit(code), 1000).unref();
  });
