/**
 * Scenario 4 of Microsoft's guidance, "new-data-existing": a new Finance and Operations environment
 * that already holds data, and a Dataverse environment in use. The steps of new-existing (create
 * the companies in F&O, add them to the link, bootstrap their Dataverse rows) followed by an
 * initial sync that brings the F&O data across and reconciles the rows both sides have.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

/** A company as declared in stack config: `{ code: "USMF", name: "Contoso USA" }`. */
interface CompanyConfig {
  /** Legal entity code, 1–4 characters. */
  code: string;
  /** Legal entity name in F&O. */
  name: string;
  /** Only Dataverse rows of this business unit belong to the company; all unstamped rows when not set. */
  owningBusinessUnit?: string;
}
const companies = config.requireObject<CompanyConfig[]>("companies");

// F&O was loaded on purpose for this project: it wins when a row exists on both sides.
const initialSync = { master: "FinanceOperations" } as const;

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "new-data-existing",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  // DAT stays linked; each company is created in F&O when it is missing there.
  legalEntities: [
    "DAT",
    ...companies.map((c) => ({ code: c.code, name: c.name, createIfMissing: true })),
  ],
  // Customer groups are stamped too: the customers refer to them, and F&O needs them first.
  bootstrapCompanies: companies.map((c) => ({
    code: c.code,
    owningBusinessUnit: c.owningBusinessUnit,
    tables: ["msdyn_customergroups", "accounts", "contacts"],
  })),
  maps: [
    { name: "cdm_companies - Legal entities" },
    { name: "transactioncurrencies - Currencies", initialSync },
    { name: "msdyn_customergroups - Customer groups", initialSync },
    { name: "accounts - Customers V3", initialSync },
    { name: "contacts - Customers V3", initialSync },
  ],
});

/** State of each declared map, e.g. `{ "accounts - Customers V3": "Running" }`. */
export const maps = setup.mapStates;
