/**
 * The plan of a DualWriteScenario: which resources one scenario declaration becomes, and in
 * which order — connection, then company bootstraps, then maps in dependency order, each started
 * (with its initial sync, when it has one) after the maps it needs are Running with their data.
 * Pure: the component turns the plan into resources, and tests check the plan without Pulumi.
 */
import { z } from "zod";
import {
  bool,
  companyCode,
  describeIssues,
  oneOf,
  strictObject,
  text,
  textOrObject,
  uniqueList,
} from "../resources/common/check";
import {
  connectionSchemas,
  legalEntityCode,
  legalEntitySpecOf,
  type LegalEntityDeclaration,
} from "../resources/dualWriteConnection/dualWriteConnection.schema";
import {
  DESIRED_STATES,
  entityMapBindingSchemas,
  type DesiredState,
} from "../resources/entityMapBinding/entityMapBinding.schema";
import { companyBootstrapSchemas } from "../resources/companyBootstrap/companyBootstrap.schema";
import { adoptWithChangesSchema, onDeleteSchema, type OnDelete } from "../resources/common/spec";
import { timeoutsSchema, type ResourceTimeouts } from "../resources/common/timeouts";
import { MASTERS, type Master } from "../resources/initialSyncRun/initialSyncRun.schema";
import { knownPrerequisites } from "./catalog";
import {
  defaultInitialSync,
  DEFAULT_COMPANY,
  needsBootstrap,
  scenarioFacts,
  SCENARIOS,
  type Scenario,
} from "./scenarios";

/** How a scenario map is initially synced: skipped, or with a master (and legal entities). */
export type InitialSyncChoice =
  "skip" | { readonly master: Master; readonly legalEntities?: readonly string[] };

/** One map of a scenario declaration. */
export interface ScenarioMap {
  readonly name: string;
  readonly version?: string;
  readonly author?: string;
  readonly keys?: readonly string[];
  readonly state?: DesiredState;
  readonly initialSync?: InitialSyncChoice;
}

/** A company to bootstrap: its code, or the code with the rows to pick. */
export type BootstrapCompany =
  | string
  | {
      readonly code: string;
      readonly owningBusinessUnit?: string;
      readonly tables?: readonly string[];
    };

/** The plain part of a scenario declaration (what shapes the resources). */
export interface ScenarioDeclaration {
  readonly scenario: Scenario;
  readonly legalEntities?: readonly LegalEntityDeclaration[];
  readonly bootstrapCompanies?: readonly BootstrapCompany[];
  readonly maps: readonly ScenarioMap[];
  readonly solutions?: readonly string[];
  readonly skipInitialWritesForNewLegalEntities?: boolean;
  readonly forceReset?: boolean;
  readonly initialSyncTrigger?: string;
  /**
   * `false`: `up` returns once an initial sync has started, for the maps no other map of the plan
   * needs (a map whose data others look up is still waited for: their starts need it there).
   */
  readonly waitForCompletion?: boolean;
  /** The `timeouts` of the resources that wait (the connection and every binding). */
  readonly timeouts?: ResourceTimeouts;
  /** What destroying does: `reset` the link (its maps stopped), or `leave` link and maps. */
  readonly onDelete?: OnDelete<"reset">;
  /** Accept what adopting an existing link or running map would change (connection and bindings). */
  readonly adoptWithChanges?: boolean;
}

/** A map of the plan. */
export interface PlannedMap {
  readonly name: string;
  readonly version?: string;
  readonly author?: string;
  readonly keys?: readonly string[];
  readonly state: DesiredState;
  /** False for a prerequisite the plan added. */
  readonly declared: boolean;
  /** Maps of the plan that must be running first. */
  readonly prerequisites: readonly string[];
  /**
   * The map's start is its initial sync, with this master (its binding's `initialSync`); the
   * binding waits until the map leaves InitialSync, so the maps that need it start after its
   * data is there (DWMapEngine.cs:1182-1297). `waitForCompletion: false` (the declaration's, for
   * a map no other map of the plan needs): the binding returns once the sync has started.
   */
  readonly initialSync?: {
    readonly master: Master;
    readonly legalEntities?: readonly string[];
    readonly waitForCompletion?: false;
  };
}

/** A bootstrap of the plan. */
export interface PlannedBootstrap {
  readonly code: string;
  readonly owningBusinessUnit?: string;
  readonly tables?: readonly string[];
}

/** What a scenario declaration becomes. */
export interface ScenarioPlan {
  readonly legalEntities?: readonly LegalEntityDeclaration[];
  readonly bootstraps: readonly PlannedBootstrap[];
  /** In start order: every map after its prerequisites. */
  readonly maps: readonly PlannedMap[];
}

const mapSchema = strictObject(
  {
    name: entityMapBindingSchemas.mapName,
    version: entityMapBindingSchemas.version,
    author: entityMapBindingSchemas.author,
    keys: entityMapBindingSchemas.integrationKeys,
    state: oneOf(DESIRED_STATES).optional(),
    initialSync: textOrObject(
      z.literal("skip", {
        error: (i) =>
          `must be "skip" or { master: "FinanceOperations" | "Dataverse" }; got ${JSON.stringify(i.input)}`,
      }),
      strictObject(
        {
          master: oneOf(MASTERS),
          legalEntities: uniqueList(companyCode, "legal entities").optional(),
        },
        "an initial-sync choice",
      ),
      '"skip" or { master: "FinanceOperations" | "Dataverse" }',
    ).optional(),
  },
  "a map declaration",
);

const bootstrapSchema = textOrObject(
  companyCode,
  strictObject(
    {
      code: companyCode,
      owningBusinessUnit: companyBootstrapSchemas.owningBusinessUnit,
      tables: companyBootstrapSchemas.tables,
    },
    "a bootstrap company",
  ),
  'a company code such as "USMF" or { code: "USMF", owningBusinessUnit: "Contoso US" }',
);

const declarationSchemas = {
  scenario: oneOf(SCENARIOS),
  legalEntities: connectionSchemas.legalEntities,
  bootstrapCompanies: uniqueList(bootstrapSchema, "companies", (b) =>
    typeof b === "string" ? b : b.code,
  ).optional(),
  maps: uniqueList(mapSchema, "maps", (m) => m.name).refine((m) => m.length > 0, {
    error: 'is empty; declare at least one map, e.g. { name: "accounts - Customers V3" }',
  }),
  solutions: connectionSchemas.solutions,
  skipInitialWritesForNewLegalEntities: bool.optional(),
  forceReset: bool.optional(),
  initialSyncTrigger: text(
    "any text; change it to run the initial syncs again",
    "2026-11-24",
  ).optional(),
  waitForCompletion: bool.optional(),
  timeouts: timeoutsSchema,
  onDelete: onDeleteSchema("reset"),
  adoptWithChanges: adoptWithChangesSchema,
} as const;

/** A scenario declaration that cannot be planned; `property` names the input at fault. */
export class ScenarioDeclarationError extends Error {
  constructor(
    readonly property: string,
    message: string,
  ) {
    super(message);
    this.name = "ScenarioDeclarationError";
  }
}

/**
 * Validates a declaration (plain values only) and returns every problem, one per property.
 */
export function validateDeclaration(
  declaration: Readonly<Record<string, unknown>>,
): ScenarioDeclarationError[] {
  const errors: ScenarioDeclarationError[] = [];
  for (const [property, schema] of Object.entries(declarationSchemas)) {
    const result = (schema as z.ZodType).safeParse(declaration[property]);
    if (!result.success)
      errors.push(
        new ScenarioDeclarationError(property, describeIssues(property, result.error.issues)),
      );
  }
  if (errors.length > 0) return errors;
  const d = declaration as unknown as ScenarioDeclaration;
  const companies = (d.bootstrapCompanies ?? []).map((b) =>
    typeof b === "string" ? { code: b } : b,
  );
  if (companies.length > 0 && !needsBootstrap(d.scenario)) {
    errors.push(
      new ScenarioDeclarationError(
        "bootstrapCompanies",
        `bootstrapCompanies is set, but scenario "${d.scenario}" has a new Dataverse environment with no rows to bootstrap; remove it, or declare a "*-existing" scenario.`,
      ),
    );
  }
  if (companies.length > 1 && companies.some((b) => b.owningBusinessUnit === undefined)) {
    errors.push(
      new ScenarioDeclarationError(
        "bootstrapCompanies",
        "bootstrapCompanies lists several companies; give each an owningBusinessUnit, so that every unstamped row gets exactly one company.",
      ),
    );
  }
  if (d.legalEntities && companies.length > 0) {
    const linked = new Set(d.legalEntities.map(legalEntityCode));
    const outside = companies.map((b) => b.code.toUpperCase()).filter((code) => !linked.has(code));
    if (outside.length > 0) {
      errors.push(
        new ScenarioDeclarationError(
          "bootstrapCompanies",
          `bootstrapCompanies ${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not among legalEntities; a company must be linked before its rows can be stamped. Add ${outside.length === 1 ? "it" : "them"} to legalEntities.`,
        ),
      );
    }
  }
  if (d.legalEntities) {
    // A run covers every legal entity of the link; a map's legalEntities only selects whose
    // results are reported, so each must be linked (the gateway's start carries no list).
    const linked = new Set(d.legalEntities.map(legalEntityCode));
    for (const m of d.maps) {
      const sync = m.initialSync;
      if (sync === undefined || sync === "skip") continue;
      const outside = (sync.legalEntities ?? [])
        .map((code) => code.toUpperCase())
        .filter((code) => !linked.has(code));
      if (outside.length > 0)
        errors.push(
          new ScenarioDeclarationError(
            "maps",
            `maps "${m.name}": initialSync.legalEntities ${outside.join(", ")} ${outside.length === 1 ? "is" : "are"} not among legalEntities. An initial sync covers every legal entity of the link, and its legalEntities only selects whose results are reported: add ${outside.length === 1 ? "it" : "them"} to legalEntities, or remove ${outside.length === 1 ? "it" : "them"} there.`,
          ),
        );
    }
  }
  return errors;
}

/**
 * Plans a valid declaration.
 * @throws ScenarioDeclarationError for the first problem {@link validateDeclaration} finds
 */
export function planScenario(declaration: ScenarioDeclaration): ScenarioPlan {
  const errors = validateDeclaration(declaration as unknown as Record<string, unknown>);
  if (errors[0]) throw errors[0];
  const d = declaration;
  const companies: PlannedBootstrap[] = (d.bootstrapCompanies ?? []).map((b) =>
    typeof b === "string" ? { code: b.toUpperCase() } : { ...b, code: b.code.toUpperCase() },
  );

  // new-existing and new-data-existing: the companies to bootstrap are created in the new F&O
  // environment and added to the link, beside DAT (DW/connection-setup.md, scenario 2 steps 1–2).
  let legalEntities = d.legalEntities;
  if (
    !legalEntities &&
    companies.length > 0 &&
    scenarioFacts(d.scenario).financeOperations !== "existing"
  ) {
    legalEntities = [
      DEFAULT_COMPANY,
      ...companies
        .filter((b) => b.code !== DEFAULT_COMPANY)
        .map((b) => ({ code: b.code, createIfMissing: true })),
    ];
  }

  const declaredByName = new Map(d.maps.map((m) => [m.name, m]));
  const choiceOf = (m: ScenarioMap): PlannedMap["initialSync"] => {
    const choice = m.initialSync ?? defaultInitialSync(d.scenario);
    return choice === "skip" ? undefined : choice;
  };

  // Every declared map, after the prerequisites the provider knows of; a prerequisite that is
  // not declared is added (running, live only) and, when a map that needs it is initially
  // synced, synced too with the same master — before it, as its binding comes first — so that
  // its lookups resolve.
  const order: string[] = [];
  for (const m of d.maps) {
    for (const pre of knownPrerequisites(m.name)) if (!order.includes(pre)) order.push(pre);
    if (!order.includes(m.name)) order.push(m.name);
  }
  const inheritedSync = new Map<string, { master: Master; legalEntities?: readonly string[] }>();
  for (const m of d.maps) {
    const sync = choiceOf(m);
    if (!sync) continue;
    for (const pre of knownPrerequisites(m.name)) {
      if (!declaredByName.has(pre) && !inheritedSync.has(pre))
        inheritedSync.set(pre, {
          master: sync.master,
          ...(sync.legalEntities && { legalEntities: sync.legalEntities }),
        });
    }
  }

  // Not waiting is for the maps no other map needs: a map another one looks up must have its
  // data there before that one starts (a map in InitialSync counts as running for its start).
  const needed = new Set(order.flatMap((name) => knownPrerequisites(name)));
  const maps: PlannedMap[] = order.map((name) => {
    const declared = declaredByName.get(name);
    const prerequisites = knownPrerequisites(name).filter((p) => order.includes(p));
    const sync = declared ? choiceOf(declared) : inheritedSync.get(name);
    const initialSync =
      sync && d.waitForCompletion === false && !needed.has(name)
        ? { ...sync, waitForCompletion: false as const }
        : sync;
    return {
      name,
      ...(declared?.version !== undefined && { version: declared.version }),
      ...(declared?.author !== undefined && { author: declared.author }),
      ...(declared?.keys !== undefined && { keys: declared.keys }),
      state: declared?.state ?? "Running",
      declared: declared !== undefined,
      prerequisites,
      ...(initialSync && { initialSync }),
    };
  });
  return {
    ...(legalEntities && { legalEntities: legalEntities.map(legalEntitySpecOrCode) }),
    bootstraps: companies,
    maps,
  };
}

function legalEntitySpecOrCode(le: LegalEntityDeclaration): LegalEntityDeclaration {
  return typeof le === "string" ? le.toUpperCase() : legalEntitySpecOf(le);
}
