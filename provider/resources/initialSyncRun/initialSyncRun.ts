/**
 * InitialSyncRun: one initial-sync job of one map. `master` chooses which side wins when a row
 * exists on both (it does not set the direction: initial sync copies both ways). The lifecycle
 * (and its table of HTTP calls) is in `initialSyncRun.handler.ts`.
 *
 * | lifecycle | what happens                                                                          |
 * |-----------|----------------------------------------------------------------------------------------|
 * | preview   | rows counted in both environments; a run above the data-volume limits is refused        |
 * | create    | the job is started once and polled to the end, with progress; results per legal entity |
 * | replace   | any change (e.g. `trigger`) runs it again                                               |
 * | delete    | forgets the run; synced rows stay                                                      |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { EntityMapBinding } from "../entityMapBinding/entityMapBinding";
import type { LegalEntityRunResult, Master, MeasuredCounts } from "./initialSyncRun.schema";

/** The inputs of an {@link InitialSyncRun}. */
export interface InitialSyncRunArgs {
  /** The map to sync (the EntityMapBinding resource). */
  entityMap: EntityMapBinding;
  /**
   * Which side wins when a row exists on both: `Dataverse` or `FinanceOperations`. It does not
   * set the direction; initial sync copies both ways.
   */
  master: pulumi.Input<Master>;
  /**
   * The legal entities to sync, at most 40.
   * @default the link's legal entities
   */
  legalEntities?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Any text; changing it runs the initial sync again (a run is history otherwise).
   * @example "2026-11-24"
   */
  trigger?: pulumi.Input<string>;
}

/**
 * One initial-sync job of one map, checked against the data-volume rules before it starts.
 *
 * @example
 * new InitialSyncRun("accounts-initial", { entityMap: accounts, master: "FinanceOperations", trigger: "2026-11-24" });
 */
export class InitialSyncRun extends pulumi.dynamic.Resource {
  /** The connection's F&O environment id. */
  declare readonly environmentId: pulumi.Output<string>;
  /** The F&O environment's URL. */
  declare readonly financeOperationsUrl: pulumi.Output<string>;
  /** The Dataverse environment's URL. */
  declare readonly dataverseUrl: pulumi.Output<string>;
  /** The map synced. */
  declare readonly mapName: pulumi.Output<string>;
  /** As declared. */
  declare readonly master: pulumi.Output<Master>;
  /** As declared. */
  declare readonly legalEntities: pulumi.Output<string[] | undefined>;
  /** The link's legal entities when the run started (the default). */
  declare readonly linkedLegalEntities: pulumi.Output<string[] | undefined>;
  /** As declared. */
  declare readonly trigger: pulumi.Output<string | undefined>;
  /** The gateway request id of the run. */
  declare readonly requestId: pulumi.Output<string>;
  /** `Succeeded`. */
  declare readonly status: pulumi.Output<string>;
  /** Per legal entity: rows upserted, errors, the first errors. */
  declare readonly results: pulumi.Output<LegalEntityRunResult[]>;
  /** The rows counted in both environments before the run, per legal entity. */
  declare readonly measuredCounts: pulumi.Output<MeasuredCounts>;
  /** When the run ended (ISO 8601). */
  declare readonly finishedAt: pulumi.Output<string>;

  constructor(name: string, args: InitialSyncRunArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider("InitialSyncRun"),
      name,
      {
        environmentId: args.entityMap.environmentId,
        financeOperationsUrl: args.entityMap.financeOperationsUrl,
        dataverseUrl: args.entityMap.dataverseUrl,
        mapName: args.entityMap.mapName,
        master: args.master,
        legalEntities: args.legalEntities,
        linkedLegalEntities: args.entityMap.connection.linkedLegalEntities,
        trigger: args.trigger,
        requestId: undefined,
        status: undefined,
        results: undefined,
        measuredCounts: undefined,
        finishedAt: undefined,
      },
      opts,
      "dualwrite",
      "InitialSyncRun",
    );
  }
}
