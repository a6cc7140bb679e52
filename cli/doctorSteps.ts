/**
 * The doctor's checks, one function per step. Each reads through the provider's own clients
 * (`provider/clients/*`) and credentials (`provider/auth.ts`), so it sees exactly what a
 * `pulumi up` would see, and each sends GET requests only:
 *
 * | step | check                                  | requests                                                          |
 * |------|----------------------------------------|-------------------------------------------------------------------|
 * | 1    | configuration                          | none                                                              |
 * | 2    | a token per surface                    | token requests to Entra ID (the only POSTs)                       |
 * | 3    | gateway and environment resolution     | GET DWM/Environments?targetType=AX&identifier=<F&O host>          |
 * | 4    | connection set                         | GET /api/ConnectionSet/<cname>                                    |
 * | 5    | solutions                              | GET DWM/SolutionAware/<cid>/Solutions/                            |
 * | 6    | maps                                   | GET DWM/Entities?targetType=AX&cid=<cid>                          |
 * | 7    | Dataverse                              | GET WhoAmI, RetrieveCurrentOrganization(…), RetrieveFinanceAndOperationsIntegrationDetails |
 * | 8    | Finance and Operations                 | GET /data/LegalEntities?$select=LegalEntityId,Name                |
 *
 * (DWM = `<gatewayUrl>/api/DualWriteManagement/1.0/`; docs/wire-contract.md.) The prerequisite
 * call `GetTemplatePrerequisiteSequences` reads too, but is a POST, so the doctor never sends it.
 */
import type { Clients, ConnectionSet, GatewayEnvironment, GatewayMap } from "../provider/clients";
import { environmentIdentifier, MapState, sameUrl } from "../provider/clients/gateway";
import { SETTINGS, type ProviderConfig } from "../provider/config";
import { DualWriteError } from "../provider/errors";
import {
  callFailure,
  credentialText,
  DELEGATED_SETTINGS,
  type Failure,
  type Surface,
} from "./doctorFailures";
import { worst, type Detail, type Outcome, type StepResult } from "./doctorReport";
import { describeToken, summarizeToken } from "./tokenClaims";

/** What every step after the first works with. */
export interface DoctorContext {
  readonly cfg: ProviderConfig;
  readonly clients: Clients;
  /** Normalized, without a trailing slash. */
  readonly financeOperationsUrl: string;
  readonly now: () => number;
}

/** The step numbers, names and titles, in the order they are shown. */
export const STEPS = {
  configuration: { number: 1, title: "Configuration" },
  tokens: { number: 2, title: "Tokens" },
  gatewayEnvironment: { number: 3, title: "Gateway and environment resolution" },
  connectionSet: { number: 4, title: "Connection set" },
  solutions: { number: 5, title: "Solutions" },
  maps: { number: 6, title: "Maps" },
  dataverse: { number: 7, title: "Dataverse" },
  financeOperations: { number: 8, title: "Finance and Operations" },
} as const;

/** A step's name. */
export type StepName = keyof typeof STEPS;

/** A step result. */
export function result(
  name: StepName,
  outcome: Outcome,
  summary: string,
  details: readonly Detail[] = [],
  todo?: string,
): StepResult {
  return {
    number: STEPS[name].number,
    name,
    title: STEPS[name].title,
    outcome,
    summary,
    details,
    ...(todo !== undefined && { todo }),
  };
}

/** A step that cannot run because of an earlier one (or a missing input). */
export function skipped(name: StepName, reason: string, todo?: string): StepResult {
  return result(name, "SKIP", reason, [], todo);
}

// ── step 2: tokens ─────────────────────────────────────────────────────────────────────────────

/** One surface's token, as step 2 shows it. */
export interface TokenCheck {
  readonly surface: Surface;
  readonly outcome: Outcome;
  /** The detail line (never the token). */
  readonly text: string;
  readonly todo?: string;
  /** Whether a token was acquired. */
  readonly ok: boolean;
  /** Whether the acquired token is app-only (no `scp`). */
  readonly appOnly: boolean;
}

const SURFACE_LABEL: Readonly<Record<Surface, string>> = {
  gateway: "gateway",
  dataverse: "Dataverse",
  fno: "F&O",
};

/**
 * Acquires the token the provider would send to a surface, through the provider's token cache
 * (so the calls of later steps reuse it), and describes its claims.
 */
export async function checkToken(
  ctx: DoctorContext,
  surface: Surface,
  scope: string,
): Promise<TokenCheck> {
  const label = SURFACE_LABEL[surface];
  let token: string;
  try {
    token = await ctx.clients.tokens.getToken(scope);
  } catch (error) {
    return {
      surface,
      outcome: "FAIL",
      ok: false,
      appOnly: false,
      text: `${label}: no token for ${scope}: ${credentialText(error)}`,
      todo: tokenTodo(ctx.cfg, surface, error),
    };
  }
  const summary = summarizeToken(token);
  if (!summary)
    return {
      surface,
      outcome: "PASS",
      ok: true,
      appOnly: false,
      text: `${label}: a token that is not a JWT (its audience and expiry cannot be shown)`,
    };
  const text = `${label}: ${describeToken(summary, ctx.now())}`;
  if (surface === "gateway" && summary.kind === "app-only")
    return {
      surface,
      outcome: "WARN",
      ok: true,
      appOnly: true,
      text,
      todo: `the gateway gets an app-only token, which Microsoft's tool never sends (it signs a user in; DWLibary/TokenRefresh.cs:127-160): give the gateway a delegated sign-in with ${DELEGATED_SETTINGS}`,
    };
  return { surface, outcome: "PASS", ok: true, appOnly: summary.kind === "app-only", text };
}

/** What to do when a surface's credential gave no token. */
function tokenTodo(cfg: ProviderConfig, surface: Surface, error: unknown): string {
  const cause = error instanceof DualWriteError ? error.cause : undefined;
  if (cause instanceof DualWriteError && cause.code === "RefreshTokenExpired")
    return `sign in again at the dual-write page (https://dataintegrator.trafficmanager.net/dualWrite) and set ${SETTINGS.gatewayRefreshToken.key} (as a secret) to the new refresh token`;
  const g = cfg.gateway;
  if (surface === "gateway" && g.kind !== "app") {
    switch (g.kind) {
      case "password":
        return `check ${SETTINGS.gatewayUsername.key} and ${SETTINGS.gatewayPassword.key}: the account must exist in tenant ${g.tenantId}, have no MFA, and no conditional access may block the password grant`;
      case "refreshToken":
        return `set ${SETTINGS.gatewayRefreshToken.key} to the refresh token of a fresh browser sign-in at the dual-write page (client ${g.clientId})`;
      case "azureCli":
        return "sign in with `az login` (the tenant's consent for the Azure CLI to get a gateway token is not documented)";
      case "tokenCommand":
        return `fix ${SETTINGS.gatewayTokenCommand.key}: run it yourself and check that it prints a token`;
    }
  }
  return cfg.credential === "azureCli"
    ? "sign in with `az login` to the tenant of the environments"
    : `check the app credential of step 1 (${SETTINGS.tenantId.key}, ${SETTINGS.clientId.key} and its secret, certificate or token file)`;
}

/** Step 2 from the checks of each surface (or why a surface has none yet). */
export function tokensStep(checks: readonly TokenCheck[]): StepResult {
  const outcome = worst(checks.map((c) => c.outcome));
  const failed = checks.filter((c) => c.outcome === "FAIL").map((c) => SURFACE_LABEL[c.surface]);
  const summary =
    failed.length > 0
      ? `no token for ${failed.length > 1 ? `${failed.slice(0, -1).join(", ")} and ${failed.at(-1)}` : failed.join("")}`
      : checks
          .filter((c) => c.ok)
          .map((c) => `${SURFACE_LABEL[c.surface]} ${c.appOnly ? "app-only" : "delegated"}`)
          .join(", ");
  const todos = checks
    .filter((c) => c.outcome === outcome && c.todo !== undefined)
    .map((c) => c.todo);
  return result(
    "tokens",
    outcome,
    summary || "no token acquired",
    checks.map((c) => ({ outcome: c.outcome, text: c.text })),
    todos.length > 0 ? [...new Set(todos)].join("; ") : undefined,
  );
}

/** A surface without a token check yet (e.g. Dataverse with no URL). */
export function tokenSkipped(surface: Surface, reason: string): TokenCheck {
  return {
    surface,
    outcome: "SKIP",
    ok: false,
    appOnly: false,
    text: `${SURFACE_LABEL[surface]}: ${reason}`,
  };
}

// ── step 3: gateway and environment resolution ─────────────────────────────────────────────────

/** Step 3's result and, when linked, the gateway's record of the environment. */
export interface EnvironmentCheck {
  readonly step: StepResult;
  readonly environment: GatewayEnvironment | undefined;
}

/**
 * Reaches the gateway and resolves the F&O environment by its host, as Microsoft's tool does
 * (DWLibary/DWEnvCalls.cs:24-38, ArgsHandler.cs:78-100): `[]` means not linked — or a gateway of
 * another region, which knows nothing of the environment either.
 */
export async function checkEnvironment(
  ctx: DoctorContext,
  gatewayToken: TokenCheck,
): Promise<EnvironmentCheck> {
  const host = environmentIdentifier(ctx.financeOperationsUrl);
  const request = `GET ${ctx.cfg.gatewayUrl}/api/DualWriteManagement/1.0/Environments?targetType=AX&identifier=${host}`;
  let env: GatewayEnvironment | undefined;
  try {
    env = await ctx.clients.gateway.findEnvironment(ctx.financeOperationsUrl, { fresh: true });
  } catch (error) {
    const f = callFailure(error, {
      surface: "gateway",
      baseUrl: ctx.cfg.gatewayUrl,
      cfg: ctx.cfg,
      appOnlyToken: gatewayToken.appOnly,
    });
    return {
      step: result(
        "gatewayEnvironment",
        "FAIL",
        f.summary,
        [{ text: request }, ...more(f)],
        f.todo,
      ),
      environment: undefined,
    };
  }
  if (!env)
    return {
      step: result(
        "gatewayEnvironment",
        "FAIL",
        `the gateway lists no environment ${host}: not linked (or wrong gateway region)`,
        [{ text: `${request} → []` }],
        `link ${host} to its Dataverse environment (the DualWriteConnection resource does, or the dual-write page); if the dual-write page shows it linked, ${SETTINGS.gatewayUrl.key} is another region's gateway: take the host the portal calls for this environment`,
      ),
      environment: undefined,
    };
  return {
    step: result(
      "gatewayEnvironment",
      "PASS",
      `the gateway at ${ctx.cfg.gatewayUrl} knows ${host}: environment ${env.cid}, connection set ${env.cname}`,
      [
        { text: `${request} → 1 environment` },
        {
          text: `linked Dataverse: Power Platform environment ${env.powerAppsEnvironment ?? "(not given)"}`,
        },
      ],
    ),
    environment: env,
  };
}

// ── step 4: connection set ─────────────────────────────────────────────────────────────────────

/** Step 4's result and the connection set, when read. */
export interface ConnectionSetCheck {
  readonly step: StepResult;
  readonly set: ConnectionSet | undefined;
}

/**
 * Reads the link's connection set (DWLibary/Engines/DWCommonEngine.cs:337-411): its legal
 * entities and the Dataverse environment's `directUrl`, compared with `--dataverse-url`.
 */
export async function checkConnectionSet(
  ctx: DoctorContext,
  env: GatewayEnvironment,
  dataverseUrl: string | undefined,
): Promise<ConnectionSetCheck> {
  let set: ConnectionSet | undefined;
  try {
    set = await ctx.clients.gateway.getConnectionSet(env.cname, { fresh: true });
  } catch (error) {
    const f = gatewayFailure(ctx, error);
    return { step: result("connectionSet", "FAIL", f.summary, more(f), f.todo), set: undefined };
  }
  if (!set)
    return {
      step: result(
        "connectionSet",
        "FAIL",
        `the gateway lists connection set ${env.cname} for the environment, but GET /api/ConnectionSet/${env.cname} answers 404`,
        [],
        "the link may be changing: look at the dual-write page, and run doctor again in a few minutes",
      ),
      set: undefined,
    };
  const checks: { outcome: Outcome; todo?: string }[] = [{ outcome: "PASS" }];
  const details: Detail[] = [{ text: `connection set ${set.cname}, F&O environment ${set.cid}` }];
  const crm = set.dataverse;
  details.push({
    text: crm
      ? `Dataverse (CRM): ${crm.name}, ${crm.directUrl ?? "(no directUrl)"}, Power Platform environment ${crm.powerAppsEnvironment ?? "(not given)"}`
      : "Dataverse (CRM): none in the set",
  });
  if (set.financeOperations)
    details.push({
      text: `F&O (AX): ${set.financeOperations.name}, ${set.financeOperations.directUrl ?? "(no directUrl)"}`,
    });
  details.push({
    text: `legal entities (${set.legalEntities.length}): ${set.legalEntities.join(", ") || "none"}`,
  });
  if (!crm?.directUrl) {
    checks.push({
      outcome: "WARN",
      todo: "the set names no Dataverse URL: give --dataverse-url to check Dataverse",
    });
    details.push({ outcome: "WARN", text: "the set names no Dataverse URL" });
  } else if (dataverseUrl !== undefined && !sameUrl(crm.directUrl, dataverseUrl)) {
    checks.push({
      outcome: "WARN",
      todo: `the F&O environment is linked to ${crm.directUrl}: check --dataverse-url, or relink to ${dataverseUrl} (forceReset)`,
    });
    details.push({
      outcome: "WARN",
      text: `the link's Dataverse is ${crm.directUrl}, not --dataverse-url ${dataverseUrl}`,
    });
  } else if (dataverseUrl !== undefined) {
    details.push({ outcome: "PASS", text: `the link's Dataverse is --dataverse-url` });
  }
  if (set.legalEntities.length === 0) {
    checks.push({
      outcome: "WARN",
      todo: "declare the legal entities of the link (DualWriteConnection legalEntities, or the dual-write page)",
    });
    details.push({ outcome: "WARN", text: "the link has no legal entities" });
  }
  const outcome = worst(checks.map((c) => c.outcome));
  const todo = checks.find((c) => c.outcome === outcome && c.todo)?.todo;
  return {
    step: result(
      "connectionSet",
      outcome,
      `${set.legalEntities.length} legal entit${set.legalEntities.length === 1 ? "y" : "ies"}, Dataverse ${crm?.directUrl ?? "unknown"}`,
      details,
      todo,
    ),
    set,
  };
}

// ── step 5: solutions ──────────────────────────────────────────────────────────────────────────

/** Lists the orchestration solutions the gateway offers for the environment. */
export async function checkSolutions(ctx: DoctorContext, cid: string): Promise<StepResult> {
  let solutions;
  try {
    solutions = await ctx.clients.gateway.listSolutions(cid, { fresh: true });
  } catch (error) {
    const f = gatewayFailure(ctx, error);
    return result("solutions", "FAIL", f.summary, more(f), f.todo);
  }
  const details = solutions.map((s) => ({
    text: `${s.uniqueName} ${s.version ?? ""}${s.friendlyName ? ` (${s.friendlyName})` : ""}`.replace(
      /\s+/g,
      " ",
    ),
  }));
  if (solutions.length === 0)
    return result(
      "solutions",
      "WARN",
      "the gateway lists no dual-write solution",
      [],
      "install the dual-write orchestration solutions in the Dataverse environment (the dual-write page lists what is missing)",
    );
  return result(
    "solutions",
    "PASS",
    `${solutions.length} solution${solutions.length === 1 ? "" : "s"}`,
    details,
  );
}

// ── step 6: maps ───────────────────────────────────────────────────────────────────────────────

const STATE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MapState).map(([name, value]) => [value, name]),
);

/** Counts the link's maps by state and names the ones with no project (`pid`) yet. */
export async function checkMaps(ctx: DoctorContext, cid: string): Promise<StepResult> {
  let maps: GatewayMap[];
  try {
    maps = await ctx.clients.gateway.listMaps(cid, { fresh: true });
  } catch (error) {
    const f = gatewayFailure(ctx, error);
    return result("maps", "FAIL", f.summary, more(f), f.todo);
  }
  if (maps.length === 0)
    return result(
      "maps",
      "WARN",
      "no maps: no solution has been applied to this link",
      [],
      "apply the solutions (DualWriteConnection solutions, or Apply solution on the dual-write page)",
    );
  const byState = new Map<string, number>();
  for (const m of maps) {
    const name = STATE_NAMES[m.state] ?? `state ${String(m.state)}`;
    byState.set(name, (byState.get(name) ?? 0) + 1);
  }
  const counts = [...byState].map(([state, n]) => `${state} ${n}`).join(", ");
  const noPid = maps.filter((m) => m.pid === undefined).map((m) => m.tName);
  const details: Detail[] = [{ text: `by state: ${counts}` }];
  details.push({
    text:
      noPid.length === 0
        ? "every map has a project (pid)"
        : `${noPid.length} without a project (pid), initialized (action "8") before their first action: ${shortList(noPid)}`,
  });
  return result("maps", "PASS", `${maps.length} maps (${counts})`, details);
}

// ── step 7: Dataverse ──────────────────────────────────────────────────────────────────────────

/**
 * Reaches Dataverse: WhoAmI, the environment id (RetrieveCurrentOrganization, compared with the
 * link's), and the F&O environment it is paired with in Power Platform.
 */
export async function checkDataverse(
  ctx: DoctorContext,
  dataverseUrl: string,
  link: { readonly environment?: GatewayEnvironment; readonly set?: ConnectionSet },
): Promise<StepResult> {
  const dv = ctx.clients.dataverseFor(dataverseUrl);
  const details: Detail[] = [];
  const warnings: { text: string; todo: string }[] = [];
  try {
    const me = await dv.whoAmI();
    details.push({ text: `WhoAmI: user ${me.UserId}, organization ${me.OrganizationId}` });
    const org = await dv.currentOrganization();
    details.push({
      text: `RetrieveCurrentOrganization: ${org.FriendlyName ?? org.UniqueName ?? "(no name)"}, Power Platform environment ${org.EnvironmentId}`,
    });
    const linked =
      link.set?.dataverse?.powerAppsEnvironment ?? link.environment?.powerAppsEnvironment;
    if (linked !== undefined && linked.toLowerCase() === org.EnvironmentId.toLowerCase())
      details.push({ outcome: "PASS", text: "the environment the link names" });
    if (linked !== undefined && linked.toLowerCase() !== org.EnvironmentId.toLowerCase())
      warnings.push({
        text: `the link names Power Platform environment ${linked}, but ${dataverseUrl} is ${org.EnvironmentId}`,
        todo: `check --dataverse-url: the F&O environment is linked to another Dataverse environment`,
      });
    const paired = await dv.integrationDetails();
    const fnoHost = environmentIdentifier(ctx.financeOperationsUrl).toLowerCase();
    if (!paired) {
      details.push({ text: "RetrieveFinanceAndOperationsIntegrationDetails: not paired" });
      if (!link.environment)
        warnings.push({
          text: "not paired with an F&O environment in Power Platform",
          todo: "pair the environments in the Power Platform admin center (the provider takes the F&O environment id from the pairing to link a new environment)",
        });
    } else {
      details.push({
        text: `paired with F&O ${paired.Url} (environment ${paired.Id})`,
      });
      if (environmentIdentifier(paired.Url).toLowerCase() !== fnoHost)
        warnings.push({
          text: `paired with ${paired.Url}, not ${ctx.financeOperationsUrl}`,
          todo: "check --finance-operations-url and --dataverse-url: they are not a pair in Power Platform",
        });
    }
  } catch (error) {
    const f = callFailure(error, {
      surface: "dataverse",
      baseUrl: dataverseUrl,
      cfg: ctx.cfg,
      appOnlyToken: false,
    });
    return result("dataverse", "FAIL", f.summary, [...details, ...more(f)], f.todo);
  }
  for (const w of warnings) details.push({ outcome: "WARN", text: w.text });
  return result(
    "dataverse",
    warnings.length > 0 ? "WARN" : "PASS",
    `${dataverseUrl} answers`,
    details,
    warnings[0]?.todo,
  );
}

// ── step 8: Finance and Operations ─────────────────────────────────────────────────────────────

/** Reaches F&O with the provider's legal-entity read, and compares with the link's. */
export async function checkFinanceOperations(
  ctx: DoctorContext,
  linked: readonly string[] | undefined,
): Promise<StepResult> {
  const url = ctx.financeOperationsUrl;
  let entities;
  try {
    entities = await ctx.clients.fnoFor(url).legalEntities({ fresh: true });
  } catch (error) {
    const f = callFailure(error, {
      surface: "fno",
      baseUrl: url,
      cfg: ctx.cfg,
      appOnlyToken: false,
    });
    return result("financeOperations", "FAIL", f.summary, more(f), f.todo);
  }
  const codes = entities.map((e) => e.code);
  const details: Detail[] = [
    { text: `GET ${url}/data/LegalEntities: ${codes.length} legal entities: ${shortList(codes)}` },
  ];
  const missing = (linked ?? []).filter((c) => !codes.includes(c.toUpperCase()));
  if (missing.length > 0) {
    details.push({
      outcome: "WARN",
      text: `linked but not in F&O: ${missing.join(", ")}`,
    });
    return result(
      "financeOperations",
      "WARN",
      `${url} answers`,
      details,
      "the link names legal entities this F&O environment does not have: check --finance-operations-url",
    );
  }
  return result("financeOperations", "PASS", `${url} answers`, details);
}

// ── helpers ────────────────────────────────────────────────────────────────────────────────────

/** The provider's full message of a failure, as a detail line. */
function more(f: Failure): Detail[] {
  return f.detail === undefined ? [] : [{ text: f.detail }];
}

function gatewayFailure(ctx: DoctorContext, error: unknown) {
  return callFailure(error, {
    surface: "gateway",
    baseUrl: ctx.cfg.gatewayUrl,
    cfg: ctx.cfg,
    appOnlyToken: false,
  });
}

/** At most ten names, then how many more. */
function shortList(names: readonly string[]): string {
  if (names.length === 0) return "none";
  const shown = names.slice(0, 10).join(", ");
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}
