/**
 * `pulumi-dualwrite doctor`: for the first contact with real environments. It reads the settings
 * exactly as the provider does (`provider/config.ts`: stack config keys `dualwrite:*` from
 * `--config`, else the `AZURE_*`/`DUALWRITE_*` environment variables), signs in per surface with
 * the provider's credentials, and reads through the provider's clients, step by step
 * (`doctorSteps.ts`): every step says PASS, WARN, FAIL or SKIP and, when it is not a pass, what to
 * do. It is read-only: GET requests only, apart from token requests to Entra ID. No secret and no
 * token is ever printed. Exit code 0 when no step FAILs, 1 otherwise, 2 for bad arguments.
 */
import { createClients, type Clients } from "../provider/clients";
import {
  describeGatewayCredential,
  readProviderConfig,
  SETTINGS,
  type ProviderConfig,
} from "../provider/config";
import { ConfigError } from "../provider/errors";
import { ExitCode, parseFlags, UsageError, type Command } from "./command";
import { readConfigFile, type ConfigFile } from "./configFile";
import { errorText } from "./doctorFailures";
import { plainValue, timeoutArgument, urlArgument } from "./session";
import {
  OrderedPrinter,
  renderStep,
  renderSummary,
  worst,
  type Detail,
  type DoctorReport,
  type Outcome,
  type StepResult,
} from "./doctorReport";
import {
  checkConnectionSet,
  checkDataverse,
  checkEnvironment,
  checkFinanceOperations,
  checkMaps,
  checkSolutions,
  checkToken,
  result,
  skipped,
  STEPS,
  tokenSkipped,
  tokensStep,
  type DoctorContext,
  type StepName,
} from "./doctorSteps";

const USAGE = `Usage: pulumi-dualwrite doctor --finance-operations-url URL [options]

Checks, read-only, what \`pulumi up\` will need: the settings and which credential each surface
gets, a token per surface (audience, user or app, expiry), the gateway and the environment's
link, its connection set, solutions and maps, and Dataverse and F&O. Each step prints PASS, WARN,
FAIL or SKIP, with what to do. Only GET requests are sent (and token requests to Entra ID).

  --finance-operations-url URL  the F&O environment, e.g. https://contoso.operations.dynamics.com
  --dataverse-url URL           the Dataverse environment (default: the link's, from the gateway)
  --config FILE                 settings as \`dualwrite:<name>: value\` lines, e.g. Pulumi.<stack>.yaml
                                (encrypted values cannot be read: give them as environment variables)
  --json                        print one JSON report instead of text
  --timeout SECONDS             per request (default 30)
  --help                        print this help

Settings come from --config, else from the environment, as the provider reads them: AZURE_TENANT_ID,
AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (or a certificate, workload identity, DUALWRITE_USE_AZURE_CLI),
AZURE_AUTHORITY_HOST, DUALWRITE_GATEWAY_URL, the gateway's sign-in (DUALWRITE_GATEWAY_USERNAME and
_PASSWORD, _REFRESH_TOKEN, _TOKEN_COMMAND, _CREDENTIAL), DUALWRITE_CA_CERTIFICATE_PATH.
See docs/getting-started.md.

Exit codes: 0 nothing failed, 1 a step failed, 2 bad arguments.`;

/** Inputs of `runDoctor`. */
export interface DoctorOptions {
  /** The F&O environment's URL (normalized: https, no trailing slash). */
  readonly financeOperationsUrl: string;
  /** The Dataverse environment's URL; undefined = the link's, from the connection set. */
  readonly dataverseUrl?: string;
  /** Settings from `--config`. */
  readonly configFile?: ConfigFile;
  /** The environment variables to read settings from. */
  readonly env: NodeJS.ProcessEnv;
  /** Per-request timeout. @default 30000 */
  readonly timeoutMs?: number;
  /** Called with each step in step order, as soon as it and those before it are known. */
  readonly onStep?: (step: StepResult) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The `doctor` command. */
export const doctorCommand: Command = {
  name: "doctor",
  summary: "check settings, sign-in and every surface, read-only, before the first `pulumi up`",
  usage: USAGE,
  async run(argv, io) {
    const args = parseDoctorArgs(argv);
    if (args.help) {
      io.stdout(`${USAGE}\n`);
      return ExitCode.Ok;
    }
    const configFile = args.config === undefined ? undefined : readConfigFile(args.config);
    if (!args.json)
      io.stdout(`pulumi-dualwrite doctor: F&O ${args.financeOperationsUrl} (read-only)\n\n`);
    const report = await runDoctor({
      financeOperationsUrl: args.financeOperationsUrl,
      ...(args.dataverseUrl !== undefined && { dataverseUrl: args.dataverseUrl }),
      ...(configFile && { configFile }),
      env: io.env,
      timeoutMs: args.timeoutMs,
      ...(!args.json && { onStep: (step: StepResult) => io.stdout(renderStep(step)) }),
    });
    io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : renderSummary(report));
    return report.ok ? ExitCode.Ok : ExitCode.Failed;
  },
};

/** The parsed arguments of `doctor`. */
interface DoctorArgs {
  readonly help: boolean;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string | undefined;
  readonly config: string | undefined;
  readonly json: boolean;
  readonly timeoutMs: number;
}

/** @throws UsageError naming the bad or missing argument */
function parseDoctorArgs(argv: readonly string[]): DoctorArgs {
  const values = parseFlags(argv, {
    "finance-operations-url": { type: "string" },
    "dataverse-url": { type: "string" },
    config: { type: "string" },
    json: { type: "boolean" },
    timeout: { type: "string" },
    help: { type: "boolean" },
  });
  const help = values.help === true;
  const fno = values["finance-operations-url"];
  if (fno === undefined && !help)
    throw new UsageError(
      "--finance-operations-url is required: the F&O environment to check, e.g. https://contoso.operations.dynamics.com",
    );
  return {
    help,
    financeOperationsUrl: fno === undefined ? "" : urlArgument("--finance-operations-url", fno),
    dataverseUrl:
      values["dataverse-url"] === undefined
        ? undefined
        : urlArgument("--dataverse-url", values["dataverse-url"]),
    config: values.config,
    json: values.json === true,
    timeoutMs: timeoutArgument(values.timeout),
  };
}

/**
 * Runs every step and returns the report (see the file comment). Steps run in dependency order
 * (the Dataverse token waits for the connection set when `--dataverse-url` is not given) and are
 * handed to `onStep` in the order they are numbered.
 */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const now = options.now ?? Date.now;
  const steps: StepResult[] = [];
  const printer = new OrderedPrinter((s) => options.onStep?.(s));
  const record = (step: StepResult): StepResult => {
    steps.push(step);
    printer.add(step);
    return step;
  };
  const report = (dataverseUrl: string | undefined): DoctorReport => {
    const ordered = [...steps].sort((a, b) => a.number - b.number);
    return {
      ok: ordered.every((s) => s.outcome !== "FAIL"),
      financeOperationsUrl: options.financeOperationsUrl,
      dataverseUrl,
      steps: ordered,
    };
  };

  // 1. Configuration.
  const setup = configure(options);
  record(setup.step);
  if (!setup.cfg || !setup.clients) {
    for (const name of LATER_STEPS)
      record(skipped(name, "the configuration cannot be read (step 1)"));
    return report(options.dataverseUrl);
  }
  const ctx: DoctorContext = {
    cfg: setup.cfg,
    clients: setup.clients,
    financeOperationsUrl: options.financeOperationsUrl,
    now,
  };
  try {
    // 2. Tokens: the gateway's and F&O's now; Dataverse's once its URL is known.
    const gatewayToken = await checkToken(ctx, "gateway", ctx.cfg.gatewayScope);
    const fnoToken = await checkToken(ctx, "fno", `${options.financeOperationsUrl}/.default`);
    let dataverseToken =
      options.dataverseUrl === undefined
        ? undefined
        : await checkToken(ctx, "dataverse", `${options.dataverseUrl}/.default`);

    // 3. Gateway and environment resolution.
    const env = setup.gatewayUrlProblem
      ? { step: skipped("gatewayEnvironment", `${setup.gatewayUrlProblem} (step 1)`) }
      : !gatewayToken.ok
        ? { step: skipped("gatewayEnvironment", "no gateway token (step 2)") }
        : await checkEnvironment(ctx, gatewayToken);
    const environment = "environment" in env ? env.environment : undefined;
    record(env.step);
    const needsLink = `needs the environment's link (step 3: ${env.step.outcome})`;

    // 4. Connection set.
    const setCheck = environment
      ? await checkConnectionSet(ctx, environment, options.dataverseUrl)
      : { step: skipped("connectionSet", needsLink), set: undefined };
    record(setCheck.step);

    const dataverseUrl = options.dataverseUrl ?? setCheck.set?.dataverse?.directUrl;
    if (dataverseToken === undefined)
      dataverseToken =
        dataverseUrl === undefined
          ? tokenSkipped(
              "dataverse",
              "no Dataverse URL: give --dataverse-url (a linked environment's connection set names it)",
            )
          : await checkToken(ctx, "dataverse", `${dataverseUrl.replace(/\/+$/, "")}/.default`);
    record(tokensStep([gatewayToken, dataverseToken, fnoToken]));

    // 5. Solutions, 6. maps.
    record(
      environment ? await checkSolutions(ctx, environment.cid) : skipped("solutions", needsLink),
    );
    record(environment ? await checkMaps(ctx, environment.cid) : skipped("maps", needsLink));

    // 7. Dataverse.
    record(
      dataverseUrl === undefined
        ? skipped(
            "dataverse",
            "no Dataverse URL (no link to read it from)",
            "give --dataverse-url to check Dataverse",
          )
        : !dataverseToken.ok
          ? skipped("dataverse", "no Dataverse token (step 2)")
          : await checkDataverse(ctx, dataverseUrl, {
              ...(environment && { environment }),
              ...(setCheck.set && { set: setCheck.set }),
            }),
    );

    // 8. Finance and Operations.
    record(
      fnoToken.ok
        ? await checkFinanceOperations(ctx, setCheck.set?.legalEntities)
        : skipped("financeOperations", "no F&O token (step 2)"),
    );
    return report(dataverseUrl);
  } finally {
    setup.clients.http.close();
  }
}

/** Every step after the configuration. */
const LATER_STEPS: readonly StepName[] = (Object.keys(STEPS) as StepName[]).filter(
  (n) => n !== "configuration",
);

/** A stand-in gateway URL while `gatewayUrl` is unusable, so the other surfaces can be checked. */
const NO_GATEWAY_URL = "https://gatewayurl-not-set.invalid";

/** Step 1's result, and the configuration and clients when it could be read. */
interface Setup {
  readonly step: StepResult;
  readonly cfg?: ProviderConfig;
  readonly clients?: Clients;
  /** Why `gatewayUrl` cannot be used (missing or malformed): the gateway steps skip, the others run. */
  readonly gatewayUrlProblem?: string;
}

/**
 * Step 1: reads the settings with the provider's reader, builds the provider's clients, and says
 * which credential each surface gets and where each setting came from. A missing or malformed
 * `gatewayUrl` fails the step with the reader's message (for a missing one: how to find it,
 * DWLibary/EdgeUniversal.cs:301-343), but the other surfaces are still checked.
 */
function configure(options: DoctorOptions): Setup {
  const file = options.configFile;
  const get = (key: string): string | undefined => file?.values[key];
  const fileNotes = configFileNotes(file, options.env);
  const key = SETTINGS.gatewayUrl.key;
  let cfg: ProviderConfig;
  let gatewayError: ConfigError | undefined;
  try {
    try {
      cfg = readProviderConfig(get, options.env);
    } catch (error) {
      if (!(error instanceof ConfigError) || error.property !== key) throw error;
      gatewayError = error;
      cfg = readProviderConfig((k) => (k === key ? NO_GATEWAY_URL : get(k)), options.env);
    }
  } catch (error) {
    return {
      step: result(
        "configuration",
        "FAIL",
        "the provider cannot read its settings",
        [...fileNotes.details, ...(gatewayError ? [{ text: gatewayError.message }] : [])],
        errorText(error),
      ),
    };
  }
  const given = (get(key) ?? options.env[SETTINGS.gatewayUrl.env] ?? "").trim() !== "";
  const gatewayUrlProblem =
    gatewayError === undefined
      ? undefined
      : given
        ? `${key} is not a usable URL`
        : `${key} is not set`;
  const details = [
    ...describeSurfaces(cfg, options, gatewayUrlProblem),
    ...describeSettings(cfg, file, gatewayUrlProblem),
    ...fileNotes.details,
  ];
  let clients: Clients;
  try {
    clients = createClients(
      cfg,
      {},
      {
        private: true,
        timeoutMs: options.timeoutMs ?? 30_000,
        // A doctor answers quickly: one retry, short waits.
        retry: { maxAttempts: 2, baseDelayMs: 250, maxDelayMs: 2_000, maxRetryAfterMs: 30_000 },
      },
    );
  } catch (error) {
    return {
      step: result(
        "configuration",
        "FAIL",
        "a credential cannot be built",
        details,
        errorText(error),
      ),
    };
  }
  if (gatewayError && gatewayUrlProblem)
    return {
      step: result("configuration", "FAIL", gatewayUrlProblem, details, gatewayError.message),
      cfg,
      clients,
      gatewayUrlProblem,
    };
  return {
    step: result(
      "configuration",
      worst(["PASS", ...fileNotes.outcomes]),
      `gateway: ${GATEWAY_KIND_WORDS[cfg.gateway.kind]}; Dataverse and F&O: ${APP_KIND_WORDS[cfg.credential]}`,
      details,
      fileNotes.todo,
    ),
    cfg,
    clients,
  };
}

const GATEWAY_KIND_WORDS: Readonly<Record<ProviderConfig["gateway"]["kind"], string>> = {
  password: "a user's password sign-in",
  refreshToken: "a user's refresh token",
  azureCli: "the Azure CLI user",
  tokenCommand: "a token command",
  app: "the app credential (app-only)",
};

const APP_KIND_WORDS: Readonly<Record<ProviderConfig["credential"], string>> = {
  clientSecret: "app with client secret",
  clientCertificate: "app with certificate",
  workloadIdentity: "app with workload identity",
  azureCli: "the Azure CLI user",
};

/** Which credential each surface gets, and the environments checked. */
function describeSurfaces(
  cfg: ProviderConfig,
  options: DoctorOptions,
  gatewayUrlProblem: string | undefined,
): Detail[] {
  const app =
    cfg.credential === "azureCli"
      ? `Azure CLI${cfg.tenantId ? `, tenant ${cfg.tenantId}` : ""}`
      : `${APP_KIND_WORDS[cfg.credential]}, client ${cfg.clientId}, tenant ${cfg.tenantId}`;
  return [
    {
      text: `gateway   ${gatewayUrlProblem ? "(no usable URL)" : cfg.gatewayUrl}: ${describeGatewayCredential(cfg)}, scope ${cfg.gatewayScope}`,
    },
    { text: `Dataverse ${options.dataverseUrl ?? "(the link's, step 4)"}: ${app}` },
    { text: `F&O       ${options.financeOperationsUrl}: ${app}` },
    { text: `authority ${cfg.authorityHost ?? "https://login.microsoftonline.com (default)"}` },
  ];
}

/** Settings whose values are never shown. */
const HIDDEN: ReadonlySet<string> = new Set([
  "clientSecret",
  "clientCertificatePassword",
  "gatewayPassword",
  "gatewayRefreshToken",
  "gatewayTokenCommand",
]);

/** Each setting the provider read: its value (never a secret) and where it came from. */
function describeSettings(
  cfg: ProviderConfig,
  file: ConfigFile | undefined,
  gatewayUrlProblem: string | undefined,
): Detail[] {
  const where = (source: string): string =>
    file && source.startsWith("dualwrite:") ? `${source} in ${file.path}` : source;
  const lines: Detail[] = [];
  for (const name of Object.keys(SETTINGS) as (keyof typeof SETTINGS)[]) {
    const key = SETTINGS[name].key;
    if (name === "gatewayUrl" && gatewayUrlProblem) {
      lines.push({ text: `${key}: ${gatewayUrlProblem} (${key}, ${SETTINGS[name].env})` });
      continue;
    }
    const source = cfg.sources[name];
    const shown = HIDDEN.has(name) ? undefined : plainValue(cfg, name);
    if (source !== undefined && HIDDEN.has(name))
      lines.push({
        text: `${key} = ${name === "gatewayTokenCommand" ? "[not shown]" : "[secret]"} from ${where(source)}`,
      });
    else if (source !== undefined)
      lines.push({ text: `${key} = ${shown ?? "(set)"} from ${where(source)}` });
    else if (shown !== undefined) lines.push({ text: `${key} = ${shown} (${defaultWord(name)})` });
  }
  return lines;
}

function defaultWord(name: keyof typeof SETTINGS): string {
  return name === "gatewayCredential" ? "inferred from the settings given" : "default";
}

/** Warnings about the `--config` file: encrypted values (not readable here) and unknown keys. */
function configFileNotes(
  file: ConfigFile | undefined,
  env: NodeJS.ProcessEnv,
): { details: Detail[]; outcomes: Outcome[]; todo: string | undefined } {
  if (!file) return { details: [], outcomes: [], todo: undefined };
  const known = new Map<string, string>(Object.values(SETTINGS).map((s) => [s.key, s.env]));
  const details: Detail[] = [];
  const todos: string[] = [];
  for (const key of file.encrypted) {
    const variable = known.get(key);
    const fallback = variable && env[variable] ? `; ${variable} is used instead` : "";
    details.push({
      outcome: "WARN",
      text: `${key} in ${file.path} is encrypted (secure:), which doctor cannot read${fallback}`,
    });
    if (!fallback && variable)
      todos.push(`set ${variable} for doctor (e.g. ${variable}="$(pulumi config get ${key})")`);
  }
  for (const key of [...Object.keys(file.values), ...file.encrypted]) {
    if (known.has(key)) continue;
    details.push({ outcome: "WARN", text: `${key} in ${file.path} is not a provider setting` });
    todos.push(`check the spelling of ${key} (docs/getting-started.md, section 6)`);
  }
  return {
    details,
    outcomes: details.map((d) => d.outcome ?? "PASS"),
    todo: todos.length > 0 ? todos.join("; ") : undefined,
  };
}
