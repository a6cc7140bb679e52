/**
 * One dual-write declaration, promoted from dev to test to prod. Each stack is one environment
 * pair (F&O + Dataverse). What differs between them lives in the stack files, nothing in the
 * program: the legal entities, the companies to bootstrap, and the version of the accounts map (dev
 * follows the newest; test and prod pin the version that passed in the stage before).
 *
 * The environment URLs are not in the stack files: they are set per machine with
 * `pulumi config set` (see README.md), because emulated environments get a new port on every run.
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

// F&O is the system of record for customers in every stage.
const initialSync = { master: "FinanceOperations" } as const;
// "latest" or an exact version such as "1.0.0.4": the version knob promoted between stages.
const accountsVersion = config.get("accountsMapVersion") ?? "latest";

const setup = new dw.DualWriteScenario("contoso", {
  scenario: "existing-existing",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  legalEntities: config.requireObject<string[]>("legalEntities"),
  bootstrapCompanies: config.requireObject<dw.BootstrapCompanyArgs[]>("bootstrapCompanies"),
  maps: [
    { name: "cdm_companies - Legal entities" },
    { name: "transactioncurrencies - Currencies", initialSync },
    { name: "msdyn_customergroups - Customer groups", initialSync },
    { name: "accounts - Customers V3", version: accountsVersion, initialSync },
    { name: "contacts - Customers V3", initialSync },
  ],
});

/** State of each declared map, e.g. `{ "accounts - Customers V3": "Running" }`. */
export const maps = setup.mapStates;
