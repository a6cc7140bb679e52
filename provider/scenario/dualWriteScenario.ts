/**
 * DualWriteScenario: one declaration per setup scenario. It creates the four resources in the
 * right order — the connection; a CompanyBootstrap per company (Dataverse with data); an
 * EntityMapBinding per map, prerequisites first; an InitialSyncRun per map that syncs, after the
 * bootstraps and after the initial syncs of the maps it looks up — so that a scenario is a few
 * lines of program. The plan itself is `plan.ts`.
 */
import * as pulumi from "@pulumi/pulumi";
import { CompanyBootstrap } from "../resources/companyBootstrap/companyBootstrap";
import type { LegalEntityArgs } from "../resources/dualWriteConnection/dualWriteConnection";
import { DualWriteConnection } from "../resources/dualWriteConnection/dualWriteConnection";
import { EntityMapBinding } from "../resources/entityMapBinding/entityMapBinding";
import type { DesiredState } from "../resources/entityMapBinding/entityMapBinding.schema";
import { InitialSyncRun } from "../resources/initialSyncRun/initialSyncRun";
import type {
  LegalEntityRunResult,
  Master,
} from "../resources/initialSyncRun/initialSyncRun.schema";
import { planScenario, validateDeclaration, type ScenarioDeclaration } from "./plan";
import type { Scenario } from "./scenarios";

/** The component's type token. */
export const DUALWRITE_SCENARIO_TYPE = "dualwrite:index:DualWriteScenario";

/** One map of a {@link DualWriteScenarioArgs}. */
export interface ScenarioMapArgs {
  /**
   * The map's name as the dual-write workspace shows it.
   * @example "accounts - Customers V3"
   */
  name: string;
  /** `latest` or an exact version. @default "latest" */
  version?: string;
  /** Only versions by this publisher. */
  author?: string;
  /** The integration keys of the map's Dataverse table; left out, not managed. */
  keys?: string[];
  /** @default "Running" */
  state?: DesiredState;
  /**
   * `"skip"` (live sync only) or `{ master }` to copy existing rows once, the master winning
   * where a row exists on both sides.
   * @default by scenario: "skip" for new-new, master Dataverse for new-existing, master FinanceOperations otherwise
   */
  initialSync?: "skip" | ScenarioInitialSyncArgs;
}

/** An initial-sync choice of a scenario map. */
export interface ScenarioInitialSyncArgs {
  /** Which side wins where a row exists on both. */
  master: Master;
  /** At most 40. @default the link's legal entities */
  legalEntities?: string[];
}

/** A company whose Dataverse rows are bootstrapped, with the rows to pick. */
export interface BootstrapCompanyArgs {
  /** The company code. */
  code: string;
  /** Only rows owned by this business unit; required when several companies are bootstrapped. */
  owningBusinessUnit?: string;
  /** @default ["accounts", "contacts"] */
  tables?: string[];
}

/** The inputs of a {@link DualWriteScenario}. */
export interface DualWriteScenarioArgs {
  /** Which of the six setup scenarios (`<F&O>-<Dataverse>`). */
  scenario: Scenario;
  /** The Finance and Operations environment's URL. */
  financeOperationsUrl: pulumi.Input<string>;
  /** The Dataverse environment's URL. */
  dataverseUrl: pulumi.Input<string>;
  /**
   * The legal entities to link.
   * @default by scenario: DAT (plus the bootstrap companies, created in F&O) for a new F&O environment, all for an existing one
   */
  legalEntities?: (string | LegalEntityArgs)[];
  /**
   * Companies whose existing Dataverse rows get their company stamped before any initial sync
   * (`*-existing` scenarios only).
   */
  bootstrapCompanies?: (string | BootstrapCompanyArgs)[];
  /** The maps to run; their known prerequisite maps are added and started first. */
  maps: ScenarioMapArgs[];
  /** Orchestration solutions to apply. @default ["msdyn_DualWriteAppCoreMaps"] */
  solutions?: string[];
  /** @default false */
  skipInitialWritesForNewLegalEntities?: boolean;
  /** Reset the link on destroy even while maps run. @default false */
  forceReset?: boolean;
  /** Any text; changing it runs every initial sync again. */
  initialSyncTrigger?: string;
}

/**
 * One dual-write setup scenario, as connection, bootstraps, map bindings and initial syncs.
 *
 * @example
 * const setup = new DualWriteScenario("contoso", {
 *   scenario: "existing-existing",
 *   financeOperationsUrl, dataverseUrl,
 *   legalEntities: ["USMF", "USRT"],
 *   bootstrapCompanies: ["USMF"],
 *   maps: [
 *     { name: "accounts - Customers V3", initialSync: { master: "FinanceOperations" } },
 *     { name: "contacts - Customers V3", initialSync: "skip" },
 *   ],
 * });
 * export const maps = setup.mapStates;
 */
export class DualWriteScenario extends pulumi.ComponentResource {
  /** The link. */
  readonly connection: DualWriteConnection;
  /** The company bootstraps, by company code. */
  readonly bootstraps: Readonly<Record<string, CompanyBootstrap>>;
  /** The map bindings (declared and added prerequisites), by map name. */
  readonly bindings: Readonly<Record<string, EntityMapBinding>>;
  /** The initial syncs, by map name. */
  readonly initialSyncs: Readonly<Record<string, InitialSyncRun>>;
  /** Each map's observed state, e.g. `{ "accounts - Customers V3": "Running" }`. */
  readonly mapStates: pulumi.Output<Record<string, string>>;
  /** Each initial sync's results per legal entity, by map name. */
  readonly initialSyncResults: pulumi.Output<Record<string, LegalEntityRunResult[]>>;
  /** The legal entities the link holds. */
  readonly linkedLegalEntities: pulumi.Output<string[]>;

  constructor(name: string, args: DualWriteScenarioArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DUALWRITE_SCENARIO_TYPE, name, {}, opts);
    const declaration = {
      scenario: args.scenario,
      legalEntities: args.legalEntities,
      bootstrapCompanies: args.bootstrapCompanies,
      maps: args.maps,
      solutions: args.solutions,
      skipInitialWritesForNewLegalEntities: args.skipInitialWritesForNewLegalEntities,
      forceReset: args.forceReset,
      initialSyncTrigger: args.initialSyncTrigger,
    };
    const problems = validateDeclaration(declaration);
    if (problems.length > 0) {
      throw new pulumi.ResourceError(
        `DualWriteScenario ${name}: ${problems.map((p) => `[${p.property}] ${p.message}`).join(" ")}`,
        this,
      );
    }
    const plan = planScenario(declaration as ScenarioDeclaration);
    const child = { parent: this };

    this.connection = new DualWriteConnection(
      name,
      {
        scenario: args.scenario,
        financeOperationsUrl: args.financeOperationsUrl,
        dataverseUrl: args.dataverseUrl,
        ...(plan.legalEntities && {
          legalEntities: plan.legalEntities.map((le) => (typeof le === "string" ? le : { ...le })),
        }),
        ...(args.solutions && { solutions: args.solutions }),
        ...(args.skipInitialWritesForNewLegalEntities !== undefined && {
          skipInitialWritesForNewLegalEntities: args.skipInitialWritesForNewLegalEntities,
        }),
        ...(args.forceReset !== undefined && { forceReset: args.forceReset }),
      },
      child,
    );

    const bootstraps: Record<string, CompanyBootstrap> = {};
    for (const b of plan.bootstraps) {
      bootstraps[b.code] = new CompanyBootstrap(
        `${name}-bootstrap-${slug(b.code)}`,
        {
          connection: this.connection,
          companyCode: b.code,
          ...(b.tables && { tables: [...b.tables] }),
          ...(b.owningBusinessUnit !== undefined && { owningBusinessUnit: b.owningBusinessUnit }),
        },
        child,
      );
    }
    const allBootstraps = Object.values(bootstraps);

    const bindings: Record<string, EntityMapBinding> = {};
    for (const m of plan.maps) {
      bindings[m.name] = new EntityMapBinding(
        `${name}-map-${slug(m.name)}`,
        {
          connection: this.connection,
          mapName: m.name,
          ...(m.version !== undefined && { version: m.version }),
          ...(m.author !== undefined && { author: m.author }),
          ...(m.keys && { integrationKeys: [...m.keys] }),
          state: m.state,
          // Prerequisites the catalog does not know are started by the binding itself.
          startPrerequisites: true,
        },
        {
          parent: this,
          // Bootstrap before live sync: stamped rows must not stream one by one (2019 FAQ order).
          dependsOn: [
            ...m.prerequisites.flatMap((p) => (bindings[p] ? [bindings[p]] : [])),
            ...allBootstraps,
          ],
        },
      );
    }

    const initialSyncs: Record<string, InitialSyncRun> = {};
    for (const m of plan.maps) {
      const binding = bindings[m.name];
      if (!m.initialSync || !binding) continue;
      initialSyncs[m.name] = new InitialSyncRun(
        `${name}-sync-${slug(m.name)}`,
        {
          entityMap: binding,
          master: m.initialSync.master,
          ...(m.initialSync.legalEntities && { legalEntities: [...m.initialSync.legalEntities] }),
          ...(args.initialSyncTrigger !== undefined && { trigger: args.initialSyncTrigger }),
        },
        {
          parent: this,
          dependsOn: [
            ...allBootstraps,
            ...m.syncAfter.flatMap((p) => (initialSyncs[p] ? [initialSyncs[p]] : [])),
          ],
        },
      );
    }

    this.bootstraps = bootstraps;
    this.bindings = bindings;
    this.initialSyncs = initialSyncs;
    this.mapStates = recordOf(
      Object.entries(bindings).map(([n, b]) => [n, b.observedState] as const),
    );
    this.initialSyncResults = recordOf(
      Object.entries(initialSyncs).map(([n, r]) => [n, r.results] as const),
    );
    this.linkedLegalEntities = this.connection.linkedLegalEntities;
    this.registerOutputs({
      mapStates: this.mapStates,
      initialSyncResults: this.initialSyncResults,
      linkedLegalEntities: this.linkedLegalEntities,
    });
  }
}

/** A resource-name-safe form of a map name or code. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

function recordOf<T>(
  entries: readonly (readonly [string, pulumi.Output<T>])[],
): pulumi.Output<Record<string, T>> {
  return pulumi
    .all(entries.map(([, v]) => v))
    .apply((values) => Object.fromEntries(entries.map(([k], i) => [k, values[i] as T])));
}
