/**
 * DualWriteConnection: the dual-write link between one Finance and Operations environment and
 * one Dataverse environment — its legal entities, its orchestration solutions and the health
 * check that guards it. The lifecycle (and its table of HTTP calls) is in
 * `dualWriteConnection.handler.ts`.
 *
 * | lifecycle | what happens                                                                          |
 * |-----------|----------------------------------------------------------------------------------------|
 * | preview   | inputs checked; health check and scenario pre-flight read both environments            |
 * | create    | missing legal entities created (if asked), link made or adopted, solutions applied    |
 * | update    | legal entities added/removed in place (guards), missing solutions applied              |
 * | replace   | either URL changes: the old link is reset first (delete-before-replace, on every path) |
 * | delete    | a link it made is reset (all maps must be stopped, or `forceReset`); an adopted one is left as found, unless `onDelete` says otherwise; no business data deleted |
 */
import * as pulumi from "@pulumi/pulumi";
import type { ResourceTimeouts, ResourceTimeoutsArgs } from "../common/timeouts";
import { dynamicProvider } from "../../dynamic/adapter";
import type { Scenario } from "../../scenario/scenarios";
import type { OnDelete, Ownership } from "../common/spec";
import { declaredLegalEntityCodes, type LegalEntitySpec } from "./dualWriteConnection.schema";

/** A legal entity with options, for {@link DualWriteConnectionArgs.legalEntities}. */
export interface LegalEntityArgs {
  /** The F&O company code (`dataAreaId`), 1–4 letters or digits, e.g. `USMF`. */
  code: pulumi.Input<string>;
  /** The company's name, used when it is created in F&O. @default the code */
  name?: pulumi.Input<string>;
  /**
   * Create the legal entity in F&O when it does not exist yet (the first step of the
   * `new-existing` and `new-data-existing` scenarios). It is never deleted.
   * @default false
   */
  createIfMissing?: pulumi.Input<boolean>;
}

/** The inputs of a {@link DualWriteConnection}. */
export interface DualWriteConnectionArgs {
  /**
   * Which of Microsoft's six setup scenarios this link follows (`<F&O>-<Dataverse>`):
   * `new-new`, `new-existing`, `new-data-new`, `new-data-existing`, `existing-new`,
   * `existing-existing`. It sets the defaults (legal entities, solutions) and the pre-flight
   * checks: a scenario the environments contradict is refused in preview.
   */
  scenario: pulumi.Input<Scenario>;
  /**
   * The Finance and Operations environment's URL. Changing it replaces the link (reset first).
   * @example "https://contoso.operations.dynamics.com"
   */
  financeOperationsUrl: pulumi.Input<string>;
  /**
   * The Dataverse environment's URL. Changing it replaces the link (reset first).
   * @example "https://contoso.crm.dynamics.com"
   */
  dataverseUrl: pulumi.Input<string>;
  /**
   * The legal entities (companies) to link: codes, or objects that may ask for the company to be
   * created in F&O. Adding or removing one updates the link in place. At most 40 unless
   * `skipInitialWritesForNewLegalEntities` is set.
   * @default ["DAT"] for a new F&O environment; every legal entity for an existing one
   */
  legalEntities?: pulumi.Input<pulumi.Input<string | LegalEntityArgs>[]>;
  /**
   * Orchestration solutions to apply (their maps become available).
   * @default ["msdyn_DualWriteAppCoreMaps"]
   */
  solutions?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Do not run initial writes for legal entities added later (dual-write's "Skip initial writes
   * for newly added legal entities").
   * @default false
   */
  skipInitialWritesForNewLegalEntities?: pulumi.Input<boolean>;
  /**
   * Reset the link on delete or replacement even while maps are running.
   * @default false
   */
  forceReset?: pulumi.Input<boolean>;
  /**
   * What deleting this resource does to the link: `reset` it (unlink; no business data is
   * deleted) or `leave` it as it is.
   * @default "reset" when this resource made the link, "leave" when it adopted one that existed
   */
  onDelete?: pulumi.Input<OnDelete<"reset">>;
  /**
   * When the link exists already (made by hand, or by another stack), creating this resource adopts
   * it; where the link holds legal entities that are not declared, creating it would remove them
   * from live sync, and preview refuses that, naming them. Set this to accept such changes.
   * @default false
   */
  adoptWithChanges?: pulumi.Input<boolean>;
  /**
   * How long a create, update or delete may wait, e.g. `{ create: "45m" }` (`customTimeouts` do
   * not reach a dynamic provider). A wait that runs out leaves the service's work running; the
   * next `up` finds it.
   * @default the built-in limits: 30 min for a link, unlink or legal-entity change to show, 30 min
   * per solution
   */
  timeouts?: pulumi.Input<ResourceTimeoutsArgs>;
}

/**
 * The dual-write link between an F&O environment and a Dataverse environment.
 *
 * @example
 * const link = new DualWriteConnection("contoso", {
 *   scenario: "existing-existing",
 *   financeOperationsUrl: "https://contoso.operations.dynamics.com",
 *   dataverseUrl: "https://contoso.crm.dynamics.com",
 *   legalEntities: ["USMF", { code: "ABC", name: "Contoso ABC", createIfMissing: true }],
 * });
 */
export class DualWriteConnection extends pulumi.dynamic.Resource {
  /** The scenario, as declared. */
  declare readonly scenario: pulumi.Output<Scenario>;
  /** The F&O environment's URL, as declared. */
  declare readonly financeOperationsUrl: pulumi.Output<string>;
  /** The Dataverse environment's URL, as declared. */
  declare readonly dataverseUrl: pulumi.Output<string>;
  /** The legal entities, as declared (undefined when the scenario's default applies). */
  declare readonly legalEntities: pulumi.Output<(string | LegalEntitySpec)[] | undefined>;
  /** The solutions, as declared. */
  declare readonly solutions: pulumi.Output<string[] | undefined>;
  /** As declared. */
  declare readonly skipInitialWritesForNewLegalEntities: pulumi.Output<boolean | undefined>;
  /** As declared. */
  declare readonly forceReset: pulumi.Output<boolean | undefined>;
  /** The F&O environment id the gateway knows the link by (`cid`). */
  declare readonly environmentId: pulumi.Output<string>;
  /** The gateway's connection-set name. */
  declare readonly connectionSetName: pulumi.Output<string>;
  /** The legal entity codes the link holds, upper case and sorted, as observed. */
  declare readonly linkedLegalEntities: pulumi.Output<string[]>;
  /** The orchestration solutions applied on the link, as observed. */
  declare readonly appliedSolutions: pulumi.Output<string[]>;
  /** As declared. */
  declare readonly onDelete: pulumi.Output<OnDelete<"reset"> | undefined>;
  /** As declared. */
  declare readonly adoptWithChanges: pulumi.Output<boolean | undefined>;
  /** `created` when this resource made the link, `adopted` when it took over one that existed. */
  declare readonly ownership: pulumi.Output<Ownership>;
  /** As declared. */
  declare readonly timeouts: pulumi.Output<ResourceTimeouts | undefined>;

  constructor(name: string, args: DualWriteConnectionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider("DualWriteConnection"),
      name,
      {
        timeouts: args.timeouts,
        scenario: args.scenario,
        financeOperationsUrl: args.financeOperationsUrl,
        dataverseUrl: args.dataverseUrl,
        legalEntities: args.legalEntities,
        solutions: args.solutions,
        skipInitialWritesForNewLegalEntities: args.skipInitialWritesForNewLegalEntities,
        forceReset: args.forceReset,
        onDelete: args.onDelete,
        adoptWithChanges: args.adoptWithChanges,
        environmentId: undefined,
        connectionSetName: undefined,
        linkedLegalEntities: undefined,
        appliedSolutions: undefined,
        ownership: undefined,
      },
      // A link is 1:1: its replacement can be made only once it is reset. Set here, not only in
      // the diff result, because `pulumi up --replace` does not ask the provider for a diff.
      { ...opts, deleteBeforeReplace: true },
      "dualwrite",
      "DualWriteConnection",
    );
    this.declared = { scenario: args.scenario, legalEntities: args.legalEntities };
  }

  /** What the program declared, for {@link legalEntityCodes} (not an output of the resource). */
  private readonly declared: {
    readonly scenario: DualWriteConnectionArgs["scenario"];
    readonly legalEntities: DualWriteConnectionArgs["legalEntities"];
  };

  /**
   * The legal entity codes this connection declares (upper case, sorted; its scenario's default
   * when it declares none), or undefined when it links every legal entity of F&O. From the
   * program's own values, so known in a first preview — unlike the outputs, of which one the
   * state lacks reads as unknown in a preview. Dependent resources check their companies
   * against it before the link exists.
   */
  legalEntityCodes(): pulumi.Output<string[] | undefined> {
    return pulumi
      .all([this.declared.scenario, pulumi.output(this.declared.legalEntities)])
      .apply(([scenario, legalEntities]) => declaredLegalEntityCodes(scenario, legalEntities));
  }
}
