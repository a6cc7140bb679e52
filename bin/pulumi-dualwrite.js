#!/usr/bin/env node
// Shim for the `pulumi-dualwrite` command (`npx pulumi-dualwrite doctor`): the CLI is TypeScript
// compiled to dist/ (npm run build).
"use strict";
require("../dist/cli/main.js")
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
    // Every client is closed by the command; should anything still hold the event loop (a
    // keep-alive socket), do not make the person wait for it.
    setTimeout(() => process.exit(code), 1000).unref();
  });
