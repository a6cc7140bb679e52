/**
 * CompanyBootstrap's plain inputs and outputs and the zod schemas `check` validates them with.
 */
import { z } from "zod";
import { companyCode, httpsUrl, text, uniqueList, type PropertySchemas } from "../common/check";
import { companyColumnOf, companyTables } from "../common/companies";

/** CompanyBootstrap's inputs as the provider receives them (connection outputs included). */
export interface CompanyBootstrapInputs {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly companyCode: string;
  readonly tables?: string[];
  readonly owningBusinessUnit?: string;
}

/** CompanyBootstrap's outputs. */
export interface CompanyBootstrapOutputs extends CompanyBootstrapInputs {
  /** The company's `cdm_companyid` in Dataverse. */
  readonly companyId: string;
  /** Rows stamped by the last create or update, per table. */
  readonly stampedRows: Record<string, number>;
  /** Rows still without a company, per table, as observed (0 after a successful run). */
  readonly pendingRows: Record<string, number>;
}

/** The tables stamped when none are declared. */
export const DEFAULT_TABLES: readonly string[] = ["accounts", "contacts"];

/** One zod schema per input property. */
export const companyBootstrapSchemas = {
  financeOperationsUrl: httpsUrl("https://contoso.operations.dynamics.com"),
  dataverseUrl: httpsUrl("https://contoso.crm.dynamics.com"),
  companyCode,
  tables: uniqueList(
    text("a Dataverse entity set name", "accounts").refine(
      (t) => companyColumnOf(t) !== undefined,
      {
        error: (i) =>
          `${JSON.stringify(i.input)} is not a table whose company lookup the provider knows; use entity set names such as ${companyTables().slice(0, 6).join(", ")}`,
      },
    ),
    "tables",
  )
    .refine((t) => t.length > 0, {
      error: "is empty; list the tables to stamp, or leave it out for accounts and contacts",
    })
    .optional(),
  owningBusinessUnit: text("a business unit name", "Contoso US")
    .refine((v) => v.trim() !== "", {
      error: "is empty; give the business unit's name or leave it out",
    })
    .refine((v) => v.length <= 160, {
      error: "is longer than 160 characters, the longest business unit name Dataverse allows",
    })
    .optional(),
} satisfies PropertySchemas & Record<keyof CompanyBootstrapInputs, z.ZodType>;
