/**
 * Runs `pulumi up` of an example program on an existing stack, in a process of its own, so that a
 * test can kill it (and the CLI and plugins it started) half-way through, as a crash or a closed
 * laptop would. Started by `test/e2e/resilience.test.ts`; not a test itself.
 *
 * Inline programs need a language server in the process that runs them (there is no Node language
 * host in the toolchain), so the child is this Node process, not the bare CLI.
 *
 * @example
 * spawn(process.execPath, [__dirname + "/upInChild.js", JSON.stringify(spec)], { detached: true });
 */
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { exampleModule, programFromModule } from "../../tools/examples";
import { loadToolchain, pulumiCommand } from "../../tools/toolchain";

/** What the parent passes as the one argument, in JSON. */
export interface UpInChildSpec {
  /** The stack's project folder (holds Pulumi.yaml and Pulumi.<stack>.yaml). */
  readonly workDir: string;
  readonly projectName: string;
  readonly stackName: string;
  /** Directory of the `file://` backend that holds the stack. */
  readonly backendDir: string;
  /** The example whose compiled program runs (examples/<name>), unless `module` is given. */
  readonly example?: string;
  /** A compiled program module to run instead of an example (its default export is the program). */
  readonly module?: string;
  /** Extra environment for the CLI and the dynamic-provider process. */
  readonly env: Readonly<Record<string, string>>;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "") as UpInChildSpec;
  const toolchain = loadToolchain();
  const backendUrl = `file://${spec.backendDir}`;
  const stack = await LocalWorkspace.selectStack(
    {
      projectName: spec.projectName,
      stackName: spec.stackName,
      program: programFromModule(spec.module ?? exampleModule(spec.example ?? "")),
    },
    {
      workDir: spec.workDir,
      pulumiCommand: await pulumiCommand(toolchain),
      envVars: { ...toolchain.env, PULUMI_BACKEND_URL: backendUrl, ...spec.env },
    },
  );
  const result = await stack.up({
    color: "never",
    onOutput: (text) => process.stdout.write(text),
  });
  process.stdout.write(`\nup ${result.summary.result}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
