/**
 * DualWriteConnection's lifecycle: the link between one F&O environment and one Dataverse
 * environment, its legal entities, its orchestration solutions and the health check.
 *
 * | step   | HTTP calls                                                                                      |
 * |--------|--------------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments; GET F&O LegalEntities; GET DWM/SolutionAware/<cid>/Solutions/; GET Dataverse solutions, cdm_companies, RetrieveFinanceAndOperationsIntegrationDetails; while not linked: F&O CustomersV3 and Dataverse accounts/contacts counts |
 * | diff   | GET DWM/Environments; GET /api/ConnectionSet/<cname>; GET …/Solutions/; (default legal entities) GET F&O LegalEntities |
 * | create | the check's reads; POST F&O LegalEntities (createIfMissing); POST /api/ConnectionSet/<cid>/Reset (link) — or, adopting, PUT …/LegalEntities; POST …/RestoreTemplates + GET …/Status/<id> |
 * | read   | GET DWM/Environments; GET /api/ConnectionSet/<cname>; GET …/Solutions/                           |
 * | update | as create; before a legal-entity edit GET DWM/Entities (guards)                                |
 * | delete | GET DWM/Environments; GET DWM/Entities; POST /api/ConnectionSet/<cid>/Reset `{}` (unlink)       |
 *
 * Never deleted: business rows, and legal entities created in F&O.
 */
import { DualWriteError } from "../../errors";
import type { GatewayEnvironment } from "../../clients/gateway";
import { MapState } from "../../clients/gateway";
import { columnText } from "../common/companies";
import { compareVersions, stateName } from "../common/maps";
import {
  defaultLegalEntities,
  defaultSolutions,
  scenarioFacts,
  SCENARIOS,
  type Scenario,
  type ScenarioFacts,
} from "../../scenario/scenarios";
import { containsUnknown, normalizeUrl, UNKNOWN, type CheckFailure } from "../common/check";
import { deepEqual, diffDeclared, sameSet } from "../common/diff";
import {
  collectPropertyFailures,
  FailureList,
  InvalidInputError,
  throwUnlessValid,
} from "../common/failures";
import type {
  Clients,
  DiffOutcome,
  HandlerContext,
  Lifecycle,
  ReadOutcome,
} from "../common/handler";
import {
  connectionSchemas,
  crossPropertyFailures,
  legalEntitySpecOf,
  MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES,
  sameUrl,
  type DualWriteConnectionInputs,
  type DualWriteConnectionOutputs,
  type LegalEntitySpec,
} from "./dualWriteConnection.schema";

const RESOURCE = "DualWriteConnection";

/** Inputs whose change makes a new link: the link is 1:1, so the old one is reset first. */
const REPLACE_ON_CHANGE = ["financeOperationsUrl", "dataverseUrl"] as const;
const DECLARED = [
  "scenario",
  "financeOperationsUrl",
  "dataverseUrl",
  "legalEntities",
  "solutions",
  "skipInitialWritesForNewLegalEntities",
  "forceReset",
] as const satisfies readonly (keyof DualWriteConnectionInputs)[];

/**
 * Minimum versions of Dataverse solutions that dual-write checks when linking. The one
 * documented case: "Dynamics 365 for Sales solution 'Dynamics365Company' has version mismatch.
 * Version: '2.0.2.10' Required version: '2.0.133'" (DW/dual-write-troubleshooting-dual-write-module.md).
 */
export const MINIMUM_SOLUTION_VERSIONS: Readonly<Record<string, string>> = {
  Dynamics365Company: "2.0.133",
};

/** The declaration with defaults applied and URLs in one spelling. */
interface Desired {
  readonly scenario: Scenario;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  /** Declared legal entities; undefined = every legal entity F&O has. */
  readonly legalEntities: readonly LegalEntitySpec[] | undefined;
  readonly solutions: readonly string[];
  readonly skipInitialWrites: boolean;
  readonly forceReset: boolean;
}

function desired(inputs: DualWriteConnectionInputs): Desired {
  const declared = inputs.legalEntities?.map(legalEntitySpecOf);
  const byDefault = defaultLegalEntities(inputs.scenario)?.map((code) => ({ code }));
  return {
    scenario: inputs.scenario,
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    legalEntities: declared ?? byDefault,
    solutions: inputs.solutions ?? [...defaultSolutions(inputs.scenario)],
    skipInitialWrites: inputs.skipInitialWritesForNewLegalEntities ?? false,
    forceReset: inputs.forceReset ?? false,
  };
}

/** The legal entity codes the link should hold, given what F&O has. */
function desiredCodes(d: Desired, financeOperationsCodes: readonly string[]): string[] {
  const codes = d.legalEntities ? d.legalEntities.map((le) => le.code) : financeOperationsCodes;
  return sortedCodes(codes);
}

function sortedCodes(codes: readonly string[]): string[] {
  return [...new Set(codes.map((c) => c.toUpperCase()))].sort();
}

/** Pure rules: each property's schema, then the rules between properties. */
function pureCheck(news: Readonly<Record<string, unknown>>): {
  failures: FailureList;
  unknown: ReadonlySet<string>;
} {
  const { list, unknown, values } = collectPropertyFailures(RESOURCE, connectionSchemas, news);
  for (const f of crossPropertyFailures(values)) {
    if (!list.has(f.property)) list.add(f.property, f.reason);
  }
  return { failures: list, unknown };
}

/** What the pre-flight read, for `create`/`update` to reuse. */
interface Preflight {
  readonly env: GatewayEnvironment;
  readonly financeOperationsLegalEntities: readonly { code: string; name: string }[];
}

/**
 * The rules that need the environments (reads only). `previousDataverseUrl` is the Dataverse of
 * the link this resource already manages, if any: being linked to it is not a conflict.
 */
async function preflight(
  d: Desired,
  c: Clients,
  failures: FailureList,
  previousDataverseUrl: string | undefined,
): Promise<Preflight | undefined> {
  const fo = d.financeOperationsUrl;
  const dv = d.dataverseUrl;
  const env = await c.gateway.findEnvironment(fo);
  if (!env) {
    failures.add(
      "financeOperationsUrl",
      `The dual-write gateway knows no F&O environment at ${fo}. Check the URL (the environment's address, e.g. https://contoso.operations.dynamics.com) and that the environment is enabled for Power Platform integration.`,
    );
    return undefined;
  }
  const linkedHere =
    env.linked && env.linkedDataverseUrl !== undefined && sameUrl(env.linkedDataverseUrl, dv);
  const linkedToOurs =
    env.linked &&
    env.linkedDataverseUrl !== undefined &&
    previousDataverseUrl !== undefined &&
    sameUrl(env.linkedDataverseUrl, previousDataverseUrl);
  if (env.linked && !linkedHere && !linkedToOurs) {
    failures.add(
      "dataverseUrl",
      `F&O ${fo} is already linked to Dataverse ${env.linkedDataverseUrl ?? "(unknown)"}, not ${dv}. A link is 1:1 and is never overwritten silently: declare that Dataverse URL to adopt the link, or reset it in the dual-write workspace first.`,
    );
  }

  const entities = await c.fno.legalEntities();
  const byCode = new Map(entities.map((e) => [e.code.toUpperCase(), e]));
  if (d.legalEntities) {
    const missing = d.legalEntities
      .filter((le) => !byCode.has(le.code) && le.createIfMissing !== true)
      .map((le) => le.code);
    if (missing.length > 0) {
      failures.add(
        "legalEntities",
        `${plural(missing.length, "legal entity", "legal entities")} ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not exist in F&O ${fo} (it has ${[...byCode.keys()].sort().join(", ") || "none"}). Fix the code, or declare { code: "${missing[0] ?? ""}", createIfMissing: true } to create it.`,
      );
    }
  } else if (entities.length > MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES && !d.skipInitialWrites) {
    failures.add(
      "legalEntities",
      `Scenario "${d.scenario}" links every legal entity by default, and F&O ${fo} has ${entities.length}; dual-write runs initial writes for at most ${MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES}. Declare legalEntities (at most ${MAX_LEGAL_ENTITIES_WITH_INITIAL_WRITES}), or set skipInitialWritesForNewLegalEntities: true.`,
    );
  }
  const toLink = desiredCodes(d, [...byCode.keys()]).flatMap((code) => {
    const found = byCode.get(code);
    return found ? [found] : [];
  });
  const blank = toLink.filter((e) => e.name.trim() === "").map((e) => e.code);
  const duplicates = duplicatedNames(toLink);
  if (blank.length > 0 || duplicates.length > 0) {
    failures.add(
      "legalEntities",
      'Dual-write cannot save a link whose companies have blank or duplicate names ("An item with the same key has already been added"): ' +
        [
          ...(blank.length > 0
            ? [`${blank.join(", ")} ${blank.length === 1 ? "has" : "have"} no name`]
            : []),
          ...duplicates.map(([name, codes]) => `${codes.join(" and ")} are both named "${name}"`),
        ].join("; ") +
        ". Rename them in F&O (Organization administration > Legal entities) and run again.",
    );
  }

  await healthCheck(d, c, failures);
  if (!linkedHere && !linkedToOurs) await scenarioCheck(d, c, failures);
  return { env, financeOperationsLegalEntities: entities };
}

/**
 * The health check (DW/requirements-and-prerequisites.md): the declared orchestration solutions
 * installed in Dataverse, at versions dual-write accepts; the Power Platform pairing; company names.
 * Dataverse's own `solutions` table answers before the link exists (the gateway's solution list
 * needs a link).
 */
async function healthCheck(d: Desired, c: Clients, failures: FailureList): Promise<void> {
  const rows = await c.dataverse.list("solutions", { select: ["uniquename", "version"] });
  const installed = new Map(
    rows.map((r) => [
      columnText(r, "uniquename").toLowerCase(),
      { name: columnText(r, "uniquename"), version: columnText(r, "version") },
    ]),
  );
  const missing = d.solutions.filter((name) => !installed.has(name.toLowerCase()));
  if (missing.length > 0) {
    failures.add(
      "solutions",
      `${plural(missing.length, "Solution", "Solutions")} ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not installed in Dataverse ${d.dataverseUrl}. Install the dual-write orchestration package that holds ${missing.length === 1 ? "it" : "them"} (Power Platform admin center, or AppSource), or remove ${missing.length === 1 ? "it" : "them"} from solutions.`,
    );
  }
  for (const [name, minimum] of Object.entries(MINIMUM_SOLUTION_VERSIONS)) {
    const found = installed.get(name.toLowerCase());
    if (found && compareVersions(found.version, minimum) < 0) {
      failures.add(
        "dataverseUrl",
        `Dataverse ${d.dataverseUrl} fails the dual-write health check: solution '${name}' has version ${found.version}, and dual-write requires ${minimum} or later. Update the Dynamics 365 apps in the Power Platform admin center, then run again.`,
      );
    }
  }

  const pairing = await c.dataverse.integrationDetails();
  if (pairing?.Url && !sameUrl(pairing.Url, d.financeOperationsUrl)) {
    failures.add(
      "dataverseUrl",
      `Dataverse ${d.dataverseUrl} is paired with F&O ${pairing.Url} in Power Platform integration, not with ${d.financeOperationsUrl}. Dual-write links the environments that Power Platform integration pairs: declare the matching pair.`,
    );
  }

  const companies = await c.dataverse.list("cdm_companies", {
    select: ["cdm_companycode", "cdm_name"],
  });
  const duplicates = duplicatedNames(
    companies.map((r) => ({
      code: columnText(r, "cdm_companycode"),
      name: columnText(r, "cdm_name"),
    })),
  );
  if (duplicates.length > 0) {
    failures.add(
      "dataverseUrl",
      `Dataverse ${d.dataverseUrl} has companies (cdm_company) with the same name: ${duplicates.map(([name, codes]) => `${codes.join(" and ")} are both "${name}"`).join("; ")}. Dual-write cannot save a link then ("An item with the same key has already been added"): rename them first.`,
    );
  }
}

/** Rejects a scenario that the environments contradict, while they are not linked yet. */
async function scenarioCheck(d: Desired, c: Clients, failures: FailureList): Promise<void> {
  const facts = scenarioFacts(d.scenario);
  const observed: {
    financeOperations: ScenarioFacts["financeOperations"];
    dataverse: ScenarioFacts["dataverse"];
  } = { ...facts };
  const problems: string[] = [];
  if (facts.financeOperations === "new-empty") {
    const customers = await c.fno.count("CustomersV3", { crossCompany: true });
    if (customers > 0) {
      observed.financeOperations = "new-data";
      problems.push(
        `F&O ${d.financeOperationsUrl} already has ${customers.toLocaleString("en-US")} customers (CustomersV3), but the scenario says it is new and empty`,
      );
    }
  }
  if (facts.dataverse === "new") {
    const accounts = await c.dataverse.count("accounts");
    const contacts = await c.dataverse.count("contacts");
    if (accounts + contacts > 0) {
      observed.dataverse = "existing";
      problems.push(
        `Dataverse ${d.dataverseUrl} already has ${accounts.toLocaleString("en-US")} accounts and ${contacts.toLocaleString("en-US")} contacts, but the scenario says it is new`,
      );
    }
  }
  if (problems.length > 0) {
    // F&O with data may be a new environment loaded with data or an existing one: offer both.
    const foSides =
      observed.financeOperations === "new-data"
        ? ["new-data", "existing"]
        : [observed.financeOperations];
    const suggestions = SCENARIOS.filter((s) => {
      const f = scenarioFacts(s);
      return foSides.includes(f.financeOperations) && f.dataverse === observed.dataverse;
    });
    failures.add(
      "scenario",
      `Scenario "${d.scenario}" contradicts the environments: ${problems.join("; ")}. Declare scenario ${suggestions.map((s) => `"${s}"`).join(" or ")}${observed.dataverse === "existing" ? ", which bootstrap company data in Dataverse before any initial sync" : ""}.`,
    );
  }
}

/** Creates the declared legal entities F&O lacks (those that ask for it). */
async function createMissingLegalEntities(
  d: Desired,
  pre: Preflight,
  c: Clients,
  ctx: HandlerContext,
): Promise<string[]> {
  const existing = new Set(pre.financeOperationsLegalEntities.map((e) => e.code.toUpperCase()));
  const created: string[] = [];
  for (const le of d.legalEntities ?? []) {
    if (existing.has(le.code) || le.createIfMissing !== true) continue;
    ctx.log(
      `Creating legal entity ${le.code} ("${le.name ?? le.code}") in F&O ${d.financeOperationsUrl}`,
    );
    await c.fno.createLegalEntity(le.code, le.name ?? le.code);
    created.push(le.code);
  }
  return [...existing, ...created];
}

/** Changes the legal entities of a live link, after the guards dual-write itself applies. */
async function changeLegalEntities(
  d: Desired,
  cid: string,
  current: readonly string[],
  wanted: readonly string[],
  c: Clients,
  ctx: HandlerContext,
): Promise<void> {
  const maps = await c.gateway.listMaps(cid, { fresh: true });
  const initializing = maps.filter((m) => m.state === MapState.InitialSync).map((m) => m.tName);
  if (initializing.length > 0) {
    throw new DualWriteError(
      `The legal entities of the link cannot change while ${initializing.join(", ")} ${initializing.length === 1 ? "is" : "are"} in initial sync (dual-write refuses the edit). Wait until the initial sync ends, then run pulumi up again.`,
      "MapInitializing",
    );
  }
  const removed = current.filter((code) => !wanted.includes(code));
  const paused = maps.filter((m) => m.state === MapState.Paused).map((m) => m.tName);
  if (removed.length > 0 && paused.length > 0) {
    throw new DualWriteError(
      `Legal entities ${removed.join(", ")} cannot be removed while ${paused.join(", ")} ${paused.length === 1 ? "is" : "are"} Paused (dual-write refuses the edit). Resume or stop ${paused.length === 1 ? "that map" : "those maps"} first.`,
      "MapPaused",
    );
  }
  ctx.log(
    `Setting the legal entities of the link to ${wanted.join(", ")} (were ${current.join(", ") || "none"})`,
  );
  await c.gateway.setLegalEntities(cid, wanted, d.skipInitialWrites);
}

/** Applies the declared solutions that are not applied yet. */
async function applyMissingSolutions(
  d: Desired,
  cid: string,
  c: Clients,
  ctx: HandlerContext,
): Promise<void> {
  const solutions = await c.gateway.listSolutions(cid, { fresh: true });
  const missing = d.solutions.filter(
    (name) =>
      !solutions.some((s) => s.uniqueName.toLowerCase() === name.toLowerCase() && s.applied),
  );
  if (missing.length === 0) return;
  ctx.log(
    `Applying orchestration ${plural(missing.length, "solution", "solutions")} ${missing.join(", ")}`,
  );
  await c.gateway.applySolutions(cid, missing, { timeoutMs: ctx.options.solutionTimeoutMs });
}

/** Links (or adopts the link), then converges legal entities and solutions. */
async function converge(
  d: Desired,
  pre: Preflight,
  c: Clients,
  ctx: HandlerContext,
): Promise<string> {
  const env = pre.env;
  const available = await createMissingLegalEntities(d, pre, c, ctx);
  const wanted = desiredCodes(d, available);
  const linkedHere =
    env.linked &&
    env.linkedDataverseUrl !== undefined &&
    sameUrl(env.linkedDataverseUrl, d.dataverseUrl);
  if (env.linked && !linkedHere) {
    throw new DualWriteError(
      `F&O ${d.financeOperationsUrl} is linked to Dataverse ${env.linkedDataverseUrl ?? "(unknown)"}, not ${d.dataverseUrl}; the provider does not overwrite a link it did not make. Reset that link in the dual-write workspace, or declare its Dataverse URL.`,
      "LinkConflict",
    );
  }
  if (!env.linked) {
    ctx.log(
      `Linking F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl} for ${wanted.join(", ")}`,
    );
    await c.gateway.link(env.cid, {
      dataverseUrl: d.dataverseUrl,
      financeOperationsUrl: d.financeOperationsUrl,
      legalEntities: wanted,
      skipInitialWrites: d.skipInitialWrites,
      forceReset: d.forceReset,
    });
  } else {
    const set = await c.gateway.getConnectionSet(env.cname, { fresh: true });
    const current = sortedCodes(set?.legalEntities ?? []);
    if (!sameSet(current, wanted)) await changeLegalEntities(d, env.cid, current, wanted, c, ctx);
  }
  await applyMissingSolutions(d, env.cid, c, ctx);
  return env.cid;
}

/** The observed outputs of a linked connection, or undefined when it is not linked as declared. */
async function observe(
  d: Desired,
  c: Clients,
  fresh: boolean,
): Promise<Omit<DualWriteConnectionOutputs, keyof DualWriteConnectionInputs> | undefined> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl, { fresh });
  if (
    !env?.linked ||
    env.linkedDataverseUrl === undefined ||
    !sameUrl(env.linkedDataverseUrl, d.dataverseUrl)
  )
    return undefined;
  const set = await c.gateway.getConnectionSet(env.cname, { fresh });
  if (!set) return undefined;
  const solutions = await c.gateway.listSolutions(env.cid, { fresh });
  return {
    environmentId: env.cid,
    connectionSetName: env.cname,
    linkedLegalEntities: sortedCodes(set.legalEntities),
    appliedSolutions: solutions
      .filter((s) => s.applied)
      .map((s) => s.uniqueName)
      .sort(),
  };
}

function validInputs(inputs: DualWriteConnectionInputs): Desired {
  const { failures, unknown } = pureCheck(inputs as unknown as Record<string, unknown>);
  throwUnlessValid(RESOURCE, failures, unknown, "before the link is made");
  return desired(inputs);
}

/** DualWriteConnection's lifecycle. */
export const dualWriteConnectionLifecycle: Lifecycle<
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs
> = {
  resource: RESOURCE,

  async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
    const olds = oldInputs as Readonly<Record<string, unknown>>;
    const news = newInputs as Readonly<Record<string, unknown>>;
    const { failures, unknown } = pureCheck(news);
    if (!failures.empty || unknown.size > 0) return failures.toArray();
    const inputs = news as unknown as DualWriteConnectionInputs;
    const previous = olds as Partial<DualWriteConnectionInputs>;
    // An unchanged declaration of an existing link was checked when it was made; drift is
    // diff's business. New or changed declarations are checked against the environments.
    const isNew = previous.financeOperationsUrl === undefined;
    if (!isNew && DECLARED.every((k) => deepEqual(previous[k], inputs[k]))) return [];
    const d = desired(inputs);
    const previousDataverse =
      !isNew &&
      typeof previous.dataverseUrl === "string" &&
      sameUrl(previous.financeOperationsUrl ?? "", d.financeOperationsUrl)
        ? previous.dataverseUrl
        : undefined;
    await preflight(d, ctx.clients(d), failures, previousDataverse);
    return failures.toArray();
  },

  async diff(_id, olds, news, ctx): Promise<DiffOutcome> {
    const replaces = REPLACE_ON_CHANGE.filter(
      (k) => news[k] === UNKNOWN || typeof olds[k] !== "string" || !sameUrl(olds[k], news[k]),
    );
    if (replaces.length > 0) {
      return {
        changes: true,
        replaces: [...replaces],
        deleteBeforeReplace: true,
        reasons: replaces.map(
          (k) =>
            `${k} changes from ${olds[k]} to ${news[k] === UNKNOWN ? "a value not known yet" : news[k]}: the link is reset and made again`,
        ),
      };
    }
    const reasons: string[] = [];
    const declared = diffDeclared<DualWriteConnectionInputs>(olds, news, DECLARED, []);
    for (const k of declared.changed) reasons.push(`${k} changes`);
    if (containsUnknown(news))
      return {
        changes: true,
        replaces: [],
        reasons: [...reasons, "some inputs are not known yet"],
      };

    const d = desired(news);
    const c = ctx.clients(d);
    const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
    if (!env) {
      reasons.push(`the gateway no longer knows F&O ${d.financeOperationsUrl}`);
    } else if (!env.linked) {
      reasons.push(
        `F&O ${d.financeOperationsUrl} is not linked any more (reset by hand?); pulumi up links it again`,
      );
    } else if (
      env.linkedDataverseUrl === undefined ||
      !sameUrl(env.linkedDataverseUrl, d.dataverseUrl)
    ) {
      reasons.push(
        `F&O ${d.financeOperationsUrl} is now linked to ${env.linkedDataverseUrl ?? "another Dataverse"}; pulumi up will refuse to overwrite it`,
      );
    } else {
      const set = await c.gateway.getConnectionSet(env.cname);
      const current = sortedCodes(set?.legalEntities ?? []);
      const available = d.legalEntities ? [] : (await c.fno.legalEntities()).map((e) => e.code);
      const wanted = desiredCodes(d, available);
      if (!sameSet(current, wanted))
        reasons.push(
          `legal entities linked are ${current.join(", ") || "none"}; declared ${wanted.join(", ")}`,
        );
      const solutions = await c.gateway.listSolutions(env.cid);
      const notApplied = d.solutions.filter(
        (n) => !solutions.some((s) => s.uniqueName.toLowerCase() === n.toLowerCase() && s.applied),
      );
      if (notApplied.length > 0)
        reasons.push(
          `${plural(notApplied.length, "solution", "solutions")} ${notApplied.join(", ")} not applied`,
        );
    }
    return { changes: reasons.length > 0, replaces: [], reasons };
  },

  async create(inputs, ctx) {
    const d = validInputs(inputs);
    const c = ctx.clients(d);
    const failures = new FailureList();
    const pre = await preflight(d, c, failures, undefined);
    if (!pre || !failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
    if (pre.env.linked)
      ctx.log(
        `Adopting the existing link of F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl}`,
      );
    const cid = await converge(d, pre, c, ctx);
    const observed = await observe(d, c, true);
    if (!observed)
      throw new DualWriteError(
        `The link of ${d.financeOperationsUrl} to ${d.dataverseUrl} was made but the gateway does not show it.`,
        "LinkNotVisible",
      );
    return { id: cid, outs: { ...inputs, ...observed } };
  },

  async read(id, props, ctx): Promise<ReadOutcome<DualWriteConnectionOutputs>> {
    const d = desired(props);
    const observed = await observe(d, ctx.clients(d), true);
    return observed ? { id, props: { ...props, ...observed } } : undefined;
  },

  async update(_id, olds, news, ctx) {
    const d = validInputs(news);
    const c = ctx.clients(d);
    const failures = new FailureList();
    const pre = await preflight(d, c, failures, olds.dataverseUrl);
    if (!pre || !failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
    await converge(d, pre, c, ctx);
    const observed = await observe(d, c, true);
    if (!observed)
      throw new DualWriteError(
        `The link of ${d.financeOperationsUrl} to ${d.dataverseUrl} is not visible after the update.`,
        "LinkNotVisible",
      );
    return { ...news, ...observed };
  },

  async delete(_id, props, ctx) {
    const d = desired(props);
    const c = ctx.clients(d);
    const env = await c.gateway.findEnvironment(d.financeOperationsUrl, { fresh: true });
    if (!env?.linked) return; // already unlinked: done
    if (env.linkedDataverseUrl === undefined || !sameUrl(env.linkedDataverseUrl, d.dataverseUrl)) {
      ctx.log(
        `F&O ${d.financeOperationsUrl} is now linked to ${env.linkedDataverseUrl ?? "another Dataverse"}; that link is not this resource's and is left alone`,
      );
      return;
    }
    const maps = await c.gateway.listMaps(env.cid, { fresh: true });
    const active = maps.filter(
      (m) =>
        m.state !== MapState.Stopped &&
        m.state !== MapState.NotRunning &&
        m.state !== MapState.None,
    );
    if (active.length > 0 && !d.forceReset) {
      throw new DualWriteError(
        `The link cannot be reset while ${plural(active.length, "map", "maps")} ${active.map((m) => `${m.tName} (${stateName(m.state)})`).join(", ")} ${active.length === 1 ? "is" : "are"} not stopped. Stop them (remove their EntityMapBinding resources, or set their state to "Stopped") or set forceReset: true on the connection.`,
        "MapsNotStopped",
      );
    }
    ctx.log(
      `Resetting the link of F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl}${active.length > 0 ? " (forced)" : ""}; no business data is deleted`,
    );
    await c.gateway.unlink(env.cid, { forceReset: d.forceReset });
  },
};

function duplicatedNames(entries: readonly { code: string; name: string }[]): [string, string[]][] {
  const byName = new Map<string, string[]>();
  for (const e of entries) {
    const key = e.name.trim().toLowerCase();
    if (key === "") continue;
    byName.set(key, [...(byName.get(key) ?? []), e.code.toUpperCase()]);
  }
  return [...byName]
    .filter(([, codes]) => new Set(codes).size > 1)
    .map(([, codes]) => {
      const name = entries.find((e) => e.code.toUpperCase() === codes[0])?.name.trim() ?? "";
      return [name, [...new Set(codes)]];
    });
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
