/**
 * `pulumi-dualwrite`: commands for people (not for Pulumi), e.g. `npx pulumi-dualwrite doctor`.
 *
 * `pulumi-dualwrite <command> [options]` runs one command of `COMMANDS`; `--help` (alone or
 * after a command) prints help. Exit codes: 0 success, 1 the command found a failure (for
 * `compare`: a difference), 2 bad arguments (for `compare`: also a side it could not read; see
 * `ExitCode`). The shim `bin/pulumi-dualwrite.js` calls `main`.
 */
import { scrub } from "../provider/errors";
import { ExitCode, UsageError, type Command, type CommandIo } from "./command";
import { compareCommand } from "./compare";
import { doctorCommand } from "./doctor";
import { exportCommand } from "./export";

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [doctorCommand, exportCommand, compareCommand];

/** The top-level help: the commands and how to get each one's help. */
export function usage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "Usage: pulumi-dualwrite <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Run `pulumi-dualwrite <command> --help` for a command's options.",
  ].join("\n");
}

/** The process's own streams and environment. */
export function processIo(): CommandIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
  };
}

/**
 * Runs the CLI with `argv` (without `node` and the script).
 * @returns the exit code
 */
export async function main(
  argv: readonly string[],
  io: CommandIo = processIo(),
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(`${usage(commands)}\n`);
    return ExitCode.Usage;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const topic = name === "help" ? rest[0] : undefined;
    const command = topic === undefined ? undefined : commands.find((c) => c.name === topic);
    io.stdout(`${command ? command.usage : usage(commands)}\n`);
    return ExitCode.Ok;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr(`pulumi-dualwrite: unknown command '${name}'.\n\n${usage(commands)}\n`);
    return ExitCode.Usage;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`pulumi-dualwrite ${command.name}: ${error.message}\n\n${command.usage}\n`);
      return ExitCode.Usage;
    }
    // A command reports what it checks itself; anything else is a bug or an unforeseen failure.
    // Its message is scrubbed like every provider error: no token may reach a terminal.
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`pulumi-dualwrite ${command.name}: ${scrub(message)}\n`);
    return ExitCode.Failed;
  }
}
