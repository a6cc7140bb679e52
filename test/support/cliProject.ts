/**
 * A Pulumi project driven by the plain CLI — `pulumi preview`, `pulumi up`, … run as commands in
 * the project's folder, the CLI starting the program itself through its language host — for
 * programs that need no Automation API (YAML, with `.toolchain/bin/pulumi-language-yaml`).
 *
 * The project folder is copied into a scratch directory (stack files and state stay out of the
 * repository), with its `plugins.providers` paths made absolute so that they still name the
 * repository's folders. Each project gets its own `file://` backend; {@link CliProject.dispose}
 * destroys what is left and deletes everything.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadToolchain } from "../../tools/toolchain";

/** What one CLI command did. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A project folder copied to scratch space, with its own stack and backend. */
export class CliProject {
  private disposed = false;

  private constructor(
    /** The scratch copy of the project. */
    readonly dir: string,
    private readonly scratchDir: string,
    private readonly env: Readonly<Record<string, string>>,
    /** Receives every command's output (for printing when a test fails). */
    private readonly output: (text: string) => void,
  ) {}

  /**
   * Copies `sourceDir` (its files, not subfolders), creates stack `stack` in a new `file://`
   * backend and returns the project.
   */
  static async create(options: {
    readonly sourceDir: string;
    readonly stack: string;
    readonly env?: Readonly<Record<string, string>>;
    readonly output?: (text: string) => void;
  }): Promise<CliProject> {
    const toolchain = loadToolchain();
    const scratchDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "pulumi-dualwrite-cli-"));
    const dir = path.join(scratchDir, "project");
    const backendDir = path.join(scratchDir, "state");
    await fs.promises.mkdir(dir, { recursive: true });
    await fs.promises.mkdir(backendDir, { recursive: true });
    for (const entry of await fs.promises.readdir(options.sourceDir, { withFileTypes: true })) {
      if (!entry.isFile() || /^Pulumi\..+\.yaml$/.test(entry.name)) continue;
      let text = await fs.promises.readFile(path.join(options.sourceDir, entry.name), "utf8");
      if (entry.name === "Pulumi.yaml") text = absolutePluginPaths(text, options.sourceDir);
      await fs.promises.writeFile(path.join(dir, entry.name), text);
    }
    const project = new CliProject(
      dir,
      scratchDir,
      { ...toolchain.env, PULUMI_BACKEND_URL: `file://${backendDir}`, ...options.env },
      options.output ?? (() => undefined),
    );
    await project.run(["stack", "init", options.stack], { check: true });
    return project;
  }

  /** Runs `pulumi <args> --non-interactive` in the project; rejects on failure when `check`. */
  run(args: readonly string[], options: { check?: boolean } = {}): Promise<CliResult> {
    const pulumi = path.join(loadToolchain().binDir, "pulumi");
    const all = [...args, "--non-interactive", "--color", "never"];
    this.output(`$ pulumi ${all.join(" ")}\n`);
    return new Promise<CliResult>((resolve, reject) => {
      const child = spawn(pulumi, all, { cwd: this.dir, env: this.env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        this.output(chunk.toString());
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        this.output(chunk.toString());
      });
      child.on("error", reject);
      child.on("close", (code) => {
        const result = { code: code ?? 1, stdout, stderr };
        if (options.check && result.code !== 0) {
          reject(
            new Error(`pulumi ${args.join(" ")} exited ${result.code}:\n${stdout}\n${stderr}`),
          );
        } else resolve(result);
      });
    });
  }

  /** Sets stack config (`--secret` when `secret`), key by key. */
  async setConfig(values: Readonly<Record<string, string>>, secret = false): Promise<void> {
    for (const [key, value] of Object.entries(values)) {
      await this.run(["config", "set", ...(secret ? ["--secret"] : []), key, value], {
        check: true,
      });
    }
  }

  /** The stack outputs (`pulumi stack output --json`). */
  async outputs(): Promise<Record<string, unknown>> {
    const result = await this.run(["stack", "output", "--json"], { check: true });
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  /** The checkpoint as `pulumi stack export` gives it (secrets stay encrypted). */
  async exportedState(): Promise<string> {
    return (await this.run(["stack", "export"], { check: true })).stdout;
  }

  /** Destroys what the stack holds, removes it and deletes the scratch folder. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.run(["destroy", "--yes", "--skip-preview"]);
      await this.run(["stack", "rm", "--yes", "--force"]);
    } finally {
      await fs.promises.rm(this.scratchDir, { recursive: true, force: true });
    }
  }
}

/** `path:` entries of a Pulumi.yaml resolved against the project's original folder. */
function absolutePluginPaths(text: string, sourceDir: string): string {
  return text.replace(
    /^(\s+path:\s*)(\S+)\s*$/gm,
    (_line, prefix: string, value: string) => `${prefix}${path.resolve(sourceDir, value)}`,
  );
}
