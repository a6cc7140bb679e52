/**
 * CompanyBootstrap: for one company, stamps the company lookup (`msdyn_company` /
 * `msdyn_companyid`) on existing Dataverse rows that have none, so they become eligible for
 * dual-write. The lifecycle (and its table of HTTP calls) is in `companyBootstrap.handler.ts`.
 *
 * | lifecycle | what happens                                                                       |
 * |-----------|-------------------------------------------------------------------------------------|
 * | preview   | prints how many rows would be stamped, the rows dual-write would reject (counts, first keys), and which maps run (each stamp then live-syncs) |
 * | create    | stamps the covered rows without a company, in lookup order (1,000 per request); rows dual-write would reject are left out |
 * | update    | stamps covered rows without a company that appeared since (created before the cutoff, or any with `stampNewRows`) |
 * | delete    | nothing: stamped rows keep their company; no row is deleted                          |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { DualWriteConnection } from "../dualWriteConnection/dualWriteConnection";
import type { Ownership } from "../common/spec";
import type { RowProblem } from "./eligibility";

/** The inputs of a {@link CompanyBootstrap}. */
export interface CompanyBootstrapArgs {
  /** The link whose Dataverse environment holds the rows (the resource, not an id). */
  connection: DualWriteConnection;
  /**
   * The company to stamp rows with: its F&O code (`dataAreaId`), which must be one of the link's
   * legal entities. Changing it replaces the resource.
   * @example "USMF"
   */
  companyCode: pulumi.Input<string>;
  /**
   * Dataverse tables (entity sets) to stamp; the company lookup of each is known.
   * @default ["accounts", "contacts"]
   */
  tables?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Stamp only rows owned by this business unit (by name); left out, rows of every business
   * unit are stamped.
   * @example "Contoso US"
   */
  owningBusinessUnit?: pulumi.Input<string>;
  /**
   * Cover only rows created before this moment (ISO 8601). Left out, the bootstrap covers the rows
   * that existed when it first ran (the creation time of the newest row then, kept as
   * `selectionCutoff`): rows a live org creates later are not drift.
   * @example "2026-11-24T00:00:00Z"
   */
  createdBefore?: pulumi.Input<string>;
  /**
   * Cover rows whenever they are created: rows without a company made after the bootstrap ran
   * show as drift and the next `up` stamps them.
   * @default false
   */
  stampNewRows?: pulumi.Input<boolean>;
}

/**
 * Stamps a company on the Dataverse rows that have none, before their maps' initial sync.
 *
 * @example
 * new CompanyBootstrap("usmf", { connection: link, companyCode: "USMF", owningBusinessUnit: "Contoso US" });
 */
export class CompanyBootstrap extends pulumi.dynamic.Resource {
  /** The F&O environment's URL (from the connection). */
  declare readonly financeOperationsUrl: pulumi.Output<string>;
  /** The Dataverse environment's URL (from the connection). */
  declare readonly dataverseUrl: pulumi.Output<string>;
  /** As declared. */
  declare readonly companyCode: pulumi.Output<string>;
  /** As declared. */
  declare readonly tables: pulumi.Output<string[] | undefined>;
  /** As declared. */
  declare readonly owningBusinessUnit: pulumi.Output<string | undefined>;
  /** The company's `cdm_companyid`. */
  declare readonly companyId: pulumi.Output<string>;
  /** Rows stamped by the last create or update, per table. */
  declare readonly stampedRows: pulumi.Output<Record<string, number>>;
  /** As declared. */
  declare readonly createdBefore: pulumi.Output<string | undefined>;
  /** As declared. */
  declare readonly stampNewRows: pulumi.Output<boolean | undefined>;
  /** Rows of the selection still to stamp, per table, as last observed (rejected rows left out). */
  declare readonly pendingRows: pulumi.Output<Record<string, number>>;
  /** The creation cutoff in effect (ISO 8601); absent with `stampNewRows`. */
  declare readonly selectionCutoff: pulumi.Output<string | undefined>;
  /** Rows of the selection dual-write would not take: table, reason, count, first keys. */
  declare readonly rowProblems: pulumi.Output<RowProblem[]>;
  /** `created`: a bootstrap never takes anything over, and its delete writes nothing. */
  declare readonly ownership: pulumi.Output<Ownership>;

  /**
   * The legal entities the connection declares (taken from `connection`; `companyCode` must be
   * one of them).
   */
  declare readonly connectionLegalEntities: pulumi.Output<string[] | undefined>;

  constructor(name: string, args: CompanyBootstrapArgs, opts?: pulumi.CustomResourceOptions) {
    // A program in JavaScript (or one that casts) may leave `connection` out: the provider's
    // check then names it, rather than this constructor failing on `undefined`.
    const connection = args.connection as DualWriteConnection | undefined;
    super(
      dynamicProvider("CompanyBootstrap"),
      name,
      {
        financeOperationsUrl: connection?.financeOperationsUrl,
        dataverseUrl: connection?.dataverseUrl,
        // From the connection's declaration, known in a preview that creates the link, so that
        // the company code is checked against the declared link before it exists.
        connectionLegalEntities: connection?.legalEntityCodes(),
        companyCode: args.companyCode,
        tables: args.tables,
        owningBusinessUnit: args.owningBusinessUnit,
        companyId: undefined,
        stampedRows: undefined,
        createdBefore: args.createdBefore,
        stampNewRows: args.stampNewRows,
        pendingRows: undefined,
        selectionCutoff: undefined,
        rowProblems: undefined,
        ownership: undefined,
      },
      opts,
      "dualwrite",
      "CompanyBootstrap",
    );
  }
}
