/**
 * What every `pulumi-dualwrite` subcommand is: a name, a one-line summary, its usage text, and a
 * `run` that takes its own arguments and returns the exit code. `main.ts` dispatches on the
 * name only, so a new command (export, compare) is one more entry in its list.
 *
 * Exit codes, the same for every command: 0 success, 1 the command ran and found a failure,
 * 2 bad arguments (a `UsageError`).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a command reads its environment and writes its output; tests pass their own. */
export interface CommandIo {
  /** Standard output: results (human text, or JSON with `--json`). */
  readonly stdout: (text: string) => void;
  /** Standard error: usage errors and unexpected failures. */
  readonly stderr: (text: string) => void;
  /** The environment variables the command reads (`AZURE_*`, `DUALWRITE_*`). */
  readonly env: NodeJS.ProcessEnv;
}

/** One subcommand. */
export interface Command {
  /** The word after `pulumi-dualwrite`, e.g. `doctor`. */
  readonly name: string;
  /** One line for the command list of `--help`. */
  readonly summary: string;
  /** The command's full help text (printed by `<command> --help` and after a usage error). */
  readonly usage: string;
  /**
   * Runs the command with its own arguments (after the command name).
   * @returns the exit code (see `ExitCode`)
   * @throws UsageError for bad arguments (exit code 2, with the usage text)
   */
  run(argv: readonly string[], io: CommandIo): Promise<number>;
}

/** The exit codes every command uses. */
export const ExitCode = {
  /** The command ran and found nothing wrong. */
  Ok: 0,
  /** The command ran and found a failure (e.g. a doctor step that FAILs). */
  Failed: 1,
  /** Bad arguments. */
  Usage: 2,
} as const;

/**
 * `node:util` `parseArgs` for a command's flags (strict, no positionals), its own errors turned
 * into a `UsageError` so that every command answers bad flags the same way (exit code 2).
 */
export function parseFlags<T extends ParseArgsConfig["options"]>(
  argv: readonly string[],
  options: T,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: false }>
>["values"] {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** Bad command-line input: the message says what is wrong; the usage text follows it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
