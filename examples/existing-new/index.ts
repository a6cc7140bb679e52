/**
 * Scenario 5 of Microsoft's guidance, "existing-new": a Finance and Operations environment in use
 * (with all its legal entities and data) and a new Dataverse environment. The link covers every
 * legal entity unless a subset is declared; an initial sync then copies F&O data into Dataverse.
 *
 * Large tables: initial sync is limited (500,000 rows per legal entity and run; see
 * docs/scenarios.md). Above the limits `pulumi preview` refuses with the counts it measured. Load
 * Dataverse separately (data management packages), then `pulumi config set initialSync skip`: the
 * maps start in live sync with the initial sync skipped.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

// "FinanceOperations" (the default here: F&O holds the data) or "skip".
const initialSyncChoice = config.get("initialSync") ?? "FinanceOperations";
const initialSync =
  initialSyncChoice === "skip"
    ? "skip"
    : { master: initialSyncChoice as "FinanceOperations" | "Dataverse" };

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "existing-new",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  // Every legal entity of the F&O environment when not set.
  legalEntities: config.getObject<string[]>("legalEntities"),
  maps: [
    { name: "cdm_companies - Legal entities", initialSync },
    { name: "transactioncurrencies - Currencies", initialSync },
    { name: "msdyn_customergroups - Customer groups", initialSync },
    { name: "accounts - Customers V3", initialSync },
    { name: "contacts - Customers V3", initialSync },
  ],
});

/** State of each declared map, e.g. `{ "accounts - Customers V3": "Running" }`. */
export const maps = setup.mapStates;
