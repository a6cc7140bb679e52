/**
 * CompanyBootstrap's plain inputs and outputs and the zod schemas `check` validates them with.
 */
import { z } from "zod";
import {
  bool,
  companyCode,
  httpsUrl,
  show,
  text,
  uniqueList,
  type PropertySchemas,
} from "../common/check";
import type { RowProblem } from "./eligibility";
import type { Ownership } from "../common/spec";

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
import { companyColumnOf, companyTables } from "../common/companies";

/** CompanyBootstrap's inputs as the provider receives them (connection outputs included). */
export interface CompanyBootstrapInputs {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  /**
   * The legal entities the connection declares (upper case), or none when it links every legal
   * entity of F&O: `companyCode` must be one of them. Derived from `connection`.
   */
  readonly connectionLegalEntities?: string[];
  readonly companyCode: string;
  readonly tables?: string[];
  readonly owningBusinessUnit?: string;
  /** Only rows created before this (ISO 8601) are covered. */
  readonly createdBefore?: string;
  /** Cover rows whenever they were created (no cutoff): new rows without a company are drift. */
  readonly stampNewRows?: boolean;
}

/** CompanyBootstrap's outputs. */
export interface CompanyBootstrapOutputs extends CompanyBootstrapInputs {
  /** The company's `cdm_companyid` in Dataverse. */
  readonly companyId: string;
  /** Rows stamped by the last create or update, per table. */
  readonly stampedRows: Record<string, number>;
  /**
   * Rows of the selection still without a company that the bootstrap would stamp, per table, as
   * observed (0 after a successful run; rows dual-write would reject are not counted).
   */
  readonly pendingRows: Record<string, number>;
  /**
   * The creation cutoff in effect (ISO 8601): `createdBefore`, or the creation time of the newest
   * row of the tables when the bootstrap first ran; absent with `stampNewRows`.
   */
  readonly selectionCutoff?: string;
  /** Rows of the selection that dual-write would not take, per table and reason. */
  readonly rowProblems: RowProblem[];
  /**
   * Always `created`: a bootstrap never takes anything over (stamps are business data, and its
   * delete writes nothing). Absent in a state written before ownership was recorded.
   */
  readonly ownership?: Ownership;
}

/** The tables stamped when none are declared. */
export const DEFAULT_TABLES: readonly string[] = ["accounts", "contacts"];

/** One zod schema per input property. */
export const companyBootstrapSchemas = {
  financeOperationsUrl: httpsUrl("https://contoso.operations.dynamics.com"),
  dataverseUrl: httpsUrl("https://contoso.crm.dynamics.com"),
  connectionLegalEntities: uniqueList(companyCode, "legal entities").optional(),
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
  createdBefore: text("an ISO 8601 date or date-time", "2026-11-24T00:00:00Z")
    .refine((v) => ISO_DATE.test(v) && !Number.isNaN(Date.parse(v)), {
      error: (i) =>
        `must be an ISO 8601 date or date-time such as "2026-11-24" or "2026-11-24T08:00:00Z"; got ${show(i.input)}`,
    })
    .optional(),
  stampNewRows: bool.optional(),
} satisfies PropertySchemas & Record<keyof CompanyBootstrapInputs, z.ZodType>;
