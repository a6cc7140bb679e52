/**
 * DualWriteScenario: one declaration per setup scenario. It creates the resources in the right
 * order — the connection; a CompanyBootstrap per company (Dataverse with data); an
 * EntityMapBinding per map, in dependency order after the bootstraps, whose start is the map's
 * initial sync when it has one (ADR 0006) — so that a scenario is a few lines of program. The plan
 * itself is `plan.ts`.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  CompanyBootstrap,
  type CompanyBootstrapArgs,
} from "../resources/companyBootstrap/companyBootstrap";
import type {
  DualWriteConnectionArgs,
  LegalEntityArgs,
} from "../resources/dualWriteConnection/dualWriteConnection";
import { DualWriteConnection } from "../resources/dualWriteConnection/dualWriteConnection";
import {
  EntityMapBinding,
  type EntityMapBindingArgs,
} from "../resources/entityMapBinding/entityMapBinding";
import type { DesiredState } from "../resources/entityMapBinding/entityMapBinding.schema";
import type { OnDelete } from "../resources/common/spec";
import type { ResourceTimeouts } from "../resources/common/timeouts";
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
  /**
   * Whose results to report, at most 40, each one of the link's: a run always covers every
   * legal entity of the link (see InitialSyncRun's `legalEntities`).
   * @default every legal entity of the link
   */
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
  /**
   * Wait until each initial sync ends (`true`), or let `up` return once it has started — for CI
   * runners with a time limit: the next `pulumi up` or `pulumi refresh` collects the results. It
   * applies to the maps no other map of the scenario needs: a map whose data another map looks up
   * (e.g. customer groups for accounts) is still waited for, as that map's start needs the data.
   * @default true
   */
  waitForCompletion?: boolean;
  /**
   * How long each create, update or delete of the connection and of each map binding may wait,
   * e.g. `{ create: "6h" }` (`customTimeouts` do not reach the dynamic resources). A wait that runs
   * out leaves the gateway's work running; the next `up` adopts it.
   * @default the built-in limits (30 min for a link change, 15 min per map action, 24 h for an initial sync)
   */
  timeouts?: ResourceTimeouts;
  /**
   * What destroying the component does: `reset` the link (its maps are stopped first, and no
   * business data is deleted) or `leave` the link and its maps as they are.
   * @default by ownership, per resource: what the component made is reset or stopped, what it adopted is left
   */
  onDelete?: OnDelete<"reset">;
  /**
   * When the link or a map exists already, the component adopts it; where the declaration differs
   * from what runs (legal entities not declared, another map version or keys), preview refuses
   * the change, naming it. Set this to accept such changes on the connection and every binding.
   * @default false
   */
  adoptWithChanges?: boolean;
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
  /**
   * The map bindings (declared and added prerequisites), by map name. A map that syncs has its
   * initial sync on its binding (`initialSync`, results in `lastInitialSync`).
   */
  readonly bindings: Readonly<Record<string, EntityMapBinding>>;
  /** Each map's observed state, e.g. `{ "accounts - Customers V3": "Running" }`. */
  readonly mapStates: pulumi.Output<Record<string, string>>;
  /**
   * Each initial sync's results per legal entity, by map name (empty for a map that was found
   * running and therefore not synced).
   */
  readonly initialSyncResults: pulumi.Output<Record<string, LegalEntityRunResult[]>>;
  /** The legal entities the link holds. */
  readonly linkedLegalEntities: pulumi.Output<string[]>;

  constructor(name: string, args: DualWriteScenarioArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DUALWRITE_SCENARIO_TYPE, name, {}, opts);
    const built = buildScenario(this, name, args, DYNAMIC_CHILDREN);
    this.connection = built.connection;
    this.bootstraps = built.bootstraps;
    this.bindings = built.bindings;
    this.mapStates = built.mapStates;
    this.initialSyncResults = built.initialSyncResults;
    this.linkedLegalEntities = built.linkedLegalEntities;
    this.registerOutputs(built.outputs);
  }
}

/** What the component reads of its link, whichever class makes it. */
export interface ScenarioConnection extends pulumi.CustomResource {
  readonly linkedLegalEntities: pulumi.Output<string[]>;
}

/** What the component reads of a map binding, whichever class makes it. */
export interface ScenarioBinding extends pulumi.CustomResource {
  readonly observedState: pulumi.Output<string>;
  readonly lastInitialSync: pulumi.Output<{ results?: LegalEntityRunResult[] } | undefined>;
}

/**
 * The classes a scenario's resources are made with: the dynamic resources for a TypeScript
 * program ({@link DYNAMIC_CHILDREN}), the provider plugin's `dualwrite:index:*` custom resources
 * when the plugin constructs the component (provider/plugin/construct.ts). The arguments are the
 * dynamic classes', with `connection` the link this factory made.
 */
export interface ScenarioChildren<
  C extends ScenarioConnection,
  B extends pulumi.CustomResource,
  M extends ScenarioBinding,
> {
  connection(name: string, args: DualWriteConnectionArgs, opts: pulumi.CustomResourceOptions): C;
  bootstrap(
    name: string,
    args: Omit<CompanyBootstrapArgs, "connection"> & { connection: C },
    opts: pulumi.CustomResourceOptions,
  ): B;
  binding(
    name: string,
    args: Omit<EntityMapBindingArgs, "connection"> & { connection: C },
    opts: pulumi.CustomResourceOptions,
  ): M;
}

/** The dynamic resources: what {@link DualWriteScenario} makes in a TypeScript program. */
export const DYNAMIC_CHILDREN: ScenarioChildren<
  DualWriteConnection,
  CompanyBootstrap,
  EntityMapBinding
> = {
  connection: (name, args, opts) => new DualWriteConnection(name, args, opts),
  bootstrap: (name, args, opts) => new CompanyBootstrap(name, args, opts),
  binding: (name, args, opts) => new EntityMapBinding(name, args, opts),
};

/** The resources and outputs of one scenario, as {@link buildScenario} made them. */
export interface BuiltScenario<C, B, M> {
  readonly connection: C;
  readonly bootstraps: Readonly<Record<string, B>>;
  readonly bindings: Readonly<Record<string, M>>;
  readonly mapStates: pulumi.Output<Record<string, string>>;
  readonly initialSyncResults: pulumi.Output<Record<string, LegalEntityRunResult[]>>;
  readonly linkedLegalEntities: pulumi.Output<string[]>;
  /** The component's outputs, as `schema.json` names them. */
  readonly outputs: {
    mapStates: pulumi.Output<Record<string, string>>;
    initialSyncResults: pulumi.Output<Record<string, LegalEntityRunResult[]>>;
    linkedLegalEntities: pulumi.Output<string[]>;
  };
}

/**
 * Makes a scenario's resources under `parent` with `children`'s classes: the plan, its checks and
 * the order are the same whichever classes make them.
 */
export function buildScenario<
  C extends ScenarioConnection,
  B extends pulumi.CustomResource,
  M extends ScenarioBinding,
>(
  parent: pulumi.ComponentResource,
  name: string,
  args: DualWriteScenarioArgs,
  children: ScenarioChildren<C, B, M>,
): BuiltScenario<C, B, M> {
  const declaration = {
    scenario: args.scenario,
    legalEntities: args.legalEntities,
    bootstrapCompanies: args.bootstrapCompanies,
    maps: args.maps,
    solutions: args.solutions,
    skipInitialWritesForNewLegalEntities: args.skipInitialWritesForNewLegalEntities,
    forceReset: args.forceReset,
    initialSyncTrigger: args.initialSyncTrigger,
    waitForCompletion: args.waitForCompletion,
    timeouts: args.timeouts,
    onDelete: args.onDelete,
    adoptWithChanges: args.adoptWithChanges,
  };
  const problems = validateDeclaration(declaration);
  if (problems.length > 0) {
    throw new pulumi.ResourceError(
      `DualWriteScenario ${name}: ${problems.map((p) => `[${p.property}] ${p.message}`).join(" ")}`,
      parent,
    );
  }
  const plan = planScenario(declaration as ScenarioDeclaration);
  const child = { parent };
  // What every resource that waits, or adopts, takes from the component as it is.
  const common = {
    ...(args.timeouts !== undefined && { timeouts: { ...args.timeouts } }),
    ...(args.adoptWithChanges !== undefined && { adoptWithChanges: args.adoptWithChanges }),
  };

  const connection = children.connection(
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
      ...(args.onDelete !== undefined && { onDelete: args.onDelete }),
      ...common,
    },
    child,
  );
  // A link reset has its maps stopped first; a link left as it is keeps its maps running.
  const mapOnDelete = args.onDelete && (args.onDelete === "reset" ? "stop" : "leave");

  const bootstraps: Record<string, B> = {};
  for (const b of plan.bootstraps) {
    bootstraps[b.code] = children.bootstrap(
      `${name}-bootstrap-${slug(b.code)}`,
      {
        connection,
        companyCode: b.code,
        ...(b.tables && { tables: [...b.tables] }),
        ...(b.owningBusinessUnit !== undefined && { owningBusinessUnit: b.owningBusinessUnit }),
      },
      child,
    );
  }
  const allBootstraps = Object.values(bootstraps);

  // One binding per map, in dependency order: a binding whose map syncs starts it WITH its
  // initial sync and waits until it leaves InitialSync, so the maps that need it start after
  // its data is there — one map after another, as Microsoft's tool runs them
  // (DWMapEngine.cs:1182-1297) and as its guidance asks (prerequisites' data first). Each map
  // is started once (ADR 0006).
  const bindings: Record<string, M> = {};
  for (const m of plan.maps) {
    bindings[m.name] = children.binding(
      `${name}-map-${slug(m.name)}`,
      {
        connection,
        mapName: m.name,
        ...(m.version !== undefined && { version: m.version }),
        ...(m.author !== undefined && { author: m.author }),
        ...(m.keys && { integrationKeys: [...m.keys] }),
        state: m.state,
        // Prerequisites the catalog does not know are started by the binding itself.
        startPrerequisites: true,
        ...(m.initialSync && {
          initialSync: {
            master: m.initialSync.master,
            ...(m.initialSync.legalEntities && {
              legalEntities: [...m.initialSync.legalEntities],
            }),
            ...(args.initialSyncTrigger !== undefined && { trigger: args.initialSyncTrigger }),
            ...(m.initialSync.waitForCompletion === false && { waitForCompletion: false }),
          },
        }),
        ...(mapOnDelete !== undefined && { onDelete: mapOnDelete }),
        ...common,
      },
      {
        parent,
        // Bootstrap before live sync and initial sync: stamped rows must not stream one by one
        // (2019 FAQ order), and an initial sync copies only rows that carry their company.
        dependsOn: [
          ...m.prerequisites.flatMap((p) => (bindings[p] ? [bindings[p]] : [])),
          ...allBootstraps,
        ],
      },
    );
  }
  const synced = plan.maps.filter((m) => m.initialSync).map((m) => m.name);

  const mapStates = recordOf(
    Object.entries(bindings).map(([n, b]) => [n, b.observedState] as const),
  );
  const initialSyncResults = recordOf(
    synced.flatMap((n) => {
      const b = bindings[n];
      return b ? [[n, b.lastInitialSync.apply((s) => s?.results ?? [])] as const] : [];
    }),
  );
  const linkedLegalEntities = connection.linkedLegalEntities;
  return {
    connection,
    bootstraps,
    bindings,
    mapStates,
    initialSyncResults,
    linkedLegalEntities,
    outputs: { mapStates, initialSyncResults, linkedLegalEntities },
  };
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
