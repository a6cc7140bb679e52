/**
 * The example programs (examples/<name>/) run against the emulator: which seed each one needs, the
 * stack config that fits that seed, the provider config that points at the emulator, and the
 * inline program that loads the compiled example. The demo (`npm start`) and the end-to-end tests
 * both use it, so both run the programs exactly as a user reads them.
 *
 * There is no Node language host in the toolchain (docs/adr/0001-pulumi-cli-from-go-module-proxy.md),
 * so an example runs as an Automation API inline program that requires its compiled JavaScript
 * (examples/x/index.ts → dist/examples/x/index.js).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { SCENARIOS, type Scenario } from "../provider/scenario/scenarios";
import { findRepoRoot } from "./toolchain";

/**
 * The six scenario examples, in Microsoft's order: one folder per scenario the provider accepts
 * (the folder name is also the scenario and the emulator seed).
 */
export const SCENARIO_EXAMPLES = SCENARIOS;

/** One of the six scenario examples. */
export type ScenarioExample = Scenario;

/** Whether `value` names one of the six scenario examples. */
export function isScenarioExample(value: string): value is ScenarioExample {
  return (SCENARIO_EXAMPLES as readonly string[]).includes(value);
}

/** The two URLs of an environment pair, as the emulator describes it. */
export interface EnvironmentUrls {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
}

/** What the provider needs to reach a running emulator (from `startEmulator`). */
export interface EmulatorEndpoint {
  /** `https://127.0.0.1:<port>`, the token authority. */
  readonly url: string;
  /** `https://127.0.0.2:<port>`, the gateway at the root of its own host. */
  readonly gatewayUrl: string;
  readonly caCertPath: string;
  /** The app registration: Dataverse and F&O tokens. */
  readonly credentials: {
    readonly tenantId: string;
    readonly clientId: string;
    readonly clientSecret: string;
  };
  /** The seeded dual-write administrator: the gateway's delegated sign-in. */
  readonly dualWriteAdmin: { readonly username: string; readonly password: string };
}

/**
 * The companies of the emulator's seeds: F&O's existing environment has USMF, USRT and DEMF; the
 * existing Dataverse seed keeps the customers it shares with USMF in business unit "Contoso US" and
 * those it shares with DEMF in "Contoso Germany".
 */
export const SEED_COMPANIES = {
  USMF: {
    code: "USMF",
    name: "Contoso Entertainment System USA",
    owningBusinessUnit: "Contoso US",
  },
  DEMF: {
    code: "DEMF",
    name: "Contoso Entertainment System Germany",
    owningBusinessUnit: "Contoso Germany",
  },
} as const;

/**
 * Stack config (keys of the example's own project) that fits the emulator's seed of the scenario:
 * the URLs of the pair, and the companies the seed has data for. Object values are JSON, as
 * `pulumi config set --path` would store them.
 */
export function scenarioExampleConfig(
  example: ScenarioExample,
  env: EnvironmentUrls,
): Record<string, string> {
  const urls = { financeOperationsUrl: env.financeOperationsUrl, dataverseUrl: env.dataverseUrl };
  const { USMF, DEMF } = SEED_COMPANIES;
  switch (example) {
    case "new-new":
    case "new-data-new":
    case "existing-new":
      // DAT for the new F&O seeds; every legal entity (DAT, USMF, USRT, DEMF) for the existing one.
      return urls;
    case "new-existing":
      // The sales organization in Dataverse becomes company USMF in the new F&O environment.
      return { ...urls, company: JSON.stringify({ code: USMF.code, name: USMF.name }) };
    case "new-data-existing":
      return { ...urls, companies: JSON.stringify([{ code: USMF.code, name: USMF.name }]) };
    case "existing-existing":
      // Every legal entity; the rows of each Dataverse business unit go to its company.
      return {
        ...urls,
        bootstrapCompanies: JSON.stringify([
          { code: USMF.code, owningBusinessUnit: USMF.owningBusinessUnit },
          { code: DEMF.code, owningBusinessUnit: DEMF.owningBusinessUnit },
        ]),
      };
  }
}

/**
 * Provider config (`dualwrite:*`) for the emulator: its tenant, app, authority and gateway, and
 * the gateway's own sign-in as a real tenant needs it — the dual-write administrator's username
 * and password (delegated tokens, TokenRefresh.cs:127-160), while Dataverse and F&O take the app's
 * secret. Secrets go into the secrets part, stored encrypted like real ones.
 */
export function emulatorProviderConfig(emulator: EmulatorEndpoint): {
  config: Record<string, string>;
  secrets: Record<string, string>;
} {
  return {
    config: {
      "dualwrite:tenantId": emulator.credentials.tenantId,
      "dualwrite:clientId": emulator.credentials.clientId,
      "dualwrite:authorityHost": emulator.url,
      "dualwrite:gatewayUrl": emulator.gatewayUrl,
      "dualwrite:gatewayCredential": "password",
      "dualwrite:gatewayUsername": emulator.dualWriteAdmin.username,
    },
    secrets: {
      "dualwrite:clientSecret": emulator.credentials.clientSecret,
      "dualwrite:gatewayPassword": emulator.dualWriteAdmin.password,
    },
  };
}

/**
 * Environment for the Pulumi CLI and so for the dynamic-provider process it starts: trust the
 * emulator's CA (the provider process is a new Node, which reads `NODE_EXTRA_CA_CERTS` at start).
 */
export function emulatorProcessEnv(emulator: EmulatorEndpoint): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: emulator.caCertPath };
}

/**
 * Resource operations the engine may run at once (`pulumi --parallel`, or `PULUMI_PARALLEL`). The
 * CLI's default is 4 × the cores (8 on a 2-core machine), which holds back maps whose
 * prerequisites already run: a binding spends its time waiting for the gateway's transitions, not
 * on a core. 64 lets every binding of a large tenant start when its prerequisites allow.
 */
export const ENGINE_PARALLELISM = 64;

/**
 * Environment that makes the CLI and the dynamic-provider process it starts quicker, for every
 * operation:
 *
 * | variable                    | why                                                             |
 * |-----------------------------|-----------------------------------------------------------------|
 * | `PULUMI_PARALLEL=64`        | the default of `--parallel` (pkg/cmd/pulumi/operations/up.go `defaultParallel`): every map whose prerequisites run can start |
 * | `PULUMI_PARALLEL_DIFF=true` | without it the CLI (3.274.1 here) computes diffs one resource at a time (pkg/resource/deploy/step_generator.go): a preview of 44 resources waits for 44 diffs in a row, their requests included |
 * | `NODE_COMPILE_CACHE=<tmp>`  | the provider process is a new Node for each operation; Node's on-disk cache of compiled code cuts loading `@pulumi/pulumi` and the runtime from ~640 to ~400 ms on the benchmark machine |
 *
 * The engine still calls each resource's `check` one at a time; no setting changes that.
 */
export function engineSpeedEnv(parallel: number = ENGINE_PARALLELISM): Record<string, string> {
  return {
    PULUMI_PARALLEL: String(parallel),
    PULUMI_PARALLEL_DIFF: "true",
    NODE_COMPILE_CACHE:
      process.env.NODE_COMPILE_CACHE ?? path.join(os.tmpdir(), "node-compile-cache"),
  };
}

/** The folder of an example (`examples/<name>`). */
export function exampleDir(name: string, repoRoot: string = findRepoRoot()): string {
  return path.join(repoRoot, "examples", name);
}

/** The Pulumi project name of an example (`name:` of its Pulumi.yaml). */
export function exampleProjectName(name: string, repoRoot: string = findRepoRoot()): string {
  const text = fs.readFileSync(path.join(exampleDir(name, repoRoot), "Pulumi.yaml"), "utf8");
  const match = /^name:\s*(\S+)\s*$/m.exec(text);
  if (!match?.[1]) throw new Error(`examples/${name}/Pulumi.yaml has no "name:" line.`);
  return match[1];
}

/** The compiled program of an example. @throws when it was not compiled (`npm run build`). */
export function exampleModule(name: string, repoRoot: string = findRepoRoot()): string {
  const file = path.join(repoRoot, "dist", "examples", name, "index.js");
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} does not exist: run \`npm run build\` (examples/${name}/index.ts did not compile).`,
    );
  }
  return file;
}

/**
 * An inline program that runs a compiled Pulumi program module as the Node language host would:
 * its exports become the stack outputs. The program's own modules are evaluated afresh on every
 * run (preview, up, refresh and destroy run in the same process; a module served from the require
 * cache would register no resources).
 */
export function programFromModule(file: string): PulumiFn {
  const programDir = `${path.dirname(file)}${path.sep}`;
  return async () => {
    for (const cached of Object.keys(require.cache)) {
      if (cached.startsWith(programDir)) delete require.cache[cached];
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(file) as Record<string, unknown>;
    const exported: unknown = typeof loaded.default === "function" ? loaded.default : loaded;
    const result: unknown =
      typeof exported === "function" ? await (exported as () => unknown)() : exported;
    return { ...(result as Record<string, unknown> | undefined) };
  };
}
