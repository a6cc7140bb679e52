/**
 * The tables of an emulated Dataverse org and an emulated F&O environment.
 *
 * The Dataverse and F&O surfaces are generic over these definitions: they find rows by
 * `keyFields`, name entities by `logicalName` and turn `<nav>@odata.bind` into the `_<nav>_value`
 * column through `lookups`. The dual-write runtime and the seeds write the same columns. Column
 * lists are not declared (rows are free-form JSON); the columns each table carries are listed in
 * docs/wire-contract.md and docs/emulator.md.
 */
import { mapCatalog } from "../runtime/catalogData";
import type { TableDefinition, TableSet } from "./tables";

/** A Dataverse lookup: navigation property → stored `_<nav>_value` column and target set. */
type Lookups = NonNullable<TableDefinition["lookups"]>;

function lookup(nav: string, targetSet: string): Lookups {
  return { [nav]: { targetSet, column: `_${nav}_value` } };
}

/** Owner lookups carried by user-owned tables (owner is a team in the emulator). */
const ownerLookups: Lookups = {
  ...lookup("ownerid", "teams"),
  ...lookup("owningbusinessunit", "businessunits"),
};

/** Dataverse entity set names the runtime and the seeds use directly. */
export const DataverseTables = {
  companies: "cdm_companies",
  businessUnits: "businessunits",
  teams: "teams",
  solutions: "solutions",
  currencies: "transactioncurrencies",
  customerGroups: "msdyn_customergroups",
  accounts: "accounts",
  contacts: "contacts",
  entityMaps: "msdyn_dualwriteentitymaps",
  runtimeConfigs: "msdyn_dualwriteruntimeconfigs",
} as const;

/** F&O entity set names the runtime and the seeds use directly. */
export const FinanceOperationsTables = {
  legalEntities: "LegalEntities",
  currencies: "Currencies",
  customerGroups: "CustomerGroups",
  customers: "CustomersV3",
} as const;

/** The Dataverse tables with real behaviour (everything but the per-map scale sets). */
const coreDataverseTables: readonly TableDefinition[] = [
  {
    name: DataverseTables.companies,
    keyFields: ["cdm_companyid"],
    logicalName: "cdm_company",
    lookups: lookup("cdm_defaultowningteam", "teams"),
  },
  {
    name: DataverseTables.businessUnits,
    keyFields: ["businessunitid"],
    logicalName: "businessunit",
    lookups: lookup("parentbusinessunitid", "businessunits"),
  },
  {
    name: DataverseTables.teams,
    keyFields: ["teamid"],
    logicalName: "team",
    lookups: lookup("businessunitid", "businessunits"),
  },
  { name: DataverseTables.solutions, keyFields: ["solutionid"], logicalName: "solution" },
  {
    name: DataverseTables.currencies,
    keyFields: ["transactioncurrencyid"],
    logicalName: "transactioncurrency",
  },
  {
    name: DataverseTables.customerGroups,
    keyFields: ["msdyn_customergroupid"],
    logicalName: "msdyn_customergroup",
    lookups: { ...lookup("msdyn_company", DataverseTables.companies), ...ownerLookups },
  },
  {
    name: DataverseTables.accounts,
    keyFields: ["accountid"],
    logicalName: "account",
    lookups: {
      ...lookup("msdyn_company", DataverseTables.companies),
      ...lookup("msdyn_customergroupid", DataverseTables.customerGroups),
      ...lookup("transactioncurrencyid", DataverseTables.currencies),
      ...ownerLookups,
    },
  },
  {
    name: DataverseTables.contacts,
    keyFields: ["contactid"],
    logicalName: "contact",
    lookups: {
      ...lookup("msdyn_company", DataverseTables.companies),
      ...lookup("msdyn_customergroupid", DataverseTables.customerGroups),
      ...lookup("transactioncurrencyid", DataverseTables.currencies),
      ...ownerLookups,
    },
  },
  {
    name: DataverseTables.entityMaps,
    keyFields: ["msdyn_dualwriteentitymapid"],
    logicalName: "msdyn_dualwriteentitymap",
  },
  {
    name: DataverseTables.runtimeConfigs,
    keyFields: ["msdyn_dualwriteruntimeconfigid"],
    logicalName: "msdyn_dualwriteruntimeconfig",
  },
];

/**
 * The logical (singular) name of an entity set: `msdyn_termsofdeliveries` → `msdyn_termsofdelivery`,
 * `msdyn_partyelectronicaddresses` → `msdyn_partyelectronicaddress`, `uoms` → `uom`.
 */
export function logicalNameOf(entitySet: string): string {
  if (entitySet.endsWith("ies")) return `${entitySet.slice(0, -3)}y`;
  if (/(ss|x|ch|sh)es$/.test(entitySet)) return entitySet.slice(0, -2);
  if (entitySet.endsWith("s")) return entitySet.slice(0, -1);
  return entitySet;
}

/**
 * The company lookup of a catalog map's Dataverse table, read from its integration keys
 * (`msdyn_company.cdm_companycode` → `msdyn_company`), or undefined for global tables.
 */
export function companyLookupOf(integrationKeys: readonly string[]): string | undefined {
  const key = integrationKeys.find((k) => /^[a-z_]+\.cdm_companycode$/.test(k));
  return key?.split(".")[0];
}

/** Definitions for every Dataverse table of an org: the core ones plus one set per other catalog map. */
export function dataverseTableDefinitions(): TableDefinition[] {
  const defs = [...coreDataverseTables];
  const known = new Set(defs.map((d) => d.name));
  for (const map of mapCatalog) {
    if (known.has(map.dataverseEntitySet)) continue;
    known.add(map.dataverseEntitySet);
    const logicalName = logicalNameOf(map.dataverseEntitySet);
    const company = companyLookupOf(map.integrationKeys);
    defs.push({
      name: map.dataverseEntitySet,
      keyFields: [`${logicalName}id`],
      logicalName,
      lookups: company
        ? { ...lookup(company, DataverseTables.companies), ...ownerLookups }
        : undefined,
    });
  }
  // GUIDs compare without regard to case in Dataverse.
  return defs.map((d) => ({ ...d, caseInsensitiveKey: true }));
}

/** Definitions for the F&O entities the emulator serves. Codes and `dataAreaId` ignore case. */
export function financeOperationsTableDefinitions(): TableDefinition[] {
  return [
    { name: FinanceOperationsTables.legalEntities, keyFields: ["LegalEntityId"] },
    { name: FinanceOperationsTables.currencies, keyFields: ["CurrencyCode"] },
    { name: FinanceOperationsTables.customerGroups, keyFields: ["dataAreaId", "CustomerGroupId"] },
    { name: FinanceOperationsTables.customers, keyFields: ["dataAreaId", "CustomerAccount"] },
  ].map((d) => ({ ...d, caseInsensitiveKey: true }));
}

/** Declares every Dataverse table on `set` (existing tables keep their rows). */
export function defineDataverseSchema(set: TableSet): void {
  for (const def of dataverseTableDefinitions()) set.define(def);
}

/** Declares every F&O entity on `set` (existing tables keep their rows). */
export function defineFinanceOperationsSchema(set: TableSet): void {
  for (const def of financeOperationsTableDefinitions()) set.define(def);
}
