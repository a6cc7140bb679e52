/**
 * Scenario 2 of Microsoft's guidance, "new-existing": a new, empty Finance and Operations
 * environment and a Dataverse environment that is already in use (for example by Dynamics 365
 * Sales). This program spells out, one resource per step, what DualWriteScenario does for you:
 *
 *   automatic  the link for DAT, the core solutions, the maps in live sync
 *   step 1     create the company in F&O              (legal entity with createIfMissing)
 *   step 2     add it to the link                     (same legal entity list)
 *   step 3     bootstrap its Dataverse rows           (CompanyBootstrap)
 *   step 4     initial sync per table                 (EntityMapBinding initialSync, Dataverse wins)
 */
import * as pulumi from "@pulumi/pulumi";
import * as dw from "pulumi-dualwrite";

const config = new pulumi.Config();

/** The company that the existing Dataverse data belongs to, from stack config. */
interface CompanyConfig {
  /** Legal entity code, 1–4 characters, e.g. "USMF". */
  code: string;
  /** Legal entity name in F&O. */
  name: string;
  /** Only Dataverse rows of this business unit are stamped; all unstamped rows when not set. */
  owningBusinessUnit?: string;
}
const company = config.requireObject<CompanyConfig>("company");

// Automatic part, then steps 1 and 2: the link with DAT and the new company.
const link = new dw.DualWriteConnection("contoso", {
  scenario: "new-existing",
  financeOperationsUrl: config.require("financeOperationsUrl"),
  dataverseUrl: config.require("dataverseUrl"),
  legalEntities: ["DAT", { code: company.code, name: company.name, createIfMissing: true }],
});

// The order of Microsoft's bootstrap guidance: the legal-entities map runs first, then the
// company's rows are stamped, then the other maps start (so stamped rows do not stream one by one).
function runningMap(
  name: string,
  mapName: string,
  after: pulumi.Resource[] = [],
  initialSync?: dw.BindingInitialSyncArgs,
): dw.EntityMapBinding {
  return new dw.EntityMapBinding(
    name,
    { connection: link, mapName, state: "Running", ...(initialSync && { initialSync }) },
    { dependsOn: after },
  );
}
const legalEntitiesMap = runningMap("legal-entities", "cdm_companies - Legal entities");
const currencies = runningMap("currencies", "transactioncurrencies - Currencies");

// Step 3: stamp the existing Dataverse rows with the company so that dual-write picks them up.
// Customer groups too: the customers refer to them, and F&O needs them before the customers.
const bootstrap = new dw.CompanyBootstrap(
  company.code.toLowerCase(),
  {
    connection: link,
    companyCode: company.code,
    tables: ["msdyn_customergroups", "accounts", "contacts"],
    owningBusinessUnit: company.owningBusinessUnit,
  },
  { dependsOn: [legalEntitiesMap] },
);

// Step 4: each customer map starts with its initial sync — customer groups first, then the
// customers that refer to them — and each waits until its sync has ended, so every map is started
// once. The data lives in Dataverse, so Dataverse wins where a row exists on both sides. Change
// `initialSyncTrigger` to sync them again.
const fromDataverse: dw.BindingInitialSyncArgs = {
  master: "Dataverse",
  legalEntities: [company.code],
  trigger: config.get("initialSyncTrigger") ?? "1",
};
const customerGroups = runningMap(
  "customer-groups",
  "msdyn_customergroups - Customer groups",
  [legalEntitiesMap, bootstrap],
  fromDataverse,
);
runningMap("accounts", "accounts - Customers V3", [customerGroups, currencies], fromDataverse);
runningMap("contacts", "contacts - Customers V3", [customerGroups, currencies], fromDataverse);

/** The legal entities on the link. */
export const legalEntities = link.linkedLegalEntities;
/** Rows stamped with the company by the bootstrap, per table. */
export const stampedRows = bootstrap.stampedRows;
