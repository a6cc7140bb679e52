/**
 * `pulumi-dualwrite compare`: the check before promoting dev → test → prod. It reads two
 * environment pairs, read-only (`snapshot.ts`: GET requests only, and token requests to Entra ID),
 * and lists, point by point, where their dual-write setups differ: link, legal entities,
 * solutions, maps present or absent, and per map its version, author, state and integration keys
 * (`compareReport.ts`). A side is given by its URLs, or by its stack's config file (the URLs under
 * `<project>:financeOperationsUrl` and `<project>:dataverseUrl`, the provider settings under
 * `dualwrite:*`), so two stacks can be compared with their own credentials.
 *
 * Exit codes: 0 no differences, 1 differences, 2 bad arguments or a side could not be read.
 */
import { readFileSync } from "node:fs";
import { ExitCode, parseFlags, UsageError, type Command } from "./command";
import { parseConfigText, readConfigFile, type ConfigFile } from "./configFile";
import { compareSnapshots, renderCompare } from "./compareReport";
import { errorText } from "./doctorFailures";
import { openSession, timeoutArgument, urlArgument } from "./session";
import { readPairSnapshot, type PairSnapshot } from "./snapshot";

const USAGE = `Usage: pulumi-dualwrite compare --left-finance-operations-url URL --right-finance-operations-url URL [options]
       pulumi-dualwrite compare --left-config Pulumi.dev.yaml --right-config Pulumi.test.yaml [options]

Compares the dual-write setups of two environment pairs, read-only (GET requests only, and token
requests to Entra ID): the link, its legal entities and solutions, the maps on it, and per map its
version, author, state and integration keys. What a team checks before promoting dev → test → prod.

  --left-finance-operations-url URL   the left F&O environment
  --left-dataverse-url URL            the left Dataverse environment (default: the link's)
  --left-config FILE                  the left stack's config file: its settings (dualwrite:*) and,
                                      unless given above, its URLs (<project>:financeOperationsUrl,
                                      <project>:dataverseUrl)
  --left-name NAME                    the left side's name in the output (default left)
  --right-…                           the same for the right side (default name right)
  --json                              print one JSON report instead of the table
  --timeout SECONDS                   per request (default 30)
  --help                              print this help

Without --<side>-config, settings come from the environment, as \`doctor\` reads them.

Exit codes: 0 no differences, 1 differences, 2 bad arguments or a side could not be read.`;

/** One side, as given on the command line. */
interface SideArgs {
  readonly name: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string | undefined;
  readonly configFile: ConfigFile | undefined;
}

/** The `compare` command. */
export const compareCommand: Command = {
  name: "compare",
  summary: "compare the setups of two environment pairs (or two stacks), read-only",
  usage: USAGE,
  async run(argv, io) {
    const args = parseCompareArgs(argv);
    if (args === "help") {
      io.stdout(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const snapshots: PairSnapshot[] = [];
    for (const side of [args.left, args.right]) {
      try {
        snapshots.push(await readSide(side, io.env, args.timeoutMs));
      } catch (error) {
        io.stderr(
          `pulumi-dualwrite compare: ${side.name} (F&O ${side.financeOperationsUrl}) could not be read: ${errorText(error)}\n` +
            `  To find out why, run: pulumi-dualwrite doctor --finance-operations-url ${side.financeOperationsUrl}${side.configFile ? ` --config ${side.configFile.path}` : ""}\n`,
        );
        return COMPARE_ERROR;
      }
    }
    const [left, right] = snapshots as [PairSnapshot, PairSnapshot];
    const report = compareSnapshots(
      { name: args.left.name, snapshot: left },
      { name: args.right.name, snapshot: right },
    );
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderCompare(report));
    return report.same ? ExitCode.Ok : ExitCode.Failed;
  },
};

/** A side that cannot be read: the same code as bad arguments (1 means "differences"). */
const COMPARE_ERROR = ExitCode.Usage;

async function readSide(
  side: SideArgs,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<PairSnapshot> {
  const session = openSession({
    ...(side.configFile && { configFile: side.configFile }),
    env,
    timeoutMs,
  });
  try {
    return await readPairSnapshot(session.clients, {
      financeOperationsUrl: side.financeOperationsUrl,
      dataverseUrl: side.dataverseUrl,
    });
  } finally {
    session.close();
  }
}

/** @throws UsageError naming the bad or missing argument */
function parseCompareArgs(
  argv: readonly string[],
): "help" | { left: SideArgs; right: SideArgs; json: boolean; timeoutMs: number } {
  const sideOptions = (s: "left" | "right") =>
    ({
      [`${s}-finance-operations-url`]: { type: "string" },
      [`${s}-dataverse-url`]: { type: "string" },
      [`${s}-config`]: { type: "string" },
      [`${s}-name`]: { type: "string" },
    }) as const;
  const values: Record<string, string | boolean | undefined> = parseFlags(argv, {
    ...sideOptions("left"),
    ...sideOptions("right"),
    json: { type: "boolean" },
    timeout: { type: "string" },
    help: { type: "boolean" },
  });
  if (values.help === true) return "help";
  const text = (key: string): string | undefined => {
    const v = values[key];
    return typeof v === "string" ? v : undefined;
  };
  const side = (s: "left" | "right"): SideArgs => {
    const configPath = text(`${s}-config`);
    const configFile = configPath === undefined ? undefined : readConfigFile(configPath);
    const fromFile = configFile ? stackUrls(configFile.path) : {};
    const foFlag = text(`${s}-finance-operations-url`);
    const dvFlag = text(`${s}-dataverse-url`);
    const fo = foFlag ?? fromFile.financeOperationsUrl;
    if (fo === undefined)
      throw new UsageError(
        `--${s}-finance-operations-url is required${configFile ? ` (${configFile.path} has no <project>:financeOperationsUrl)` : ""}: the ${s} F&O environment.`,
      );
    const dv = dvFlag ?? fromFile.dataverseUrl;
    const name = text(`${s}-name`) ?? s;
    if (!/^\S{1,40}$/.test(name))
      throw new UsageError(`--${s}-name: expected a short name without spaces, got '${name}'.`);
    return {
      name,
      financeOperationsUrl: urlArgument(
        foFlag !== undefined ? `--${s}-finance-operations-url` : `${configPath}`,
        fo,
      ),
      dataverseUrl:
        dv === undefined
          ? undefined
          : urlArgument(dvFlag !== undefined ? `--${s}-dataverse-url` : `${configPath}`, dv),
      configFile,
    };
  };
  const left = side("left");
  const right = side("right");
  if (left.name === right.name)
    throw new UsageError(`--left-name and --right-name are both '${left.name}'; name them apart.`);
  return { left, right, json: values.json === true, timeoutMs: timeoutArgument(text("timeout")) };
}

const URL_KEY = /^\s*([A-Za-z][A-Za-z0-9_.-]*):(financeOperationsUrl|dataverseUrl)\s*:(.*)$/;

/**
 * The environment URLs of a stack's config file: the plain values of `<project>:financeOperationsUrl`
 * and `<project>:dataverseUrl` (any project but `dualwrite`, whose keys are provider settings).
 * @throws UsageError when the file cannot be read, a value is malformed, or two projects disagree
 */
export function stackUrls(path: string): {
  financeOperationsUrl?: string;
  dataverseUrl?: string;
} {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read '${path}'${typeof code === "string" ? ` (${code})` : ""}.`);
  }
  const found: Record<string, Map<string, string>> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const m = URL_KEY.exec(line);
    if (!m || m[1] === "dualwrite" || m[3]!.trim() === "") return;
    // The value is read as configFile.ts reads any value (plain, "double" or 'single' quoted).
    const parsed = parseConfigText(`dualwrite:value: ${m[3]!.trim()}`, `${path}:${i + 1}`);
    const value = parsed.values["dualwrite:value"];
    if (value === undefined) return;
    (found[m[2]!] ??= new Map()).set(m[1]!, value);
  });
  const one = (key: string): string | undefined => {
    const values = found[key];
    if (!values) return undefined;
    const distinct = [...new Set(values.values())];
    if (distinct.length > 1)
      throw new UsageError(
        `${path}: ${[...values.keys()].map((p) => `${p}:${key}`).join(" and ")} differ; give --<side>-${key === "dataverseUrl" ? "dataverse" : "finance-operations"}-url.`,
      );
    return distinct[0];
  };
  const financeOperationsUrl = one("financeOperationsUrl");
  const dataverseUrl = one("dataverseUrl");
  return {
    ...(financeOperationsUrl !== undefined && { financeOperationsUrl }),
    ...(dataverseUrl !== undefined && { dataverseUrl }),
  };
}
