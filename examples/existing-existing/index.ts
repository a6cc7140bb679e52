/**
 * Scenario 6 of Microsoft's guidance, "existing-existing": both environments are in use and hold
 * data. The link covers the F&O legal entities (all of them unless a subset is declared); the
 * Dataverse rows of the declared companies are bootstrapped (stamped with their company so that
 * dual-write picks them up); then an initial sync reconciles both sides per map.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

// Which side wins when the same row exists on both: F&O, the system of record for customers here.
const initialSync = { master: "FinanceOperations" } as const;

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "existing-existing",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  // Every legal entity of the F&O environment when not set.
  legalEntities: config.getObject<string[]>("legalEntities"),
  // The companies whose existing Dataverse rows are stamped before the initial sync: a code, or
  // { code, owningBusinessUnit } to pick each company's rows by business unit.
  bootstrapCompanies:
    config.requireObject<(string | dw.BootstrapCompanyArgs)[]>("bootstrapCompanies"),
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
