/**
 * Scenario 1 of Microsoft's guidance, "new-new": a new, empty Finance and Operations environment
 * and a new Dataverse environment. There is no data on either side yet, so the setup is the link
 * for the default company DAT, the core orchestration solutions, and the table maps running in
 * live sync. Nothing needs an initial sync.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "new-new",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  // Legal entities default to ["DAT"] for a new F&O environment; solutions to the core maps.
  maps: [
    { name: "cdm_companies - Legal entities" },
    { name: "transactioncurrencies - Currencies" },
    { name: "msdyn_customergroups - Customer groups" },
    { name: "accounts - Customers V3" },
    { name: "contacts - Customers V3" },
  ],
});

/** State of each declared map, e.g. `{ "accounts - Customers V3": "Running" }`. */
export const maps = setup.mapStates;
