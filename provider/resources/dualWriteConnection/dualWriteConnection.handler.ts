/**
 * DualWriteConnection's lifecycle: the link between one F&O environment and one Dataverse
 * environment, its legal entities, its orchestration solutions and the health check.
 *
 * | step   | HTTP calls                                                                                      |
 * |--------|--------------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET DWM/Environments?identifier=<F&O host> (+ GET /api/ConnectionSet/<cname> when linked); while not linked: Dataverse RetrieveFinanceAndOperationsIntegrationDetails (pairing, F&O id); GET F&O LegalEntities; GET Dataverse solutions, cdm_companies; while not linked: F&O CustomersV3 and Dataverse accounts/contacts counts |
 * | diff   | GET DWM/Environments; GET /api/ConnectionSet/<cname>; solutions applied (`solutionStates`: GET …/Solutions/, GET DWM/Entities, Dataverse solutions + msdyn_dualwriteentitymaps); (default legal entities) GET F&O LegalEntities |
 * | create | the check's reads; POST F&O LegalEntities (createIfMissing); to link: Dataverse RetrieveCurrentOrganization, POST /api/ConnectionSet/<cid>/Reset with the tool's body (`newLinkRequest`, CHOICE), then GET Environments + ConnectionSet until the link shows — or, adopting, PUT …/LegalEntities (CHOICE) and wait; per missing solution POST …/RestoreTemplates + GET …/SolutionAware/<cid>/Status/<id> |
 * | read   | GET DWM/Environments; GET /api/ConnectionSet/<cname>; solutions applied (as diff). With no state (`pulumi import`), the same for the F&O URL of the import id (connectionImport.ts) |
 * | update | as create; before a legal-entity edit GET DWM/Entities (guards)                                |
 * | delete | GET DWM/Environments; GET /api/ConnectionSet/<cname>; GET DWM/Entities; POST /api/ConnectionSet/<cid>/Reset with no environments (unlink, CHOICE), then GET Environments until it is gone |
 *
 * `skipInitialWritesForNewLegalEntities` travels with a legal-entity edit, and with a new link
 * only when true (the evidence's Reset body has no such member, Struct/ResetLinkPayload.cs).
 * Never deleted: business rows, and legal entities created in F&O.
 */
import { DualWriteError } from "../../errors";
import type { GatewayLink } from "../../clients/gateway";
import { MapState } from "../../clients/gateway";
import { describeRowCount } from "../../clients/dataverse";
import { columnText } from "../common/companies";
import { compareVersions, stateName } from "../common/maps";
import { solutionStates, type SolutionState } from "../common/solutions";
import {
  defaultLegalEntities,
  defaultSolutions,
  scenarioFacts,
  SCENARIOS,
  type Scenario,
  type ScenarioFacts,
} from "../../scenario/scenarios";
import { normalizeUrl } from "../common/check";
import { sameSet } from "../common/diff";
import type { FailureList } from "../common/failures";
import type { Clients, HandlerContext, Lifecycle, ReadOutcome } from "../common/handler";
import { joins, linkBetween, linkedElsewhere, relationOf } from "../common/link";
import {
  lifecycleOf,
  sameEnvironment,
  type PlannedChange,
  type ResourceSpec,
} from "../common/spec";
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
import {
  environmentUrl,
  importedConnectionInputs,
  IMPORTED_SCENARIO,
  parseConnectionImportId,
} from "./connectionImport";
import { newLinkRequest } from "./newLinkRequest";

const RESOURCE = "DualWriteConnection";

/**
 * The declared inputs whose change is an update. `adoptWithChanges` is not one: it matters only
 * when the resource is created.
 */
const DECLARED = [
  "scenario",
  "financeOperationsUrl",
  "dataverseUrl",
  "legalEntities",
  "solutions",
  "skipInitialWritesForNewLegalEntities",
  "forceReset",
  "onDelete",
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
  /** Whether `legalEntities` and `solutions` were declared (not the scenario's defaults). */
  readonly declares: { readonly legalEntities: boolean; readonly solutions: boolean };
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
    declares: {
      legalEntities: inputs.legalEntities !== undefined,
      solutions: inputs.solutions !== undefined,
    },
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

/** What the pre-flight read, for `create`/`update` to reuse. */
interface Preflight {
  /** The link the gateway shows for the F&O environment; undefined when not linked. */
  readonly link: GatewayLink | undefined;
  /** The F&O environment id: the link's, or the one Power Platform integration pairs. */
  readonly cid: string;
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
  // The gateway lists an F&O environment only once it is linked (an unknown host answers the
  // same empty list), so an environment that is not linked yet is confirmed by Dataverse: Power
  // Platform integration pairs it with exactly one F&O environment, and names its id.
  const link = await c.gateway.findLink(fo);
  let cid: string;
  const linkedHere = link !== undefined && joins(link, dv);
  const linkedToOurs = link !== undefined && joins(link, previousDataverseUrl);
  if (link) {
    cid = link.cid;
    if (!linkedHere && !linkedToOurs) {
      failures.add(
        "dataverseUrl",
        `F&O ${fo} is already linked to Dataverse ${link.dataverseUrl ?? "(unknown)"}, not ${dv}. A link is 1:1 and is never overwritten silently: declare that Dataverse URL to adopt the link, or reset it in the dual-write workspace first.`,
      );
    }
  } else {
    const pairing = await c.dataverse.integrationDetails();
    if (!pairing) {
      failures.add(
        "dataverseUrl",
        `Dataverse ${dv} is not paired with any F&O environment in Power Platform integration, and the dual-write gateway has no link for F&O ${fo}. Dual-write links the environments that Power Platform integration pairs: enable the integration for this pair (Power Platform admin center), then run again.`,
      );
      return undefined;
    }
    if (!sameUrl(pairing.Url, fo)) {
      failures.add(
        "financeOperationsUrl",
        `The dual-write gateway knows no F&O environment linked at ${fo} (it looks environments up by host name), and Dataverse ${dv} is paired with F&O ${pairing.Url} in Power Platform integration, not with it. Check the URL (the environment's address, e.g. https://contoso.operations.dynamics.com), or declare the pair that Power Platform integration pairs.`,
      );
      return undefined;
    }
    cid = pairing.Id;
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
  return { link, cid, financeOperationsLegalEntities: entities };
}

/**
 * The health check (DW/requirements-and-prerequisites.md): the declared orchestration solutions
 * installed in Dataverse, at versions dual-write accepts; company names. (The Power Platform
 * pairing is checked with the link, in `preflight`.)
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
    // "Has data" needs no exact count: one capped request per table (exact below 5,000).
    const accounts = await c.dataverse.countCapped("accounts");
    const contacts = await c.dataverse.countCapped("contacts");
    if (accounts.rows + contacts.rows > 0) {
      observed.dataverse = "existing";
      problems.push(
        `Dataverse ${d.dataverseUrl} already has ${describeRowCount(accounts)} accounts and ${describeRowCount(contacts)} contacts, but the scenario says it is new`,
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
  await c.gateway.setLegalEntities(cid, d.financeOperationsUrl, wanted, {
    skipInitialWrites: d.skipInitialWrites,
    timeoutMs: ctx.options.linkTimeoutMs,
  });
}

/** Whether solution `name` is applied, per `solutionStates` (CHOICE). */
async function isApplied(c: Clients, cid: string, name: string): Promise<boolean> {
  const states = await solutionStates(c, cid, { fresh: true });
  return states.some((s) => s.uniqueName.toLowerCase() === name.toLowerCase() && s.applied);
}

/** Applies the declared solutions that are not applied yet, one per request, in declared order. */
async function applyMissingSolutions(
  d: Desired,
  cid: string,
  c: Clients,
  ctx: HandlerContext,
): Promise<void> {
  const states = await solutionStates(c, cid, { fresh: true });
  const missing = d.solutions.filter(
    (name) => !states.some((s) => s.uniqueName.toLowerCase() === name.toLowerCase() && s.applied),
  );
  for (const name of missing) {
    ctx.log(`Applying orchestration solution ${name}`);
    await c.gateway.applySolution(cid, name, {
      timeoutMs: ctx.options.solutionTimeoutMs,
      isApplied: () => isApplied(c, cid, name),
    });
  }
}

/** Links (or adopts the link), then converges legal entities and solutions. */
async function converge(
  d: Desired,
  pre: Preflight,
  c: Clients,
  ctx: HandlerContext,
): Promise<string> {
  const link = pre.link;
  const available = await createMissingLegalEntities(d, pre, c, ctx);
  const wanted = desiredCodes(d, available);
  if (link && !joins(link, d.dataverseUrl)) {
    throw new DualWriteError(
      `F&O ${d.financeOperationsUrl} is linked to Dataverse ${link.dataverseUrl ?? "(unknown)"}, not ${d.dataverseUrl}; the provider does not overwrite a link it did not make. Reset that link in the dual-write workspace, or declare its Dataverse URL.`,
      "LinkConflict",
    );
  }
  if (!link) {
    ctx.log(
      `Linking F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl} for ${wanted.join(", ")}`,
    );
    const request = await newLinkRequest(c, {
      financeOperationsUrl: d.financeOperationsUrl,
      dataverseUrl: d.dataverseUrl,
      cid: pre.cid,
      legalEntities: wanted,
      skipInitialWrites: d.skipInitialWrites,
    });
    // A new link has no map to stop, so it never forces.
    await c.gateway.link(request, { forceReset: false, timeoutMs: ctx.options.linkTimeoutMs });
  } else {
    const current = sortedCodes(link.legalEntities);
    if (!sameSet(current, wanted)) await changeLegalEntities(d, link.cid, current, wanted, c, ctx);
  }
  await applyMissingSolutions(d, pre.cid, c, ctx);
  return pre.cid;
}

/** What the connection observes of a link: everything but its inputs and ownership. */
type Observed = Omit<DualWriteConnectionOutputs, keyof DualWriteConnectionInputs | "ownership">;

/** The link as found: joined to the declared Dataverse, with its solutions. */
interface Found {
  readonly link: GatewayLink;
  readonly solutions: readonly SolutionState[];
}

/**
 * The declared link as the gateway shows it now, or undefined when it is not linked as declared.
 * Its reads are shared with the other resources of the operation, `fresh` or not (one refresh
 * reads the link and its maps once): a shared read is never older than this process's latest
 * write to it (`GatewayClient`), and what others change may show a few seconds late.
 */
async function find(d: Desired, c: Clients, _fresh: boolean): Promise<Found | undefined> {
  const link = await linkBetween(c, d.financeOperationsUrl, d.dataverseUrl);
  if (!link?.set) return undefined;
  return { link, solutions: await solutionStates(c, link.cid) };
}

/** The observed outputs of a found link. */
function observedOf(found: Found): Observed {
  return {
    environmentId: found.link.cid,
    connectionSetName: found.link.cname,
    linkedLegalEntities: sortedCodes(found.link.legalEntities),
    appliedSolutions: found.solutions
      .filter((s) => s.applied)
      .map((s) => s.uniqueName)
      .sort(),
  };
}

/** Whether solution `name` is applied among `states`. */
function appliedIn(states: readonly SolutionState[], name: string): boolean {
  return states.some((s) => s.uniqueName.toLowerCase() === name.toLowerCase() && s.applied);
}

/**
 * What converging the found link would change: its legal entities (a removal disturbs what runs:
 * the companies leave live sync) and the solutions to apply.
 */
async function plan(d: Desired, found: Found, c: Clients): Promise<PlannedChange[]> {
  const changes: PlannedChange[] = [];
  const current = sortedCodes(found.link.legalEntities);
  const available = d.legalEntities ? [] : (await c.fno.legalEntities()).map((e) => e.code);
  const wanted = desiredCodes(d, available);
  if (!sameSet(current, wanted)) {
    const removed = current.filter((code) => !wanted.includes(code));
    const added = wanted.filter((code) => !current.includes(code));
    const does = [
      ...(added.length > 0
        ? [
            `adds ${added.join(", ")}${d.skipInitialWrites ? "" : " (with dual-write's initial writes for them)"}`,
          ]
        : []),
      ...(removed.length > 0
        ? [`removes ${removed.join(", ")} from the link (they leave live sync)`]
        : []),
    ];
    changes.push({
      property: "legalEntities",
      effect: `legal entities linked are ${current.join(", ") || "none"}; declared ${wanted.join(", ")}: ${does.join(" and ")}`,
      disruptive: removed.length > 0,
      ...(d.declares.legalEntities && { observed: { legalEntities: current } }),
    });
  }
  const notApplied = d.solutions.filter((n) => !appliedIn(found.solutions, n));
  if (notApplied.length > 0)
    changes.push({
      property: "solutions",
      effect: `${plural(notApplied.length, "solution", "solutions")} ${notApplied.join(", ")} not applied: pulumi up applies ${plural(notApplied.length, "it", "them")}`,
      disruptive: false,
      ...(d.declares.solutions && {
        observed: { solutions: d.solutions.filter((n) => appliedIn(found.solutions, n)) },
      }),
    });
  return changes;
}

/**
 * `read` for `pulumi import`: the link named by the import id, declared as observed
 * (`importedConnectionInputs`), with the `cid` as its id, as `create` gives it. Undefined when the
 * F&O environment is not linked; an error when it is linked to another Dataverse than the id names.
 */
async function readImported(
  importId: string,
  ctx: HandlerContext,
): Promise<ReadOutcome<DualWriteConnectionOutputs>> {
  const named = parseConnectionImportId(importId);
  const fo = named.financeOperationsUrl;
  const link = await ctx
    .clients({ financeOperationsUrl: fo, dataverseUrl: named.dataverseUrl ?? "" })
    .gateway.findLink(fo, { fresh: true });
  if (!link?.set) return undefined;
  if (named.dataverseUrl !== undefined && !joins(link, named.dataverseUrl))
    throw new DualWriteError(
      `F&O ${fo} is linked to Dataverse ${link.dataverseUrl ?? "(unknown)"}, not ${named.dataverseUrl}: import it with that Dataverse URL, or with ${fo} alone.`,
      "LinkConflict",
    );
  const dv = named.dataverseUrl ?? environmentUrl(link.dataverseUrl ?? "");
  if (dv === undefined)
    throw new DualWriteError(
      `The connection set of F&O ${fo} names no usable Dataverse URL (${link.dataverseUrl ?? "none"}); import it as ${fo}|<dataverseUrl>.`,
      "LinkIncomplete",
    );
  const base = desired({ scenario: IMPORTED_SCENARIO, financeOperationsUrl: fo, dataverseUrl: dv });
  const found = await find(base, ctx.clients(base), true);
  if (!found) return undefined;
  const observed = observedOf(found);
  const inputs = importedConnectionInputs({
    financeOperationsUrl: fo,
    dataverseUrl: dv,
    ...observed,
  });
  return {
    id: observed.environmentId,
    props: { ...inputs, ...observed, ownership: "adopted" },
  };
}

/** Resets the link, after the guard dual-write applies (every map stopped, or `forceReset`). */
async function release(d: Desired, c: Clients, ctx: HandlerContext): Promise<void> {
  const link = await c.gateway.findLink(d.financeOperationsUrl, { fresh: true });
  if (!link) return; // already unlinked: done
  if (!joins(link, d.dataverseUrl)) {
    ctx.log(
      `${linkedElsewhere(link, d.financeOperationsUrl)}; that link is not this resource's and is left alone`,
    );
    return;
  }
  const maps = await c.gateway.listMaps(link.cid, { fresh: true });
  const active = maps.filter(
    (m) =>
      m.state !== MapState.Stopped && m.state !== MapState.NotRunning && m.state !== MapState.None,
  );
  if (active.length > 0 && !d.forceReset) {
    throw new DualWriteError(
      `The link cannot be reset while ${plural(active.length, "map", "maps")} ${active.map((m) => `${m.tName} (${stateName(m.state)})`).join(", ")} ${active.length === 1 ? "is" : "are"} not stopped. Stop them (remove their EntityMapBinding resources, or set their state to "Stopped"), set forceReset: true on the connection, or set onDelete: "leave" to keep the link.`,
      "MapsNotStopped",
    );
  }
  ctx.log(
    `Resetting the link of F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl}${active.length > 0 ? " (forced)" : ""}; no business data is deleted`,
  );
  await c.gateway.unlink(link, d.financeOperationsUrl, {
    forceReset: d.forceReset,
    timeoutMs: ctx.options.linkTimeoutMs,
  });
}

/** DualWriteConnection, said once (`common/spec.ts` derives the lifecycle). */
export const dualWriteConnectionSpec: ResourceSpec<
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs,
  Desired,
  Found,
  Preflight
> = {
  resource: RESOURCE,
  schemas: connectionSchemas,
  crossCheck: (values) => crossPropertyFailures(values),
  references: {},
  settled: [],
  declared: DECLARED,
  resolved: [],
  identity: ["financeOperationsUrl", "dataverseUrl"],
  // The link is 1:1: a new one can only be made once the old one is reset.
  replaceOnChange: { financeOperationsUrl: sameEnvironment, dataverseUrl: sameEnvironment },
  deleteBeforeReplace: true,
  before: "before the link is made",
  cleanup: "reset",
  desired,
  describe: (d) => `the link of F&O ${d.financeOperationsUrl} to Dataverse ${d.dataverseUrl}`,
  claimKey: (d) => `link:${d.financeOperationsUrl.toLowerCase()}`,

  verify(d, ctx, failures, how) {
    // Being linked to the Dataverse this resource already manages is not a conflict.
    const previous = how.previous;
    const previousDataverse =
      previous !== undefined &&
      sameEnvironment(previous.financeOperationsUrl, d.financeOperationsUrl)
        ? previous.dataverseUrl
        : undefined;
    return preflight(d, ctx.clients(d), failures, previousDataverse);
  },

  find: (d, ctx, fresh) => find(d, ctx.clients(d), fresh),

  async absent(d, ctx) {
    const link = await ctx.clients(d).gateway.findLink(d.financeOperationsUrl);
    return relationOf(link, d.dataverseUrl) === "elsewhere" && link
      ? `${linkedElsewhere(link, d.financeOperationsUrl)} now; pulumi up will refuse to overwrite it`
      : `F&O ${d.financeOperationsUrl} is not linked any more (reset by hand?); pulumi up links it again`;
  },

  isLive: () => true,
  plan: (d, found, ctx) => plan(d, found, ctx.clients(d)),

  async converge(d, pre, ctx) {
    const c = ctx.clients(d);
    const cid = await converge(d, pre, c, ctx);
    const found = await find(d, c, true);
    if (!found)
      throw new DualWriteError(
        `The link of ${d.financeOperationsUrl} to ${d.dataverseUrl} was made but the gateway does not show it.`,
        "LinkNotVisible",
      );
    return { id: cid, outs: observedOf(found) };
  },

  observe: (_d, found) => Promise.resolve(observedOf(found)),
  release: (d, _props, ctx) => release(d, ctx.clients(d), ctx),
  readImported,
};

/** DualWriteConnection's lifecycle. */
export const dualWriteConnectionLifecycle: Lifecycle<
  DualWriteConnectionInputs,
  DualWriteConnectionOutputs
> = lifecycleOf(dualWriteConnectionSpec);

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
