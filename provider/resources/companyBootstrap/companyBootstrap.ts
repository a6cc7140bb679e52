/**
 * CompanyBootstrap: for one company, stamps the company lookup (`msdyn_company` /
 * `msdyn_companyid`) on existing Dataverse rows that have none, so they become eligible for
 * dual-write. The lifecycle (and its table of HTTP calls) is in `companyBootstrap.handler.ts`.
 *
 * | lifecycle | what happens                                                                       |
 * |-----------|-------------------------------------------------------------------------------------|
 * | preview   | prints how many rows would be stamped; unstamped rows found later show as an update  |
 * | create    | stamps every row without a company in the declared tables (1,000 per request)       |
 * | update    | stamps rows without a company that appeared since                                   |
 * | delete    | nothing: stamped rows keep their company; no row is deleted                          |
 */
import * as pulumi from "@pulumi/pulumi";
import { dynamicProvider } from "../../dynamic/adapter";
import type { DualWriteConnection } from "../dualWriteConnection/dualWriteConnection";

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
  /** Rows still without a company, per table, as last observed. */
  declare readonly pendingRows: pulumi.Output<Record<string, number>>;

  constructor(name: string, args: CompanyBootstrapArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      dynamicProvider("CompanyBootstrap"),
      name,
      {
        financeOperationsUrl: args.connection.financeOperationsUrl,
        dataverseUrl: args.connection.dataverseUrl,
        companyCode: args.companyCode,
        tables: args.tables,
        owningBusinessUnit: args.owningBusinessUnit,
        companyId: undefined,
        stampedRows: undefined,
        pendingRows: undefined,
      },
      opts,
      "dualwrite",
      "CompanyBootstrap",
    );
  }
}
