/**
 * The driver of the package test (`test/e2e/package.test.ts`): one `pulumi preview`, `up` or
 * `destroy` of the program beside it, through the real Pulumi CLI, as an Automation API inline
 * program (there is no Node language host in the toolchain: docs/adr/0001).
 *
 * The test copies the compiled driver into a project outside the repository, so everything it
 * loads — `@pulumi/pulumi/automation`, the program, and through it `pulumi-dualwrite` — resolves
 * from that project's `node_modules`, never from the repository. It imports nothing but Node and
 * the SDK for that reason. The project's folder is the Pulumi work directory, so the CLI starts
 * the dynamic-provider process there, as it does for a program run with `pulumi up`.
 *
 * Usage: `node driver.js <preview|up|destroy> <settings.json> [--expect-no-changes]`. The CLI's
 * output goes to standard error as it comes; the last line of standard output is the JSON
 * {@link DriverResult}. Exit code 1 when the operation failed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  LocalWorkspace,
  PulumiCommand,
  type ConfigMap,
  type OpMap,
  type OutputMap,
} from "@pulumi/pulumi/automation";

/** What the test hands the driver (a JSON file, so that no secret is on a command line). */
export interface DriverSettings {
  readonly projectName: string;
  readonly stackName: string;
  /** `file://` URL of the state backend. */
  readonly backendUrl: string;
  /** The folder whose `bin/pulumi` is the CLI (the toolchain's `.toolchain`). */
  readonly cliRoot: string;
  /** Plain stack config, full keys (`dualwrite:tenantId`, `app:dataverseUrl`). */
  readonly config: Readonly<Record<string, string>>;
  /** Secret stack config, stored encrypted. */
  readonly secrets: Readonly<Record<string, string>>;
}

/** What the driver prints as its last line. */
export interface DriverResult {
  /** preview: what would happen, per operation. */
  readonly changeSummary?: OpMap;
  /** up and destroy: what happened, per operation. */
  readonly resourceChanges?: OpMap;
  /** up: the stack outputs (values only). */
  readonly outputs?: Record<string, unknown>;
  /** The version of `@pulumi/pulumi` the project installed (the one this driver ran). */
  readonly sdkVersion: string;
}

const COMMANDS = ["preview", "up", "destroy"] as const;
type Command = (typeof COMMANDS)[number];

function isCommand(value: string | undefined): value is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(value);
}

async function run(
  command: Command,
  settings: DriverSettings,
  expectNoChanges: boolean,
): Promise<DriverResult> {
  const projectDir = __dirname;
  const stack = await LocalWorkspace.createOrSelectStack(
    {
      projectName: settings.projectName,
      stackName: settings.stackName,
      // The program module, evaluated when the CLI asks for it: its exports are the outputs.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      program: () => Promise.resolve({ ...(require(join(projectDir, "index.js")) as object) }),
    },
    {
      workDir: projectDir,
      projectSettings: {
        name: settings.projectName,
        runtime: "nodejs",
        backend: { url: settings.backendUrl },
      },
      pulumiCommand: await PulumiCommand.get({ root: settings.cliRoot }),
    },
  );
  const config: ConfigMap = {};
  for (const [key, value] of Object.entries(settings.config)) config[key] = { value };
  for (const [key, value] of Object.entries(settings.secrets))
    config[key] = { value, secret: true };
  await stack.setAllConfig(config);

  const onOutput = (text: string): void => void process.stderr.write(text);
  const sdkVersion = (
    JSON.parse(
      readFileSync(require.resolve("@pulumi/pulumi/package.json", { paths: [projectDir] }), "utf8"),
    ) as { version: string }
  ).version;
  switch (command) {
    case "preview": {
      const result = await stack.preview({ onOutput, color: "never", expectNoChanges });
      return { changeSummary: result.changeSummary, sdkVersion };
    }
    case "up": {
      const result = await stack.up({ onOutput, color: "never" });
      return {
        resourceChanges: result.summary.resourceChanges ?? {},
        outputs: plainOutputs(result.outputs),
        sdkVersion,
      };
    }
    case "destroy": {
      const result = await stack.destroy({ onOutput, color: "never" });
      return { resourceChanges: result.summary.resourceChanges ?? {}, sdkVersion };
    }
  }
}

function plainOutputs(outputs: OutputMap): Record<string, unknown> {
  return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, settingsFile, ...flags] = argv;
  if (!isCommand(command) || settingsFile === undefined) {
    process.stderr.write(
      "usage: node driver.js <preview|up|destroy> <settings.json> [--expect-no-changes]\n",
    );
    return 2;
  }
  const settings = JSON.parse(readFileSync(settingsFile, "utf8")) as DriverSettings;
  const result = await run(command, settings, flags.includes("--expect-no-changes"));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`driver: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
