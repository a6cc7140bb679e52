/**
 * The toolchain that `tools/setup.js` prepared, as seen from TypeScript: where the Pulumi CLI is and
 * the environment that keeps it offline (local `file://` state, no update checks, no plugin
 * downloads). The setup writes `.toolchain/env.json`; this module reads it, so that code started
 * outside the setup (a developer running mocha directly) behaves like code started by `npm test`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PulumiCommand } from "@pulumi/pulumi/automation";

/** What `.toolchain/env.json` records. */
export interface Toolchain {
  /** The repository root (holds package.json and node_modules). */
  readonly repoRoot: string;
  /** The clone's tool folder, `.toolchain/`: the root given to `PulumiCommand.get`. */
  readonly toolDir: string;
  /** `.toolchain/bin`: node, pulumi and pulumi-resource-pulumi-nodejs. */
  readonly binDir: string;
  /** Version printed by `pulumi version`, e.g. `v3.274.1`. */
  readonly pulumiVersion: string;
  /** Version of the Node in `binDir`, e.g. `v24.21.0`. */
  readonly nodeVersion: string;
  /**
   * Environment for every Pulumi command: the offline variables plus `PATH` with `binDir` first
   * (the dynamic-provider plugin runs `node` from PATH and must get Node >= 22).
   */
  readonly env: Readonly<Record<string, string>>;
}

interface ToolchainFile {
  toolDir: string;
  binDir: string;
  pulumiVersion: string;
  nodeVersion: string;
  env: Record<string, string>;
}

/**
 * Finds the repository root by walking up from `from` to the package.json named
 * `pulumi-dualwrite` (works from the sources and from their compiled copies in dist/).
 */
export function findRepoRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      const parsed = JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: unknown };
      if (parsed.name === "pulumi-dualwrite") return dir;
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`No pulumi-dualwrite package.json above ${from}.`);
    }
  }
}

let loaded: Toolchain | undefined;

/**
 * Reads `.toolchain/env.json`.
 * @throws Error telling the reader to run `npm run setup` when the toolchain was never prepared.
 */
export function loadToolchain(): Toolchain {
  if (loaded) return loaded;
  const repoRoot = findRepoRoot();
  const file = path.join(repoRoot, ".toolchain", "env.json");
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} is missing: run \`npm run setup\` (or \`npm test\`) once to prepare the toolchain.`,
    );
  }
  const recorded = JSON.parse(fs.readFileSync(file, "utf8")) as ToolchainFile;
  const inheritedPath = (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((entry) => entry !== "" && path.resolve(entry) !== recorded.binDir);
  // A passphrase the person set themselves wins over the recorded local default.
  const env: Record<string, string> = { ...recorded.env };
  const ownPassphrase = process.env.PULUMI_CONFIG_PASSPHRASE;
  if (ownPassphrase !== undefined) {
    env.PULUMI_CONFIG_PASSPHRASE = ownPassphrase;
  } else if (process.env.PULUMI_CONFIG_PASSPHRASE_FILE !== undefined) {
    delete env.PULUMI_CONFIG_PASSPHRASE;
  }
  env.PATH = [recorded.binDir, ...inheritedPath].join(path.delimiter);
  loaded = {
    repoRoot,
    toolDir: recorded.toolDir,
    binDir: recorded.binDir,
    pulumiVersion: recorded.pulumiVersion,
    nodeVersion: recorded.nodeVersion,
    env,
  };
  return loaded;
}

/**
 * The toolchain's Pulumi CLI for the Automation API. Never `PulumiCommand.install`, which downloads
 * the CLI from get.pulumi.com.
 */
export async function pulumiCommand(
  toolchain: Toolchain = loadToolchain(),
): Promise<PulumiCommand> {
  return PulumiCommand.get({ root: toolchain.toolDir });
}
