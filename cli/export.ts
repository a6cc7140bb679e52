/**
 * `pulumi-dualwrite export`: turns an existing dual-write setup into a Pulumi program. It reads
 * one environment pair, read-only (`snapshot.ts`: GET requests only, and token requests to Entra
 * ID), and writes the same declaration as a TypeScript program and as a Pulumi YAML program, the
 * stack config (environment URLs and provider settings, no secret) and the `pulumi import --file`
 * ids (`exportProgram.ts`). The output is deterministic: the same setup gives the same bytes.
 *
 * Exit codes: 0 written, 1 the setup could not be read (not linked, another Dataverse, a failed
 * call), 2 bad arguments.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ExitCode, parseFlags, UsageError, type Command } from "./command";
import { readConfigFile } from "./configFile";
import { errorText } from "./doctorFailures";
import { exportFileNames, exportFiles, type ExportFiles } from "./exportProgram";
import { openSession, stackSettings, timeoutArgument, urlArgument } from "./session";
import { readPairSnapshot, type PairSnapshot } from "./snapshot";

const USAGE = `Usage: pulumi-dualwrite export --finance-operations-url URL [options]

Reads the dual-write setup of an environment pair, read-only (GET requests only, and token requests
to Entra ID), and writes it as a Pulumi program that declares it exactly: the link with its legal
entities and solutions, and each map in use with its version, author, integration keys and state.

  --finance-operations-url URL  the F&O environment, e.g. https://contoso.operations.dynamics.com
  --dataverse-url URL           the Dataverse environment (default: the link's); checked against the link
  --out DIR                     where to write (default ./dualwrite-export)
  --project NAME                Pulumi project name (default dualwrite-setup)
  --stack NAME                  stack name of the stack config file Pulumi.<stack>.yaml (default dev)
  --name NAME                   resource name of the link (default: the F&O host's first label)
  --all-maps                    also declare the maps that are stopped and were never initialized
  --plugin-path DIR             the YAML project takes the provider plugin from DIR
  --force                       overwrite files of an earlier export in DIR
  --config FILE                 settings as \`dualwrite:<name>: value\` lines, e.g. Pulumi.<stack>.yaml
  --timeout SECONDS             per request (default 30)
  --help                        print this help

Writes DIR/README.md, DIR/typescript/ (index.ts on the pulumi-dualwrite package, to adopt with a first
\`pulumi up\`) and DIR/yaml/ (Pulumi.yaml on the plugin's dualwrite:index:* tokens and import.json for
\`pulumi import --file\`), each with Pulumi.<stack>.yaml. Not declared: CompanyBootstrap and
InitialSyncRun, which move business data. Settings are read as \`doctor\` reads them.

Exit codes: 0 written, 1 the setup could not be read, 2 bad arguments.`;

/** The parsed arguments of `export`. */
interface ExportArgs {
  readonly help: boolean;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string | undefined;
  readonly out: string;
  readonly project: string;
  readonly stack: string;
  readonly name: string | undefined;
  readonly allMaps: boolean;
  readonly pluginPath: string | undefined;
  readonly force: boolean;
  readonly config: string | undefined;
  readonly timeoutMs: number;
}

/** The `export` command. */
export const exportCommand: Command = {
  name: "export",
  summary: "write an existing setup as a Pulumi program (TypeScript and YAML) with its import ids",
  usage: USAGE,
  async run(argv, io) {
    const args = parseExportArgs(argv);
    if (args.help) {
      io.stdout(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const configFile = args.config === undefined ? undefined : readConfigFile(args.config);
    if (!args.force) refuseOverwrite(args.out, exportFileNames(args.stack));
    io.stdout(
      `pulumi-dualwrite export: F&O ${args.financeOperationsUrl}${args.dataverseUrl ? `, Dataverse ${args.dataverseUrl}` : ""} (read-only)\n`,
    );
    let snapshot: PairSnapshot;
    let settings: ReturnType<typeof stackSettings>;
    try {
      const session = openSession({
        ...(configFile && { configFile }),
        env: io.env,
        timeoutMs: args.timeoutMs,
      });
      try {
        settings = stackSettings(session.cfg);
        snapshot = await readPairSnapshot(session.clients, {
          financeOperationsUrl: args.financeOperationsUrl,
          dataverseUrl: args.dataverseUrl,
        });
      } finally {
        session.close();
      }
    } catch (error) {
      io.stderr(
        `pulumi-dualwrite export: ${errorText(error)}\n` +
          `  To find out why, run: pulumi-dualwrite doctor --finance-operations-url ${args.financeOperationsUrl}\n`,
      );
      return ExitCode.Failed;
    }
    const link = snapshot.link;
    if (!link || snapshot.dataverseUrl === undefined) {
      io.stderr(
        `pulumi-dualwrite export: the gateway lists no dual-write link for F&O ${args.financeOperationsUrl}: nothing to export.\n`,
      );
      return ExitCode.Failed;
    }
    const declared = link.maps.filter((m) => args.allMaps || m.inUse);
    const skipped = link.maps.filter((m) => !declared.includes(m)).map((m) => m.name);
    const files = exportFiles({
      project: args.project,
      stack: args.stack,
      connectionName: args.name ?? connectionNameOf(args.financeOperationsUrl),
      connection: link.declaration,
      maps: declared,
      skippedMaps: skipped,
      settings: settings.plain,
      secretSettings: settings.secrets,
      packageVersion: packageVersion(),
      ...(args.pluginPath !== undefined && { pluginPath: path.resolve(args.pluginPath) }),
    });
    writeFiles(args.out, files);

    const states = countBy(declared.map((m) => m.state));
    io.stdout(
      [
        `  link: environment ${link.environmentId}, legal entities ${link.legalEntities.join(", ") || "none"}`,
        `  solutions applied: ${link.solutions.join(", ") || "none"}`,
        `  maps declared: ${declared.length}${declared.length > 0 ? ` (${states})` : ""}`,
        ...(skipped.length > 0
          ? [
              `  maps not declared: ${skipped.length} stopped and never initialized (--all-maps declares them)`,
            ]
          : []),
        "  not declared: CompanyBootstrap and InitialSyncRun (they move business data)",
        "",
        `Wrote ${Object.keys(files).length} files to ${args.out}:`,
        ...Object.keys(files)
          .sort()
          .map((f) => `  ${f}`),
        `Next: ${path.join(args.out, "README.md")} (import the YAML program, or adopt with the TypeScript one).`,
      ].join("\n") + "\n",
    );
    return ExitCode.Ok;
  },
};

/** @throws UsageError naming the bad or missing argument */
function parseExportArgs(argv: readonly string[]): ExportArgs {
  const values = parseFlags(argv, {
    "finance-operations-url": { type: "string" },
    "dataverse-url": { type: "string" },
    out: { type: "string" },
    project: { type: "string" },
    stack: { type: "string" },
    name: { type: "string" },
    "all-maps": { type: "boolean" },
    "plugin-path": { type: "string" },
    force: { type: "boolean" },
    config: { type: "string" },
    timeout: { type: "string" },
    help: { type: "boolean" },
  });
  const help = values.help === true;
  const fo = values["finance-operations-url"];
  if (fo === undefined && !help)
    throw new UsageError(
      "--finance-operations-url is required: the F&O environment to export, e.g. https://contoso.operations.dynamics.com",
    );
  return {
    help,
    financeOperationsUrl: fo === undefined ? "" : urlArgument("--finance-operations-url", fo),
    dataverseUrl:
      values["dataverse-url"] === undefined
        ? undefined
        : urlArgument("--dataverse-url", values["dataverse-url"]),
    out: values.out ?? "dualwrite-export",
    project: projectName(values.project ?? "dualwrite-setup"),
    stack: pulumiName("--stack", values.stack ?? "dev"),
    name: values.name === undefined ? undefined : pulumiName("--name", values.name),
    allMaps: values["all-maps"] === true,
    pluginPath: values["plugin-path"],
    force: values.force === true,
    config: values.config,
    timeoutMs: timeoutArgument(values.timeout),
  };
}

/** A project, stack or resource name: letters, digits, `-`, `_`, `.`, starting with a letter. */
function pulumiName(flag: string, value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_.-]{0,99}$/.test(value))
    throw new UsageError(
      `${flag}: expected letters, digits, '-', '_' or '.', starting with a letter; got '${value}'.`,
    );
  return value;
}

/**
 * A project name. `dualwrite` is refused: stack config keys `dualwrite:*` are the provider's
 * settings, so the program's own keys (the URLs) would be taken for provider settings.
 */
function projectName(value: string): string {
  if (value.toLowerCase() === "dualwrite")
    throw new UsageError(
      "--project: 'dualwrite' is the provider's config namespace (dualwrite:*); choose another name.",
    );
  return pulumiName("--project", value);
}

/** The link's default resource name: the F&O host's first label (`contoso`), else `dualwrite`. */
export function connectionNameOf(financeOperationsUrl: string): string {
  const label = new URL(financeOperationsUrl).hostname.split(".")[0] ?? "";
  return /^[a-z][a-z0-9-]*$/.test(label) ? label : "dualwrite";
}

/** This package's version, which the exported TypeScript project depends on. */
function packageVersion(): string {
  // dist/cli/export.js → the package root (two folders up), in a clone and in the npm package.
  const manifest = path.join(__dirname, "..", "..", "package.json");
  const parsed = JSON.parse(fs.readFileSync(manifest, "utf8")) as { version?: unknown };
  return typeof parsed.version === "string" ? parsed.version : "0.0.0";
}

/**
 * Files of an earlier export are only replaced with `--force`, so that a program someone has edited
 * since is not lost by accident. Checked before anything is read.
 * @throws UsageError naming the first file that exists
 */
function refuseOverwrite(out: string, files: readonly string[]): void {
  const existing = files.find((f) => fs.existsSync(path.join(out, f)));
  if (existing !== undefined)
    throw new UsageError(
      `${path.join(out, existing)} exists: pass --force to overwrite, or choose another --out.`,
    );
}

/** Writes the files below `out`. */
function writeFiles(out: string, files: ExportFiles): void {
  for (const [file, text] of Object.entries(files)) {
    const target = path.join(out, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, text);
  }
}

/** `Running 4, Stopped 1` (sorted by state name). */
function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([v, n]) => `${v} ${n}`)
    .join(", ");
}
