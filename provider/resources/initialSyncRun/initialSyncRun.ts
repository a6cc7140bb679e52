/**
 * InitialSyncRun: one initial-sync job of one map. `master` chooses which side wins when a row
 * exists on both (it does not set the direction: initial sync copies both ways). A run covers
 * every legal entity of the link (the gateway's start carries no legal-entity list);
 * `legalEntities` selects whose results are reported and must name legal entities of the link.
 * The gateway starts an initial sync only on a stopped map, so a run stops a running map first: it
 * is the way to sync a map again on purpose (a new `trigger`, which runs it again as an update).
 * A run never repeats by accident: a job of the map that an interrupted `up` started is adopted. A map's FIRST initial sync is best
 * declared on its EntityMapBinding (`initialSync`), whose start is then the sync, so that the map is
 * started once (ADR 0006). The lifecycle (and its table of HTTP calls) is in
 * `initialSyncRun.handler.ts`.
 *
 * | lifecycle | what happens                                                                          |
 * |-----------|----------------------------------------------------------------------------------------|
 * | preview   | rows counted in both environments; a run above the data-volume limits is refused        |
 * | create    | a job already running (or finished since the binding's sync) is adopted; otherwise a running map is stopped, the job started once and polled to the end (unless `waitForCompletion: false`), with progress; results per legal entity |
 * | update    | a new `master`, `legalEntities` or `trigger` runs it again; a run not waited for is collected |
 * | replace   | another map or link                                                                    |
 * | delete    | forgets the run; synced rows stay                                                      |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { EntityMapBinding } from "../entityMapBinding/entityMapBinding";
import type { ResourceTimeouts, ResourceTimeoutsArgs } from "../common/timeouts";
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
   * Whose results to report, at most 40; each must be one of the link's legal entities.
   *
   * The gateway's initial sync is a map start that carries no legal-entity list (Microsoft's own
   * tool, DWLibary/Engines/DWMapEngine.cs:1794-1817): a run always covers EVERY legal entity of
   * the link, and the data-volume rules count them all. This input selects which of them the
   * run's `results` report; it does not narrow the sync. To sync fewer companies, link fewer.
   * @default every legal entity of the link
   */
  legalEntities?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Any text; changing it runs the initial sync again (a run is history otherwise).
   * @example "2026-11-24"
   */
  trigger?: pulumi.Input<string>;
  /**
   * Wait until the job ends (`true`), or let `up` return once the job has started — for CI
   * runners with a time limit: the next `pulumi up` or `pulumi refresh` collects and records the
   * result (`status` is `Running` until then).
   * @default true
   */
  waitForCompletion?: pulumi.Input<boolean>;
  /**
   * How long a create or update may wait, e.g. `{ create: "6h" }` (`customTimeouts` do not reach a
   * dynamic provider). A wait that runs out leaves the job running; the next `up` adopts it.
   * @default the built-in limits (24 h for an initial sync)
   */
  timeouts?: pulumi.Input<ResourceTimeoutsArgs>;
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
  /** As declared: whose results are reported. */
  declare readonly legalEntities: pulumi.Output<string[] | undefined>;
  /** The link's legal entities when the run started (the default). */
  declare readonly linkedLegalEntities: pulumi.Output<string[] | undefined>;
  /** As declared. */
  declare readonly trigger: pulumi.Output<string | undefined>;
  /** As declared. */
  declare readonly waitForCompletion: pulumi.Output<boolean | undefined>;
  /** The request id of the initial sync the map's binding recorded, when the run was declared. */
  declare readonly bindingSyncRequestId: pulumi.Output<string | undefined>;
  /** As declared. */
  declare readonly timeouts: pulumi.Output<ResourceTimeouts | undefined>;
  /** The gateway request id of the run (the last one, after a `trigger` change ran it again). */
  declare readonly requestId: pulumi.Output<string>;
  /** `Succeeded`; `Running` until a run not waited for is collected; `Failed` once `refresh` found it failed. */
  declare readonly status: pulumi.Output<string>;
  /** Whether the job was found at the gateway (started by an interrupted `up`) rather than started. */
  declare readonly adopted: pulumi.Output<boolean>;
  /** Per legal entity: rows upserted, errors, the first errors. */
  declare readonly results: pulumi.Output<LegalEntityRunResult[]>;
  /** The rows counted in both environments before the run, per legal entity. */
  declare readonly measuredCounts: pulumi.Output<MeasuredCounts>;
  /** When the run was seen ended (ISO 8601); absent while it runs. */
  declare readonly finishedAt: pulumi.Output<string | undefined>;

  constructor(name: string, args: InitialSyncRunArgs, opts?: pulumi.CustomResourceOptions) {
    // A program in JavaScript (or one that casts) may leave `entityMap` out: the provider's check
    // then names it, rather than this constructor failing on `undefined`.
    const entityMap = args.entityMap as EntityMapBinding | undefined;
    super(
      dynamicProvider("InitialSyncRun"),
      name,
      {
        environmentId: entityMap?.environmentId,
        financeOperationsUrl: entityMap?.financeOperationsUrl,
        dataverseUrl: entityMap?.dataverseUrl,
        mapName: entityMap?.mapName,
        master: args.master,
        legalEntities: args.legalEntities,
        // From the connection's declaration (what the link holds once it converges), known in a
        // preview that creates the link, so that `legalEntities` is checked before it exists.
        linkedLegalEntities: entityMap?.connection.legalEntityCodes(),
        trigger: args.trigger,
        waitForCompletion: args.waitForCompletion,
        bindingSyncRequestId: entityMap?.lastInitialSync.apply((s) => s?.requestId),
        timeouts: args.timeouts,
        requestId: undefined,
        status: undefined,
        adopted: undefined,
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
