/**
 * `dualwrite-emulator`: starts the emulator from a shell and serves until SIGINT or SIGTERM.
 *
 * On start it prints exactly one line of JSON to standard output, which scripts parse:
 * `{"url","caCertPath","tenantId","clientId","clientSecret","gatewayUrl","dualWriteAdmin":{"username","password"},
 *   "environments":[{"name","financeOperationsUrl","dataverseUrl"}]}` — `url` is Entra ID and the
 * control API (127.0.0.1), `gatewayUrl` the gateway's own host (127.0.0.2), each environment
 * has two hosts of its own (127.0.0.11, 127.0.0.12, …; docs/emulator.md "Addresses").
 * Everything else (errors, `--verbose` request lines) goes to standard error.
 *
 * Exit codes: 0 after a clean shutdown, 1 when starting failed, 2 for bad arguments.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { defaultTlsDir, ensureTlsMaterial } from "./core/tls";
import { startEmulator, type RequestLogEntry, type RunningEmulator, type SeedSpec } from "./index";

const USAGE = `Usage: dualwrite-emulator [options]

  --port N            TCP port, the same on every address (127.0.0.1 Entra ID and control,
                      127.0.0.2 gateway, 127.0.0.11 and up environments; default 0: a port
                      free on all of them, printed in "url")
  --seed SCENARIO     seed an environment pair; repeat for several; NAME=SCENARIO names it
                      (scenarios: new-new, new-existing, new-data-new, new-data-existing,
                      existing-new, existing-existing)
  --size N            rows per table per company for seeds with data
  --data-dir DIR      persist state in DIR (restart keeps acknowledged writes and credentials)
  --tls-dir DIR       where the CA and certificates live (default: user cache dir)
  --clock-speed X     emulated time runs X times faster (default 1)
  --gateway-accepts-app-tokens
                      let the gateway accept app-only tokens (default: delegated user tokens
                      only, as Microsoft's tool signs in; the setting gatewayAcceptsAppTokens)
  --verbose           print one line per request to standard error
  --print-ca-path     create the CA if needed, print the path of ca.pem and exit
                      (for NODE_EXTRA_CA_CERTS=$(dualwrite-emulator --print-ca-path))
  --help              print this help

Prints one JSON line with url, caCertPath, the app's credentials, gatewayUrl, dualWriteAdmin
(the user for delegated gateway tokens) and environments, then serves until SIGINT/SIGTERM.
Clients must trust caCertPath (e.g. NODE_EXTRA_CA_CERTS=<caCertPath>).`;

/** Bad command-line input (exit code 2). */
class UsageError extends Error {}

/** Runs the CLI with `argv` (without `node` and the script). Resolves when it has shut down. */
export async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseCli>;
  try {
    options = parseCli(argv);
  } catch (e) {
    process.stderr.write(`dualwrite-emulator: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.printCaPath) {
    const tls = await ensureTlsMaterial(options.tlsDir ? resolve(options.tlsDir) : defaultTlsDir());
    process.stdout.write(`${tls.caCertPath}\n`);
    return 0;
  }

  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({
      port: options.port,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.tlsDir ? { tlsDir: options.tlsDir } : {}),
      seed: options.seeds,
      ...(options.size === undefined ? {} : { size: options.size }),
      ...(options.clockSpeed === undefined ? {} : { clock: { speed: options.clockSpeed } }),
      ...(options.verbose ? { onRequest: printRequest } : {}),
      ...(options.gatewayAcceptsAppTokens ? { settings: { gatewayAcceptsAppTokens: true } } : {}),
    });
  } catch (e) {
    process.stderr.write(`dualwrite-emulator: could not start: ${(e as Error).message}\n`);
    return 1;
  }

  // Listen for signals before printing: stdout to a pipe is synchronous on Linux, so a parent may
  // read the line and signal at once, before any later statement runs.
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      // A second signal while shutting down ends the process at once.
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      done();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  process.stdout.write(
    `${JSON.stringify({
      url: emulator.url,
      caCertPath: emulator.caCertPath,
      tenantId: emulator.credentials.tenantId,
      clientId: emulator.credentials.clientId,
      clientSecret: emulator.credentials.clientSecret,
      gatewayUrl: emulator.gatewayUrl,
      dualWriteAdmin: emulator.dualWriteAdmin,
      environments: emulator.environments.map((e) => ({
        name: e.name,
        financeOperationsUrl: e.financeOperationsUrl,
        dataverseUrl: e.dataverseUrl,
      })),
    })}\n`,
  );

  await stopped;
  await emulator.close();
  return 0;
}

function parseCli(argv: readonly string[]) {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      seed: { type: "string", multiple: true },
      size: { type: "string" },
      "data-dir": { type: "string" },
      "tls-dir": { type: "string" },
      "clock-speed": { type: "string" },
      verbose: { type: "boolean" },
      "gateway-accepts-app-tokens": { type: "boolean" },
      "print-ca-path": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  const port = values.port === undefined ? 0 : integer("--port", values.port);
  if (port > 65535) throw new UsageError(`--port: expected 0 to 65535, got ${port}.`);
  const size = values.size === undefined ? undefined : integer("--size", values.size);
  const clockSpeed =
    values["clock-speed"] === undefined ? undefined : Number(values["clock-speed"]);
  if (clockSpeed !== undefined && !(clockSpeed > 0)) {
    throw new UsageError(
      `--clock-speed: expected a positive number, got '${values["clock-speed"]}'.`,
    );
  }
  const seeds: SeedSpec[] = (values.seed ?? []).map((s) => {
    const eq = s.indexOf("=");
    return eq < 0 ? { scenario: s } : { name: s.slice(0, eq), scenario: s.slice(eq + 1) };
  });
  return {
    help: values.help === true,
    printCaPath: values["print-ca-path"] === true,
    verbose: values.verbose === true,
    gatewayAcceptsAppTokens: values["gateway-accepts-app-tokens"] === true,
    port,
    seeds,
    size,
    clockSpeed,
    dataDir: values["data-dir"],
    tlsDir: values["tls-dir"],
  };
}

function integer(flag: string, text: string): number {
  if (!/^\d+$/.test(text))
    throw new UsageError(`${flag}: expected a non-negative integer, got '${text}'.`);
  return Number(text);
}

/** `--verbose`: one line per finished request on standard error (no headers, bodies or tokens). */
function printRequest(e: RequestLogEntry): void {
  const query = e.query ? `?${e.query}` : "";
  const outcome = e.outcome === "answered" ? "" : ` (${e.outcome})`;
  process.stderr.write(
    `${e.at} ${e.surface} ${e.method} ${e.host}${e.path}${query} -> ${e.status}${outcome}\n`,
  );
}
