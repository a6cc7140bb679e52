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
 * | replace   | either URL changes: the old link is reset first (delete-before-replace)                 |
 * | delete    | the link is reset (all maps must be stopped, or `forceReset`); no business data deleted |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { Scenario } from "../../scenario/scenarios";
import type { LegalEntitySpec } from "./dualWriteConnection.schema";

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

  constructor(name: string, args: DualWriteConnectionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider("DualWriteConnection"),
      name,
      {
        scenario: args.scenario,
        financeOperationsUrl: args.financeOperationsUrl,
        dataverseUrl: args.dataverseUrl,
        legalEntities: args.legalEntities,
        solutions: args.solutions,
        skipInitialWritesForNewLegalEntities: args.skipInitialWritesForNewLegalEntities,
        forceReset: args.forceReset,
        environmentId: undefined,
        connectionSetName: undefined,
        linkedLegalEntities: undefined,
        appliedSolutions: undefined,
      },
      opts,
      "dualwrite",
      "DualWriteConnection",
    );
  }
}
