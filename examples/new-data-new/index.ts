/**
 * Scenario 3 of Microsoft's guidance, "new-data-new": a new Finance and Operations environment
 * that already holds data (migrated with data management), and a new Dataverse environment. The
 * link and the live maps are set up as for new-new; then an initial sync copies the F&O rows of
 * each declared map into Dataverse.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

// F&O holds the data, so it wins when a row exists on both sides.
const fromFinanceOperations = { master: "FinanceOperations" } as const;

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "new-data-new",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  // The companies whose data was loaded into F&O; DAT alone when not set.
  legalEntities: config.getObject<string[]>("legalEntities"),
  maps: [
    { name: "cdm_companies - Legal entities", initialSync: fromFinanceOperations },
    { name: "transactioncurrencies - Currencies", initialSync: fromFinanceOperations },
    { name: "msdyn_customergroups - Customer groups", initialSync: fromFinanceOperations },
    { name: "accounts - Customers V3", initialSync: fromFinanceOperations },
    { name: "contacts - Customers V3", initialSync: fromFinanceOperations },
  ],
});

/** State of each declared map, e.g. `{ "accounts - Customers V3": "Running" }`. */
export const maps = setup.mapStates;
