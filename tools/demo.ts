/**
 * `npm start`: the demo. It starts the local emulator seeded for a realistic scenario
 * (existing-existing: both environments in use), runs the root Pulumi program (Pulumi.yaml →
 * examples/existing-existing) with the real Pulumi CLI, prints what dual-write now looks like on
 * both sides, shows that a second preview has nothing to do, destroys the stack (business rows
 * stay), and says how to run the other examples. It ends by itself and leaves nothing running:
 * the emulator is closed and the stack's state lives in a temporary backend that is deleted.
 *
 * Usage (tools/setup.js runs it with the toolchain on PATH):
 *   npm start                            the demo (existing-existing)
 *   npm start -- --example <scenario>    the same run with examples/<scenario>
 */
import * as path from "node:path";
import { startEmulator, type RunningEmulator } from "../emulator/index";
import { EngineStack } from "../test/support/engine";
import { formatPairReport, readPairReport, type PairReport } from "./emulatorReport";
import {
  SCENARIO_EXAMPLES,
  emulatorProcessEnv,
  engineSpeedEnv,
  emulatorProviderConfig,
  exampleModule,
  exampleProjectName,
  isScenarioExample,
  programFromModule,
  scenarioExampleConfig,
  type ScenarioExample,
} from "./examples";
import { findRepoRoot } from "./toolchain";

/** The demo gives up (and still cleans up) after this long: it must never hang a terminal or CI. */
const DEADLINE_MS = 170_000;

/** The environment pair's name in emulator URLs. */
const PAIR = "contoso";

/** What to run. */
interface DemoChoice {
  /** The scenario, which is also the emulator seed. */
  readonly scenario: ScenarioExample;
  /** Pulumi project name (the root Pulumi.yaml's for the demo, the example's otherwise). */
  readonly projectName: string;
  /** The compiled program. */
  readonly programFile: string;
  /** How the run is introduced. */
  readonly title: string;
}

function parseArguments(argv: readonly string[], repoRoot: string): DemoChoice {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage());
    process.exit(0);
  }
  const at = argv.indexOf("--example");
  if (at === -1) {
    if (argv.length > 0) throw new Error(`Unknown arguments: ${argv.join(" ")}.\n${usage()}`);
    return {
      scenario: "existing-existing",
      projectName: "dualwrite-demo",
      programFile: exampleModule("existing-existing", repoRoot),
      title:
        "pulumi-dualwrite demo: Finance and Operations and Dataverse, both in use (existing-existing)",
    };
  }
  const name = argv[at + 1] ?? "";
  if (!isScenarioExample(name)) {
    throw new Error(`--example needs one of ${SCENARIO_EXAMPLES.join(", ")} (got "${name}").`);
  }
  return {
    scenario: name,
    projectName: exampleProjectName(name, repoRoot),
    programFile: exampleModule(name, repoRoot),
    title: `pulumi-dualwrite: examples/${name} against the local emulator`,
  };
}

function usage(): string {
  return [
    "Usage: npm start [-- --example <scenario>]",
    `  scenarios: ${SCENARIO_EXAMPLES.join(", ")}`,
    "",
  ].join("\n");
}

function heading(text: string): void {
  process.stdout.write(`\n=== ${text}\n\n`);
}

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Prefixes the CLI's lines so the reader can tell them from the demo's own. */
function cliSink(): (text: string) => void {
  let pending = "";
  return (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) process.stdout.write(`  | ${line}\n`);
  };
}

async function run(choice: DemoChoice, repoRoot: string, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  say(choice.title);

  heading("Starting the emulator");
  // A fast emulated clock: map transitions and initial-sync jobs take emulated time.
  const emulator: RunningEmulator = await startEmulator({
    seed: [{ scenario: choice.scenario, name: PAIR, size: 60 }],
    clock: { speed: 20 },
    log: (line) => say(`  [emulator] ${line}`),
  });
  let stack: EngineStack | undefined;
  try {
    const pair = emulator.environments.find((e) => e.name === PAIR);
    if (!pair) throw new Error(`The emulator did not seed the pair "${PAIR}".`);
    say(`Emulator at ${emulator.url}, seeded with scenario "${choice.scenario}":`);
    say(`  Finance and Operations  ${pair.financeOperationsUrl}`);
    say(`  Dataverse               ${pair.dataverseUrl}`);
    say(`  DualWriteManagement     ${emulator.gatewayUrl}`);
    say(`  Entra ID                ${emulator.url} (tenant ${emulator.credentials.tenantId})`);
    say(
      `The gateway signs in as ${emulator.dualWriteAdmin.username} (delegated, password grant); ` +
        `Dataverse and F&O as the app ${emulator.credentials.clientId}.`,
    );
    const before = await readPairReport(emulator.control, PAIR);
    say(describeSeed(before));

    const provider = emulatorProviderConfig(emulator);
    stack = await EngineStack.create({
      projectName: choice.projectName,
      stackName: "demo",
      program: programFromModule(choice.programFile),
      programDir: repoRoot,
      config: { ...scenarioExampleConfig(choice.scenario, pair), ...provider.config },
      secrets: provider.secrets,
      // Every map starts when its prerequisites run, and a preview's diffs run side by side.
      env: { ...emulatorProcessEnv(emulator), ...engineSpeedEnv() },
      output: false,
    });
    // The Automation API stack directly, so that the deadline can interrupt the CLI (SIGINT).
    const ops = { onOutput: cliSink(), color: "never" as const, signal };

    heading("pulumi up");
    const up = await stack.stack.up(ops);
    say(`\npulumi up: ${up.summary.result}, ${describeChanges(up.summary.resourceChanges)}`);

    heading("What dual-write looks like now");
    const after = await readPairReport(emulator.control, PAIR);
    say(formatPairReport(after));

    heading("pulumi preview again: nothing to do");
    const preview = await stack.stack.preview({ ...ops, expectNoChanges: true });
    say(
      `\npulumi preview: ${describeChanges(preview.changeSummary)} (no changes expected, none found)`,
    );

    heading("pulumi destroy: stops the maps and resets the link; business rows stay");
    await stack.stack.destroy(ops);
    const destroyed = await readPairReport(emulator.control, PAIR);
    say(describeAfterDestroy(after, destroyed));

    heading("Next");
    say(nextSteps(Date.now() - started));
  } finally {
    // Remove the stack and its temporary backend, then close the emulator: nothing stays behind.
    try {
      await stack?.dispose();
    } finally {
      await emulator.close();
    }
  }
}

function describeSeed(report: PairReport): string {
  const fnoCustomers = report.rows.reduce(
    (n, r) => n + r.fnoAccounts.length + r.fnoContacts.length,
    0,
  );
  const companiesWithData = report.rows
    .filter((r) => r.fnoAccounts.length + r.fnoContacts.length > 0)
    .map((r) => r.company);
  const dataverseRows = Object.values(report.unstamped).reduce(
    (n, perUnit) => n + Object.values(perUnit).reduce((a, b) => a + b, 0),
    0,
  );
  return [
    `  F&O: ${fnoCustomers} customers${companiesWithData.length > 0 ? ` in ${companiesWithData.join(", ")}` : ""}`,
    `  Dataverse: ${dataverseRows} accounts, contacts and customer groups without a company; not linked yet`,
  ].join("\n");
}

function describeChanges(changes: Readonly<Record<string, number>> | undefined): string {
  const entries = Object.entries(changes ?? {}).filter(([, n]) => n > 0);
  return entries.length === 0 ? "no resources" : entries.map(([op, n]) => `${n} ${op}`).join(", ");
}

function describeAfterDestroy(before: PairReport, after: PairReport): string {
  const count = (r: PairReport): number =>
    r.rows.reduce(
      (n, x) =>
        n +
        x.dataverseAccounts.length +
        x.dataverseContacts.length +
        x.fnoAccounts.length +
        x.fnoContacts.length,
      0,
    );
  return [
    after.link
      ? `The link is still there (legal entities ${after.link.legalEntities.join(", ")}).`
      : "The link is reset: the environments are no longer linked.",
    `Customer rows on both sides: ${count(before)} before destroy, ${count(after)} after.`,
  ].join("\n");
}

function nextSteps(elapsedMs: number): string {
  return [
    `Done in ${Math.round(elapsedMs / 1000)} s. The emulator is closed and the demo stack is removed.`,
    "",
    "Run another scenario the same way:",
    ...SCENARIO_EXAMPLES.map((s) => `  npm start -- --example ${s}`),
    "",
    "Read about each scenario in docs/scenarios.md and examples/<scenario>/README.md;",
    "use the provider against real environments with docs/getting-started.md.",
    "Run every test (unit, emulator, provider, end to end with the real CLI): npm test",
  ].join("\n");
}

async function main(): Promise<void> {
  const repoRoot = findRepoRoot();
  const choice = parseArguments(process.argv.slice(2), repoRoot);
  // Past the deadline the running Pulumi command is interrupted; run() then cleans up as usual.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), DEADLINE_MS);
  try {
    await run(choice, repoRoot, deadline.signal);
  } catch (error: unknown) {
    if (deadline.signal.aborted) {
      throw new Error(`The demo did not finish within ${DEADLINE_MS / 1000} s and was stopped.`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`\nThe demo failed: ${message}\n`);
    process.stderr.write(
      `(Run it again with ${path.join("dist", "tools", "demo.js")} after \`npm run build\` to retry without set-up.)\n`,
    );
    process.exit(1);
  },
);
