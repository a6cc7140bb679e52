"use strict";
// Step 5b, only for the tests that run a Python program (test/e2e/python.test.ts): a Python
// virtual environment with the `pulumi` PyPI package, and the generated SDK sdk/python installed
// beside it. No Python language host is needed: the program is an Automation API inline program,
// whose in-process language server answers the CLI (docs/adr/0008-provider-plugin.md).
//
// - The virtual environment is the machine's (`<cache>/python-pulumi-<version>-py<X.Y>`): created
//   once with `python3 -m venv`, then `pip install pulumi==<version> setuptools wheel` from PyPI.
//   Built in a scratch folder and renamed into place, so a half-made one is never used.
// - The SDK is the clone's (it is generated from this clone's schema.json): installed with
//   `pip install --no-deps --no-build-isolation --target .toolchain/python-sdk sdk/python` when
//   the generated SDK changed, and put on PYTHONPATH by the test.
// What was made is written to .toolchain/python.json for the test.

const fs = require("node:fs");
const path = require("node:path");
const { cacheRoot, repoRoot, toolDir } = require("./paths");
const { capture } = require("./proc");
const { readJson, writeJson } = require("./fsUtil");
const log = require("./log");

/** The `pulumi` PyPI version: the newest PyPI serves that works with the pinned CLI. */
const PULUMI_PYPI_VERSION = "3.272.0";

const SDK_SOURCE = path.join(repoRoot, "sdk", "python");
const SDK_TARGET = path.join(toolDir, "python-sdk");
const SDK_STAMP = path.join(repoRoot, "sdk", ".generated.json");
/** Where the test finds the interpreter and the SDK. */
const PYTHON_INFO = path.join(toolDir, "python.json");

/** Whether `npm test <args>` runs a test that needs Python: the whole suite or python.test.js. */
function testsNeedPython(args) {
  const files = args.filter((arg) => !arg.startsWith("-") && arg.endsWith(".js"));
  return files.length === 0 || files.some((file) => path.basename(file) === "python.test.js");
}

function failed(what, result) {
  return new log.SetupError(
    `${what} failed (the Python end-to-end test needs it):\n${result.stdout}${result.stderr}${
      result.error ? String(result.error) : ""
    }`,
  );
}

/** The machine's python3 and its X.Y version. */
function systemPython() {
  const probe = capture("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]);
  if (!probe.ok) throw failed("Finding python3 on PATH", probe);
  return probe.stdout.trim();
}

/** The cached virtual environment with `pulumi`; made when missing. Returns [python, how]. */
function ensureVirtualEnv() {
  const pyVersion = systemPython();
  const venv = path.join(cacheRoot(), `python-pulumi-${PULUMI_PYPI_VERSION}-py${pyVersion}`);
  const python = path.join(venv, "bin", "python");
  if (fs.existsSync(path.join(venv, ".complete"))) {
    return [python, `cached virtual environment (${venv})`];
  }
  const started = Date.now();
  const scratch = `${venv}.tmp-${process.pid}`;
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  const made = capture("python3", ["-m", "venv", scratch]);
  if (!made.ok) throw failed("python3 -m venv", made);
  const pip = capture(
    path.join(scratch, "bin", "python"),
    [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--quiet",
      `pulumi==${PULUMI_PYPI_VERSION}`,
      "setuptools",
      "wheel",
    ],
    { cwd: scratch },
  );
  if (!pip.ok) {
    fs.rmSync(scratch, { recursive: true, force: true });
    throw failed(`pip install pulumi==${PULUMI_PYPI_VERSION} (PyPI)`, pip);
  }
  fs.writeFileSync(path.join(scratch, ".complete"), `${new Date().toISOString()}\n`);
  try {
    fs.renameSync(scratch, venv);
  } catch (error) {
    // Another clone finished first: use theirs.
    fs.rmSync(scratch, { recursive: true, force: true });
    if (!fs.existsSync(path.join(venv, ".complete"))) throw error;
  }
  return [
    python,
    `virtual environment with pulumi ${PULUMI_PYPI_VERSION} from PyPI made in ${log.formatDuration(Date.now() - started)} (${venv})`,
  ];
}

/** Installs the generated SDK into the clone's target folder when it changed. */
function ensureSdk(python) {
  const stamp = readJson(SDK_STAMP);
  const key = `${PULUMI_PYPI_VERSION}:${python}:${stamp ? stamp.key : "none"}`;
  const info = readJson(PYTHON_INFO);
  if (info && info.key === key && fs.existsSync(path.join(SDK_TARGET, "pulumi_dualwrite"))) {
    return "up to date";
  }
  fs.rmSync(SDK_TARGET, { recursive: true, force: true });
  // setuptools leaves build/ and *.egg-info beside the source it builds: build a scratch copy, so
  // sdk/python stays as gen-sdk wrote it.
  const scratch = path.join(toolDir, "python-sdk-src");
  fs.rmSync(scratch, { recursive: true, force: true });
  fs.cpSync(SDK_SOURCE, scratch, {
    recursive: true,
    filter: (source) => !/(^|[\\/])(build|[^\\/]*\.egg-info|__pycache__)$/.test(source),
  });
  const result = capture(
    python,
    [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--quiet",
      "--no-deps",
      "--no-build-isolation",
      "--target",
      SDK_TARGET,
      scratch,
    ],
    { cwd: repoRoot },
  );
  fs.rmSync(scratch, { recursive: true, force: true });
  if (!result.ok) throw failed("pip install sdk/python", result);
  writeJson(PYTHON_INFO, { key, python, sdkPath: SDK_TARGET, pulumi: PULUMI_PYPI_VERSION });
  return "installed into .toolchain/python-sdk";
}

/** Prepares Python for the tests that need it; returns a line for the set-up log. */
function ensurePython() {
  const [python, how] = ensureVirtualEnv();
  const sdk = ensureSdk(python);
  return `${how}; sdk/python ${sdk}`;
}

module.exports = { ensurePython, testsNeedPython, PULUMI_PYPI_VERSION, PYTHON_INFO };
