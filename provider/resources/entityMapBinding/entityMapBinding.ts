/**
 * EntityMapBinding: one dual-write table map of a link — which map, which version, which
 * integration keys and which state. Starting a map starts live sync with initial sync skipped,
 * unless `initialSync` is declared: then its start from Stopped is the initial sync, as
 * Microsoft's tool starts a map configured with initial sync (ADR 0006). The lifecycle (and its
 * table of HTTP calls) is in `entityMapBinding.handler.ts`.
 *
 * | lifecycle | what happens                                                                         |
 * |-----------|---------------------------------------------------------------------------------------|
 * | preview   | the map name and version are looked up; a map stopped by hand shows as an update       |
 * | create    | a map already as declared is adopted; otherwise prerequisites checked (or started), then the map started (with its initial sync when declared), paused or stopped |
 * | update    | version or key changes stop the map, change it and restart it; state changes act directly; a new `initialSync` master or trigger syncs a running map again |
 * | replace   | a different map or link                                                               |
 * | delete    | a map this binding started is stopped, one it adopted running is left running (`onDelete` overrides); no row is deleted |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { OnDelete, Ownership } from "../common/spec";
import type { DualWriteConnection } from "../dualWriteConnection/dualWriteConnection";
import type { ResourceTimeouts, ResourceTimeoutsArgs } from "../common/timeouts";
import type { Master } from "../initialSyncRun/initialSyncRun.schema";
import type {
  BindingInitialSync,
  BindingSyncRecord,
  DesiredState,
} from "./entityMapBinding.schema";

/** A map's initial sync, as an {@link EntityMapBinding} declares it. */
export interface BindingInitialSyncArgs {
  /**
   * Which side wins where a row exists on both: `Dataverse` or `FinanceOperations`. It does not
   * set the direction; initial sync copies both ways.
   */
  master: pulumi.Input<Master>;
  /**
   * Whose results to report, at most 40; each must be one of the link's legal entities. The sync
   * covers every legal entity of the link (the gateway's start carries no list).
   * @default every legal entity of the link
   */
  legalEntities?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Any text; changing it (or `master`) stops the running map and starts it with an initial
   * sync again.
   * @example "2026-11-24"
   */
  trigger?: pulumi.Input<string>;
  /**
   * Wait until the sync ends (`true`), or let `up` return once it has started — for CI runners
   * with a time limit: the map stays in InitialSync, `lastInitialSync.status` is `Running`, and
   * the next `pulumi up` or `pulumi refresh` collects and records the result.
   * @default true
   */
  waitForCompletion?: pulumi.Input<boolean>;
}

/** The inputs of an {@link EntityMapBinding}. */
export interface EntityMapBindingArgs {
  /** The link the map belongs to (the resource, not an id). */
  connection: DualWriteConnection;
  /**
   * The map's name as the dual-write workspace and gateway show it:
   * `<Dataverse table> - <F&O entity>`. Changing it replaces the binding.
   * @example "accounts - Customers V3"
   */
  mapName: pulumi.Input<string>;
  /**
   * The map version to run: `latest` or an exact four-part version.
   * @default "latest"
   * @example "1.0.0.5"
   */
  version?: pulumi.Input<string>;
  /** Only versions published by this author (e.g. `Microsoft`) are considered. */
  author?: pulumi.Input<string>;
  /**
   * The integration keys of the map's Dataverse table, in order. Left out, the keys are not
   * managed.
   * @example ["accountnumber", "msdyn_company.cdm_companycode"]
   */
  integrationKeys?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The state to keep the map in.
   * @default "Running"
   */
  state?: pulumi.Input<DesiredState>;
  /**
   * Start the map's prerequisite maps (in the gateway's order, initial sync skipped) when they
   * are not running, instead of failing with their names.
   * @default false
   */
  startPrerequisites?: pulumi.Input<boolean>;
  /**
   * Start the map with an initial sync: when the binding starts it from Stopped (its first start,
   * or a restart after it was stopped), it refreshes the tables and starts it with
   * `skipInitialSync: false` and this master, then waits until it leaves InitialSync — one start,
   * as Microsoft's tool starts a map configured with initial sync. The data-volume rules are
   * checked first (as for an InitialSyncRun). A map found running is left as it is.
   * Left out, starts skip initial sync.
   */
  initialSync?: pulumi.Input<BindingInitialSyncArgs>;
  /**
   * How long a create, update or delete may wait, e.g. `{ create: "6h" }` (`customTimeouts` do not
   * reach a dynamic provider). A wait that runs out leaves the gateway's work running; the next
   * `up` adopts it.
   * @default the built-in limits (15 min per map action, 24 h for an initial sync)
   */
  timeouts?: pulumi.Input<ResourceTimeoutsArgs>;
  /**
   * What deleting this binding does to the map: `stop` it or `leave` it as it runs.
   * @default "stop" when this binding brought the map into service, "leave" when it adopted a map
   * that was running already
   */
  onDelete?: pulumi.Input<OnDelete<"stop">>;
  /**
   * When the map runs already (started by hand, or by another stack), creating this binding adopts
   * it; where the declaration differs from what runs (another version, other keys, another
   * state), creating it would stop or pause the map, and preview refuses that, naming each change.
   * Set this to accept such changes.
   * @default false
   */
  adoptWithChanges?: pulumi.Input<boolean>;
}

/**
 * One dual-write table map, kept at a version, with keys, in a state.
 *
 * @example
 * const accounts = new EntityMapBinding("accounts", {
 *   connection: link,
 *   mapName: "accounts - Customers V3",
 *   state: "Running",
 * });
 */
export class EntityMapBinding extends pulumi.dynamic.Resource {
  /** The connection's F&O environment id. */
  declare readonly environmentId: pulumi.Output<string>;
  /** The connection's declared legal entities when this binding was last checked. */
  declare readonly connectionLegalEntities: pulumi.Output<string[] | undefined>;
  /** The F&O environment's URL (from the connection). */
  declare readonly financeOperationsUrl: pulumi.Output<string>;
  /** The Dataverse environment's URL (from the connection). */
  declare readonly dataverseUrl: pulumi.Output<string>;
  /** The map's name, as declared. */
  declare readonly mapName: pulumi.Output<string>;
  /** As declared. */
  declare readonly version: pulumi.Output<string | undefined>;
  /** As declared. */
  declare readonly author: pulumi.Output<string | undefined>;
  /** As declared. */
  declare readonly integrationKeys: pulumi.Output<string[] | undefined>;
  /** The declared state. */
  declare readonly state: pulumi.Output<DesiredState | undefined>;
  /** As declared. */
  declare readonly startPrerequisites: pulumi.Output<boolean | undefined>;
  /** The gateway's `tid`: the ACTIVE template (version) id; it changes when the version changes. */
  declare readonly mapId: pulumi.Output<string>;
  /** The runtime project id (`pid`); empty until the map is initialized. */
  declare readonly projectId: pulumi.Output<string>;
  /** The map's state as observed after the last update or refresh, e.g. `Running`. */
  declare readonly observedState: pulumi.Output<string>;
  /** The active version, e.g. `1.0.0.5`. */
  declare readonly activeVersion: pulumi.Output<string>;
  /** The publisher of the active version. */
  declare readonly activeAuthor: pulumi.Output<string>;
  /** The integration keys in effect for the map's Dataverse table. */
  declare readonly integrationKeysInEffect: pulumi.Output<string[]>;
  /** The Dataverse entity set the map writes. */
  declare readonly dataverseEntitySet: pulumi.Output<string>;
  /** The F&O entity the map reads. */
  declare readonly financeOperationsEntity: pulumi.Output<string>;
  /** The maps this one needs running first, in start order. */
  declare readonly prerequisiteMaps: pulumi.Output<string[]>;
  /** As declared. */
  declare readonly initialSync: pulumi.Output<BindingInitialSync | undefined>;
  /**
   * The last initial sync this binding started (or adopted from an interrupted `up`), with its
   * results per legal entity.
   */
  declare readonly lastInitialSync: pulumi.Output<BindingSyncRecord | undefined>;
  /** As declared. */
  declare readonly timeouts: pulumi.Output<ResourceTimeouts | undefined>;
  /** As declared. */
  declare readonly onDelete: pulumi.Output<OnDelete<"stop"> | undefined>;
  /** As declared. */
  declare readonly adoptWithChanges: pulumi.Output<boolean | undefined>;
  /**
   * The concrete version `version` stands for, kept in the state: with `latest`, a version
   * published later shows in preview as a switch, not as a silent stop.
   */
  declare readonly resolvedVersion: pulumi.Output<string>;
  /** `created` when this binding brought the map into service, `adopted` when it found it running. */
  declare readonly ownership: pulumi.Output<Ownership>;
  /** The connection this map belongs to (a program-side reference, not an output). */
  readonly connection: DualWriteConnection;

  constructor(name: string, args: EntityMapBindingArgs, opts?: pulumi.CustomResourceOptions) {
    // A program in JavaScript (or one that casts) may leave `connection` out: the provider's
    // check then names it, rather than this constructor failing on `undefined`.
    const connection = args.connection as DualWriteConnection | undefined;
    super(
      dynamicProvider("EntityMapBinding"),
      name,
      {
        environmentId: connection?.environmentId,
        financeOperationsUrl: connection?.financeOperationsUrl,
        dataverseUrl: connection?.dataverseUrl,
        // From the connection's declaration, known in a preview that creates the link, so that
        // company codes are checked against the declared link before it exists.
        connectionLegalEntities: connection?.legalEntityCodes(),
        mapName: args.mapName,
        version: args.version,
        author: args.author,
        integrationKeys: args.integrationKeys,
        state: args.state,
        startPrerequisites: args.startPrerequisites,
        initialSync: args.initialSync,
        timeouts: args.timeouts,
        onDelete: args.onDelete,
        adoptWithChanges: args.adoptWithChanges,
        mapId: undefined,
        projectId: undefined,
        observedState: undefined,
        activeVersion: undefined,
        activeAuthor: undefined,
        integrationKeysInEffect: undefined,
        dataverseEntitySet: undefined,
        financeOperationsEntity: undefined,
        prerequisiteMaps: undefined,
        lastInitialSync: undefined,
        resolvedVersion: undefined,
        ownership: undefined,
      },
      opts,
      "dualwrite",
      "EntityMapBinding",
    );
    this.connection = args.connection;
  }
}
