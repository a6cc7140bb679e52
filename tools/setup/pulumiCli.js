"use strict";
// Step 3: the Pulumi CLI, offline. Order of preference:
//   1. a `pulumi` already on PATH that is at least as new as the installed
//      @pulumi/pulumi SDK;
//   2. the machine cache, keyed by the wrapper module's go.mod + go.sum;
//   3. a build from the Go module proxy of the wrapper module tools/pulumi-cli
//      (about 4–5 minutes on 2 cores, once per machine).
// The result is placed (hard link, else copy) at .toolchain/bin/pulumi, which is
// what `PulumiCommand.get({ root: ".toolchain" })` runs. See
// docs/adr/0001-pulumi-cli-from-go-module-proxy.md.

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { binDir, cacheRoot, repoRoot } = require("./paths");
const { capture, run, which } = require("./proc");
const { hashFiles, placeFile, readJson, writeJson } = require("./fsUtil");
const log = require("./log");

const WRAPPER_DIR = path.join(repoRoot, "tools", "pulumi-cli");
const CLI_PACKAGE = "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi";
const VERSION_SYMBOL = "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version";
/** The Node language host. Its module has no version tags; the proxy has refused every version tried (ADR 0001). */
const LANGUAGE_HOST_MODULE = "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3";

/** Parses "v3.274.1" / "3.274.1-dev.0" into [3, 274, 1]; undefined when it is not a version. */
function parseVersion(text) {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(String(text).trim());
  return match ? match.slice(1, 4).map(Number) : undefined;
}

/** True when version `a` >= version `b` (both "x.y.z" strings). */
function atLeast(a, b) {
  const left = parseVersion(a);
  const right = parseVersion(b);
  if (!left || !right) return false;
  for (let i = 0; i < 3; i += 1) {
    if (left[i] !== right[i]) return left[i] > right[i];
  }
  return true;
}

/** What the wrapper module pins: the CLI version, the Go it needs, and the cache key. */
function wrapperInfo() {
  const goMod = path.join(WRAPPER_DIR, "go.mod");
  const goSum = path.join(WRAPPER_DIR, "go.sum");
  const text = fs.readFileSync(goMod, "utf8");
  const goVersion = (/^go\s+(\S+)/m.exec(text) || [])[1];
  const version = (/github\.com\/pulumi\/pulumi\/pkg\/v3\s+(v\S+)/.exec(text) || [])[1];
  if (!goVersion || !version) {
    throw new log.SetupError(
      `${goMod} must state a "go" version and require github.com/pulumi/pulumi/pkg/v3.`,
    );
  }
  const key = `pulumi-${version}-${hashFiles([goMod, goSum]).slice(0, 12)}`;
  return { version, goVersion, cacheDir: path.join(cacheRoot(), key) };
}

/** `pulumi version` of a binary, or undefined when it does not run. */
function pulumiVersionOf(binary) {
  const result = capture(binary, ["version"], {
    env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" },
    timeout: 30_000,
  });
  return result.ok && parseVersion(result.stdout) ? result.stdout.trim() : undefined;
}

/** GOPROXY without `direct`: modules come from the module proxy, never straight from their Git hosts. */
function registryOnlyProxy(goproxy) {
  const entries = (goproxy || "")
    .split(/[,|]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry && entry !== "direct" && entry !== "off");
  return entries.length > 0 ? entries.join(",") : "https://proxy.golang.org";
}

/** Finds Go and checks it is new enough for the wrapper's go.mod; explains what to install if not. */
function goToolchain(requiredGo, version) {
  const advice =
    `The Pulumi CLI ${version} is built once per machine from the Go module proxy and needs Go ${requiredGo} or newer ` +
    `(https://go.dev/dl/). Alternatively put a Pulumi CLI ${version} or newer on PATH.`;
  const go = which("go", process.env.PATH);
  if (!go) throw new log.SetupError(`Go was not found on PATH. ${advice}`);
  const probe = capture(go, ["env", "GOVERSION", "GOPROXY"], {
    env: { ...process.env, GOTOOLCHAIN: "local" },
  });
  const [goVersionLine = "", goproxy = ""] = probe.stdout.split("\n");
  const goVersion = goVersionLine.trim().replace(/^go/, "");
  if (!probe.ok || !atLeast(goVersion, requiredGo)) {
    throw new log.SetupError(
      `${go} is Go ${goVersion || "(unknown)"}, older than ${requiredGo}. ${advice}`,
    );
  }
  return {
    go,
    goVersion,
    env: {
      ...process.env,
      // Never let `go` fetch a newer toolchain or read modules from Git hosts.
      GOTOOLCHAIN: "local",
      GOPROXY: registryOnlyProxy(goproxy.trim()),
      // A static binary: no C compiler needed, like Pulumi's own release builds.
      CGO_ENABLED: "0",
    },
  };
}

async function buildCli(info) {
  const toolchain = goToolchain(info.goVersion, info.version);
  const binary = path.join(info.cacheDir, "bin", "pulumi");
  const temporary = `${binary}.tmp-${process.pid}`;
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  log.info(
    `building the Pulumi CLI ${info.version} from the Go module proxy with Go ${toolchain.goVersion} ` +
      `(first run on this machine only: about 4-5 minutes on 2 cores; cached in ${info.cacheDir}) ...`,
  );
  const started = Date.now();
  const stop = log.ticker(
    "building the Pulumi CLI",
    "still working; Go prints nothing while it compiles",
  );
  let code;
  try {
    code = await run(
      toolchain.go,
      [
        "build",
        "-mod=readonly",
        "-buildvcs=false",
        "-trimpath",
        "-ldflags",
        `-X ${VERSION_SYMBOL}=${info.version}`,
        "-o",
        temporary,
        CLI_PACKAGE,
      ],
      { cwd: WRAPPER_DIR, env: toolchain.env },
    );
  } finally {
    stop();
  }
  if (code !== 0 || pulumiVersionOf(temporary) !== info.version) {
    fs.rmSync(temporary, { force: true });
    throw new log.SetupError(
      `Building the Pulumi CLI failed (go build exit ${code}); see the Go output above.`,
    );
  }
  fs.renameSync(temporary, binary);
  log.info(`built the Pulumi CLI ${info.version} in ${log.formatDuration(Date.now() - started)}`);
  return toolchain;
}

/**
 * Tries, once per cache key, to get the Node language host from the module proxy
 * and build it beside the CLI. The outcome is recorded in the cache so later runs
 * do not ask again; without it, programs run as Automation API inline programs.
 */
async function tryLanguageHost(info, toolchain) {
  const recordFile = path.join(info.cacheDir, "language-host.json");
  const recorded = readJson(recordFile);
  if (recorded) return recorded;
  const go = toolchain || goToolchainOrUndefined(info);
  if (!go) return { available: false, error: "Go is not available to try it" };

  const target = `${LANGUAGE_HOST_MODULE}@${info.version}`;
  log.info(`asking the Go module proxy once for the Node language host ${target} ...`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-language-host-"));
  let record;
  try {
    for (const file of ["go.mod", "go.sum", "tools.go"]) {
      fs.copyFileSync(path.join(WRAPPER_DIR, file), path.join(scratch, file));
    }
    const env = { ...go.env, GOFLAGS: `${go.env.GOFLAGS || ""} -mod=mod`.trim() };
    const get = capture(go.go, ["get", target], { cwd: scratch, env, timeout: 300_000 });
    if (!get.ok) {
      record = {
        available: false,
        module: target,
        error: get.stderr.trim(),
        checkedAt: new Date().toISOString(),
      };
    } else {
      const binary = path.join(info.cacheDir, "bin", "pulumi-language-nodejs");
      const build = capture(
        go.go,
        [
          "build",
          "-buildvcs=false",
          "-ldflags",
          `-X ${VERSION_SYMBOL}=${info.version}`,
          "-o",
          binary,
          LANGUAGE_HOST_MODULE,
        ],
        { cwd: scratch, env, timeout: 900_000 },
      );
      record = build.ok
        ? { available: true, module: target, checkedAt: new Date().toISOString() }
        : {
            available: false,
            module: target,
            error: build.stderr.trim(),
            checkedAt: new Date().toISOString(),
          };
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  writeJson(recordFile, record);
  return record;
}

function goToolchainOrUndefined(info) {
  try {
    return goToolchain(info.goVersion, info.version);
  } catch {
    return undefined;
  }
}

/**
 * Makes .toolchain/bin/pulumi a Pulumi CLI at least as new as `minimumVersion`.
 * @returns {Promise<{ version: string, source: string, languageHost: boolean }>}
 */
async function ensurePulumi(minimumVersion) {
  const destination = path.join(binDir, "pulumi");
  const onPath = which("pulumi", process.env.PATH, [binDir]);
  if (onPath) {
    const version = pulumiVersionOf(onPath);
    if (version && atLeast(version, minimumVersion)) {
      placeFile(fs.realpathSync(onPath), destination);
      return { version, source: `the machine's ${onPath}`, languageHost: false };
    }
    log.info(
      `ignoring ${onPath} (${version || "does not run"}): older than the SDK's ${minimumVersion}`,
    );
  }

  const info = wrapperInfo();
  const cached = path.join(info.cacheDir, "bin", "pulumi");
  let source = `cached build in ${path.dirname(cached)}`;
  let toolchain;
  if (pulumiVersionOf(cached) !== info.version) {
    toolchain = await buildCli(info);
    source = `built from the Go module proxy into ${path.dirname(cached)}`;
  }
  placeFile(cached, destination);

  const languageHost = await tryLanguageHost(info, toolchain);
  const hostBinary = path.join(info.cacheDir, "bin", "pulumi-language-nodejs");
  if (languageHost.available && fs.existsSync(hostBinary)) {
    placeFile(hostBinary, path.join(binDir, "pulumi-language-nodejs"));
  }
  return { version: info.version, source, languageHost: Boolean(languageHost.available) };
}

module.exports = { ensurePulumi, atLeast, parseVersion, wrapperInfo, goToolchain };
