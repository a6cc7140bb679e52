/**
 * EntityMapBinding: one dual-write table map of a link — which map, which version, which
 * integration keys and which state. Starting a map always starts live sync with initial sync
 * skipped; copying existing rows is {@link InitialSyncRun}'s job. The lifecycle (and its table of
 * HTTP calls) is in `entityMapBinding.handler.ts`.
 *
 * | lifecycle | what happens                                                                         |
 * |-----------|---------------------------------------------------------------------------------------|
 * | preview   | the map name and version are looked up; a map stopped by hand shows as an update       |
 * | create    | a map already as declared is adopted; otherwise prerequisites checked (or started), then the map started, paused or stopped |
 * | update    | version or key changes stop the map, change it and restart it; state changes act directly |
 * | replace   | a different map or link                                                               |
 * | delete    | the map is stopped; no row is deleted                                                  |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { DualWriteConnection } from "../dualWriteConnection/dualWriteConnection";
import type { DesiredState } from "./entityMapBinding.schema";

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
  /** The gateway's map id (`tid`). */
  declare readonly mapId: pulumi.Output<string>;
  /** The runtime project id (`pid`). */
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
  /** The connection this map belongs to (a program-side reference, not an output). */
  readonly connection: DualWriteConnection;

  constructor(name: string, args: EntityMapBindingArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider("EntityMapBinding"),
      name,
      {
        environmentId: args.connection.environmentId,
        financeOperationsUrl: args.connection.financeOperationsUrl,
        dataverseUrl: args.connection.dataverseUrl,
        mapName: args.mapName,
        version: args.version,
        author: args.author,
        integrationKeys: args.integrationKeys,
        state: args.state,
        startPrerequisites: args.startPrerequisites,
        mapId: undefined,
        projectId: undefined,
        observedState: undefined,
        activeVersion: undefined,
        activeAuthor: undefined,
        integrationKeysInEffect: undefined,
        dataverseEntitySet: undefined,
        financeOperationsEntity: undefined,
        prerequisiteMaps: undefined,
      },
      opts,
      "dualwrite",
      "EntityMapBinding",
    );
    this.connection = args.connection;
  }
}
