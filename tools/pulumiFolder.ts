/**
 * `npm run pulumi -- preview|up|refresh|destroy [flags]`, run from a folder with a Pulumi.yaml
 * (any example folder). There is no Node language host in the toolchain (the Go module proxy does
 * not serve it, docs/adr/0001-pulumi-cli-from-go-module-proxy.md), so the folder's program cannot
 * be started by the CLI itself. Instead this runner loads the folder's *compiled* program
 * (examples/x/index.ts → dist/examples/x/index.js) as an Automation API inline program and lets
 * the same CLI run it, streaming the CLI's output. Stack files (Pulumi.<stack>.yaml) and the
 * selected stack are the folder's own, exactly as with the plain CLI.
 *
 * Usage (tools/setup.js calls it): node dist/tools/pulumiFolder.js <folder> <command> [flags]
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline/promises";
import { CommandError, LocalWorkspace, Stack, type PulumiFn } from "@pulumi/pulumi/automation";
import { loadToolchain, pulumiCommand } from "./toolchain";

/** The lifecycle commands this runner handles, with the CLI's aliases. */
const COMMANDS: Readonly<Record<string, "preview" | "up" | "refresh" | "destroy">> = {
  preview: "preview",
  pre: "preview",
  up: "up",
  update: "up",
  refresh: "refresh",
  destroy: "destroy",
  down: "destroy",
  dn: "destroy",
};

/** The CLI flags the runner understands. */
interface Flags {
  stack?: string;
  yes: boolean;
  skipPreview: boolean;
  diff: boolean;
  refresh: boolean;
  expectNoChanges: boolean;
  previewOnly: boolean;
  remove: boolean;
  showSecrets: boolean;
  message?: string;
  parallel?: number;
  target: string[];
  replace: string[];
}

const SUPPORTED_FLAGS =
  "--stack/-s, --yes/-y, --skip-preview/-f, --diff, --refresh/-r, --expect-no-changes, --preview-only, " +
  "--remove, --show-secrets, --message/-m, --parallel/-p, --target/-t, --replace";

/** Parses the flags after the command; unknown flags are an error naming the supported ones. */
export function parseFlags(args: readonly string[]): Flags {
  const flags: Flags = {
    yes: false,
    skipPreview: false,
    diff: false,
    refresh: false,
    expectNoChanges: false,
    previewOnly: false,
    remove: false,
    showSecrets: false,
    target: [],
    replace: [],
  };
  for (let i = 0; i < args.length; i += 1) {
    const raw = args[i] ?? "";
    const [name = "", inlineValue] =
      raw.startsWith("--") && raw.includes("=") ? raw.split(/=(.*)/s, 2) : [raw];
    const value = (): string => {
      const next = inlineValue ?? args[++i];
      if (next === undefined) throw new Error(`${name} needs a value.`);
      return next;
    };
    switch (name) {
      case "--stack":
      case "-s":
        flags.stack = value();
        break;
      case "--yes":
      case "-y":
        flags.yes = true;
        break;
      case "--skip-preview":
      case "-f":
        flags.skipPreview = true;
        break;
      case "--diff":
        flags.diff = true;
        break;
      case "--refresh":
      case "-r":
        flags.refresh = true;
        break;
      case "--expect-no-changes":
        flags.expectNoChanges = true;
        break;
      case "--preview-only":
        flags.previewOnly = true;
        break;
      case "--remove":
        flags.remove = true;
        break;
      case "--show-secrets":
        flags.showSecrets = true;
        break;
      case "--message":
      case "-m":
        flags.message = value();
        break;
      case "--parallel":
      case "-p":
        flags.parallel = Number(value());
        if (!Number.isInteger(flags.parallel) || flags.parallel < 1) {
          throw new Error("--parallel needs a positive whole number.");
        }
        break;
      case "--target":
      case "-t":
        flags.target.push(value());
        break;
      case "--replace":
        flags.replace.push(value());
        break;
      case "--non-interactive":
      case "--color":
        if (name === "--color" && inlineValue === undefined) i += 1;
        break;
      default:
        throw new Error(
          `${raw} is not supported by \`npm run pulumi\` for program commands. Supported: ${SUPPORTED_FLAGS}.`,
        );
    }
  }
  return flags;
}

/** The folder holding Pulumi.yaml: `start` or its nearest parent with one. */
export function findProjectDir(start: string): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml")) || fs.existsSync(path.join(dir, "Pulumi.yml")))
      return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(
        `No Pulumi.yaml in ${start} or above it: run this from a Pulumi project folder (e.g. examples/new-new).`,
      );
    }
  }
}

/**
 * The compiled JavaScript of a project's program. `main` may point at the compiled folder
 * (`../../dist/examples/x/`), at a TypeScript file, or be absent (then `index.ts` of the folder);
 * TypeScript sources map to their tsc output under dist/.
 */
export function compiledMain(
  projectDir: string,
  main: string | undefined,
  repoRoot: string,
): string {
  let target = path.resolve(projectDir, main ?? ".");
  const isDirectory = fs.existsSync(target) && fs.statSync(target).isDirectory();
  if (isDirectory || main === undefined) target = path.join(target, "index.ts");
  const dist = path.join(repoRoot, "dist");
  if (!target.startsWith(`${dist}${path.sep}`)) {
    const relative = path.relative(repoRoot, target);
    if (relative.startsWith("..")) {
      throw new Error(
        `${projectDir} is outside the repository; only programs compiled by its tsconfig can run here.`,
      );
    }
    target = path.join(dist, relative);
  }
  const compiled = target.replace(/\.(ts|js)$/, "") + ".js";
  if (!fs.existsSync(compiled)) {
    throw new Error(
      `${compiled} does not exist: the program did not compile (see the tsc output above).`,
    );
  }
  return compiled;
}

/**
 * An inline program that runs a compiled Pulumi program module, as the Node language host would.
 * The program's own modules are evaluated afresh on every run: `up` after its preview runs in the
 * same process, and a module served from the require cache would register no resources.
 */
export function programFromModule(file: string): PulumiFn {
  const programDir = `${path.dirname(file)}${path.sep}`;
  return async () => {
    for (const cached of Object.keys(require.cache)) {
      if (cached.startsWith(programDir)) delete require.cache[cached];
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const loaded = require(file) as Record<string, unknown>;
    const exported =
      Object.keys(loaded).length === 1 && "default" in loaded ? loaded.default : loaded;
    const result: unknown =
      typeof exported === "function" ? await (exported as () => unknown)() : exported;
    return (result ?? {}) as Record<string, unknown>;
  };
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new Error("Not applied: add --yes to apply without being asked (no terminal to ask on).");
  }
  const prompt = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(`${question} [yes/no] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

async function runCommand(
  stack: Stack,
  command: "preview" | "up" | "refresh" | "destroy",
  flags: Flags,
): Promise<void> {
  const io = {
    onOutput: (text: string) => void process.stdout.write(text),
    onError: (text: string) => void process.stderr.write(text),
    color: process.stdout.isTTY ? ("always" as const) : ("never" as const),
  };
  const shared = { ...io, message: flags.message, parallel: flags.parallel, target: flags.target };
  const update = {
    ...shared,
    diff: flags.diff,
    refresh: flags.refresh,
    expectNoChanges: flags.expectNoChanges,
    replace: flags.replace,
  };
  // The CLI previews and asks before changing anything; so does this runner, unless --yes.
  const mustAsk = command !== "preview" && !flags.yes && !flags.previewOnly;
  const previewFirst =
    command !== "preview" && !flags.previewOnly && !(flags.yes && flags.skipPreview);
  switch (command) {
    case "preview":
      await stack.preview(update);
      return;
    case "up":
      if (previewFirst) await stack.preview(update);
      if (mustAsk && !(await confirm("Do you want to perform this update?"))) return;
      await stack.up({ ...update, showSecrets: flags.showSecrets });
      return;
    case "refresh": {
      const refresh = {
        ...shared,
        expectNoChanges: flags.expectNoChanges,
        showSecrets: flags.showSecrets,
      };
      if (previewFirst || flags.previewOnly) await stack.refresh({ ...refresh, previewOnly: true });
      if (
        flags.previewOnly ||
        (mustAsk && !(await confirm("Do you want to perform this refresh?")))
      )
        return;
      await stack.refresh(refresh);
      return;
    }
    case "destroy": {
      const destroy = {
        ...shared,
        refresh: flags.refresh,
        diff: flags.diff,
        showSecrets: flags.showSecrets,
      };
      if (previewFirst || flags.previewOnly) await stack.destroy({ ...destroy, previewOnly: true });
      if (
        flags.previewOnly ||
        (mustAsk && !(await confirm("Do you want to perform this destroy?")))
      )
        return;
      await stack.destroy({ ...destroy, remove: flags.remove });
      return;
    }
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [folder = process.cwd(), commandName = "", ...rest] = argv;
  const command = COMMANDS[commandName];
  if (!command)
    throw new Error(
      `Unknown program command "${commandName}"; use preview, up, refresh or destroy.`,
    );
  const flags = parseFlags(rest);
  const toolchain = loadToolchain();
  const projectDir = findProjectDir(folder);

  const workspace = await LocalWorkspace.create({
    workDir: projectDir,
    pulumiCommand: await pulumiCommand(toolchain),
    envVars: { ...toolchain.env },
  });
  const settings = await workspace.projectSettings();
  workspace.program = programFromModule(
    compiledMain(projectDir, settings.main, toolchain.repoRoot),
  );

  const stackName = flags.stack ?? (await workspace.stack())?.name;
  if (!stackName) {
    throw new Error(
      "No stack selected: run `npm run pulumi -- stack init <name>` (or `stack select <name>`), or pass --stack <name>.",
    );
  }
  const stack = await Stack.select(stackName, workspace);
  await runCommand(stack, command, flags);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // The CLI's own messages were already streamed; add only what is not the CLI's.
    if (error instanceof CommandError) {
      process.stderr.write("\nThe Pulumi command failed (output above).\n");
    } else {
      process.stderr.write(`\n${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  },
);
