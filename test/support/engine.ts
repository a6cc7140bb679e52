/**
 * The end-to-end test harness: a Pulumi stack driven by the **real** Pulumi CLI (the toolchain's
 * `.toolchain/bin/pulumi`) through the Automation API, with an inline program.
 *
 * Inline programs need no Node language host (which the Go module proxy does not serve, see
 * docs/adr/0001-pulumi-cli-from-go-module-proxy.md): the CLI talks back to a language server in
 * this process. Each stack gets its own temporary `file://` backend and project folder, so tests do
 * not share state with each other or with a person's `.pulumi-state/`.
 *
 * @example
 * const stack = await EngineStack.create({ projectName: "scenario", program: async () => { ... } });
 * try {
 *   await stack.up();
 *   await stack.preview({ expectNoChanges: true });
 * } finally {
 *   await stack.dispose();
 * }
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import {
  LocalWorkspace,
  type ConfigMap,
  type DestroyResult,
  type OutputMap,
  type PreviewResult,
  type PulumiCommand,
  type PulumiFn,
  type RefreshResult,
  type Stack,
  type UpResult,
} from "@pulumi/pulumi/automation";
import { loadToolchain, pulumiCommand } from "../../tools/toolchain";

/** Receives the CLI's text output as it is produced. */
export type OutputSink = (text: string) => void;

/** How to create an {@link EngineStack}. */
export interface EngineStackOptions {
  /** Pulumi project name; config keys without a namespace belong to it. */
  readonly projectName: string;
  /**
   * Stack name.
   * @default `test-<random hex>`
   */
  readonly stackName?: string;
  /** The inline program: registers resources and returns the stack outputs. */
  readonly program: PulumiFn;
  /**
   * Directory the program "lives" in: the dynamic-provider process runs there, so `@pulumi/pulumi`
   * and `pulumi-dualwrite` must resolve from it (a temporary directory would not do).
   * @default the repository root
   */
  readonly programDir?: string;
  /** Plain config values, keys with or without the `project:` namespace. */
  readonly config?: Readonly<Record<string, string>>;
  /** Secret config values: stored encrypted with the local passphrase. */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * Where the CLI's output goes, or `false` to drop it.
   * @default the test's stdout, indented so it reads as part of the test
   */
  readonly output?: OutputSink | false;
  /** Extra environment variables for the CLI and the dynamic-provider process. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Directory of the `file://` backend, e.g. to share state between two stacks.
   * @default a new temporary directory, deleted by {@link EngineStack.dispose}
   */
  readonly backendDir?: string;
}

/** Options of one preview, up, refresh or destroy. */
export interface EngineRunOptions {
  /** Fail (the CLI exits non-zero) when the operation would change anything. */
  readonly expectNoChanges?: boolean;
  /** Refresh the state from the providers before a preview or up. */
  readonly refresh?: boolean;
  /** Show the detailed diff in the output. */
  readonly diff?: boolean;
  /** Run this program instead of the stack's current one (not for refresh). */
  readonly program?: PulumiFn;
}

/** Indents every line of the CLI's output, buffering partial lines between chunks. */
export function indentedSink(write: (text: string) => void, prefix = "      | "): OutputSink {
  let pending = "";
  return (text) => {
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    if (lines.length > 0) write(lines.map((line) => `${prefix}${line}\n`).join(""));
  };
}

let sharedCommand: Promise<PulumiCommand> | undefined;

/** The toolchain's CLI, probed once per test process (`pulumi version`). */
export function enginePulumiCommand(): Promise<PulumiCommand> {
  sharedCommand ??= pulumiCommand();
  return sharedCommand;
}

/** The Pulumi CLI version the harness runs, e.g. `3.274.1`. */
export async function engineCliVersion(): Promise<string> {
  const command = await enginePulumiCommand();
  return command.version?.toString() ?? loadToolchain().pulumiVersion;
}

/**
 * One stack on the real Pulumi engine. Create it with {@link EngineStack.create}; always
 * {@link EngineStack.dispose} it (in `after`/`finally`).
 */
export class EngineStack {
  private disposed = false;
  private removed = false;

  private constructor(
    /** The Automation API stack, for anything the harness does not wrap. */
    readonly stack: Stack,
    /** Temporary directory holding the project (Pulumi.yaml, Pulumi.<stack>.yaml) and, by default, the state. */
    readonly scratchDir: string,
    /** Directory of the `file://` backend. */
    readonly backendDir: string,
    private readonly output: OutputSink | undefined,
  ) {}

  /**
   * Creates (or selects, when it exists in a shared backend) the stack and sets its config.
   */
  static async create(options: EngineStackOptions): Promise<EngineStack> {
    const toolchain = loadToolchain();
    const scratchDir = await fs.promises.mkdtemp(
      path.join(os.tmpdir(), "pulumi-dualwrite-engine-"),
    );
    const workDir = path.join(scratchDir, "project");
    const backendDir = options.backendDir ?? path.join(scratchDir, "state");
    await fs.promises.mkdir(workDir, { recursive: true });
    await fs.promises.mkdir(backendDir, { recursive: true });
    const backendUrl = `file://${backendDir}`;

    const stack = await LocalWorkspace.createOrSelectStack(
      {
        projectName: options.projectName,
        stackName: options.stackName ?? `test-${randomBytes(4).toString("hex")}`,
        program: options.program,
      },
      {
        // Pulumi.yaml and the stack files go to a scratch folder, never into the repository; `main`
        // points the engine (and so the dynamic-provider process) at a folder with node_modules.
        workDir,
        projectSettings: {
          name: options.projectName,
          runtime: "nodejs",
          main: options.programDir ?? toolchain.repoRoot,
          backend: { url: backendUrl },
        },
        pulumiCommand: await enginePulumiCommand(),
        envVars: { ...toolchain.env, PULUMI_BACKEND_URL: backendUrl, ...options.env },
      },
    );

    const output =
      options.output === false
        ? undefined
        : (options.output ?? indentedSink((text) => process.stdout.write(text)));
    const engineStack = new EngineStack(stack, scratchDir, backendDir, output);
    await engineStack.setConfig(options.config ?? {});
    await engineStack.setConfig(options.secrets ?? {}, { secret: true });
    return engineStack;
  }

  /** The stack's name. */
  get name(): string {
    return this.stack.name;
  }

  /** Sets config values (plain, or encrypted with `secret: true`). */
  async setConfig(
    values: Readonly<Record<string, string>>,
    options: { secret?: boolean } = {},
  ): Promise<void> {
    const entries = Object.entries(values);
    if (entries.length === 0) return;
    const config: ConfigMap = {};
    for (const [key, value] of entries) config[key] = { value, secret: options.secret ?? false };
    await this.stack.setAllConfig(config);
  }

  /** Replaces the program used by the next operations (a changed declaration between two `up`s). */
  setProgram(program: PulumiFn): void {
    this.stack.workspace.program = program;
  }

  /** `pulumi preview`; with `expectNoChanges` it rejects if anything would change. */
  async preview(options: EngineRunOptions = {}): Promise<PreviewResult> {
    return this.stack.preview({ ...this.common(options), ...programOf(options) });
  }

  /** `pulumi up`. */
  async up(options: EngineRunOptions = {}): Promise<UpResult> {
    return this.stack.up({ ...this.common(options), ...programOf(options) });
  }

  /** `pulumi refresh`: reads every resource back through its provider. */
  async refresh(
    options: Omit<EngineRunOptions, "program" | "refresh"> = {},
  ): Promise<RefreshResult> {
    return this.stack.refresh({
      onOutput: this.output,
      expectNoChanges: options.expectNoChanges,
      color: "never",
    });
  }

  /** `pulumi destroy`. */
  async destroy(
    options: Omit<EngineRunOptions, "program" | "expectNoChanges"> = {},
  ): Promise<DestroyResult> {
    return this.stack.destroy({
      onOutput: this.output,
      refresh: options.refresh,
      diff: options.diff,
      color: "never",
    });
  }

  /** The stack outputs after the last update (secret ones flagged `secret: true`). */
  async outputs(): Promise<OutputMap> {
    return this.stack.outputs();
  }

  /**
   * The stack's checkpoint exactly as the backend stores it (secrets encrypted), as JSON text: use it
   * to assert that no secret is stored in plain text. (`Stack.exportStack` would decrypt secrets.)
   */
  async stateText(): Promise<string> {
    const project = (await this.stack.workspace.projectSettings()).name;
    const checkpoint = path.join(
      this.backendDir,
      ".pulumi",
      "stacks",
      project,
      `${this.name}.json`,
    );
    if (fs.existsSync(checkpoint)) return fs.promises.readFile(checkpoint, "utf8");
    const compressed = `${checkpoint}.gz`;
    return gunzipSync(await fs.promises.readFile(compressed)).toString("utf8");
  }

  /** `pulumi stack rm`: removes the (empty) stack from the backend. */
  async remove(): Promise<void> {
    await this.stack.workspace.removeStack(this.stack.name);
    this.removed = true;
  }

  /**
   * Removes the stack from the backend while it still holds resources, leaving them as they are
   * (`pulumi stack rm --force`): for a benchmark that throws its environments away with the stack,
   * where a destroy would only add time. {@link dispose} then only deletes the scratch folder.
   */
  async abandon(): Promise<void> {
    await this.stack.workspace.removeStack(this.stack.name, { force: true });
    this.removed = true;
  }

  /** Names of the stacks of this project in the backend. */
  async stackNames(): Promise<string[]> {
    return (await this.stack.workspace.listStacks()).map((summary) => summary.name);
  }

  /**
   * Destroys whatever the stack still holds, removes the stack and deletes the scratch folder (with
   * the backend, unless the caller supplied one). Safe to call twice. A failing destroy is reported
   * after the clean-up so that it is not hidden.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    let failure: Error | undefined;
    try {
      if (!this.removed) {
        const deployment = (await this.stack.exportStack()).deployment as
          { resources?: unknown[] } | undefined;
        if ((deployment?.resources?.length ?? 0) > 0) await this.destroy();
        await this.remove();
      }
    } catch (error: unknown) {
      failure =
        error instanceof Error
          ? error
          : new Error(`Cleaning up stack ${this.name} failed`, { cause: error });
    }
    // The scratch folder holds the project and, unless the caller supplied a backend, the state.
    await fs.promises.rm(this.scratchDir, { recursive: true, force: true });
    if (failure !== undefined) throw failure;
  }

  private common(options: EngineRunOptions): {
    onOutput: OutputSink | undefined;
    expectNoChanges: boolean | undefined;
    refresh: boolean | undefined;
    diff: boolean | undefined;
    color: "never";
  } {
    return {
      onOutput: this.output,
      expectNoChanges: options.expectNoChanges,
      refresh: options.refresh,
      diff: options.diff,
      color: "never",
    };
  }
}

function programOf(options: EngineRunOptions): { program?: PulumiFn } {
  return options.program ? { program: options.program } : {};
}

/** Creates a stack, runs `body` with it, and always disposes of it. */
export async function withEngineStack<T>(
  options: EngineStackOptions,
  body: (stack: EngineStack) => Promise<T>,
): Promise<T> {
  const stack = await EngineStack.create(options);
  try {
    return await body(stack);
  } finally {
    await stack.dispose();
  }
}
