/**
 * The tables of an emulated Dataverse org and an emulated F&O environment.
 *
 * The Dataverse and F&O surfaces are generic over these definitions: they find rows by
 * `keyFields`, name entities by `logicalName` and turn `<nav>@odata.bind` into the `_<nav>_value`
 * column through `lookups`. The dual-write runtime and the seeds write the same columns. Rows are
 * stored as free-form JSON; the columns the Dataverse surface accepts and the alternate keys
 * (declared here as unique keys) come from `emulator/dataverse/tableSchemas.ts`.
 */
import { alternateKeysOf } from "../dataverse/tableSchemas";
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
  // GUIDs compare without regard to case in Dataverse; so do alternate key values (SQL Server's
  // case-insensitive collation). Alternate keys are unique indexes, as in Dataverse
  // ("Alternate keys use database indexes to enforce uniqueness", define-alternate-keys-entity).
  return defs.map((d) => {
    const uniqueKeys = alternateKeysOf(d.name);
    const withKeys = {
      ...d,
      caseInsensitiveKey: true,
      ...(uniqueKeys.length > 0 ? { uniqueKeys } : {}),
    };
    return { ...withKeys, indexes: dataverseIndexes(withKeys) };
  });
}

/**
 * The equality indexes of a Dataverse table (issue 9, "Volume"): one per lookup column (company,
 * owner, business unit, customer group, currency: what the provider, the runtime and the tests
 * filter on), one per column of an alternate key (the natural keys live sync pairs rows by), the
 * names the runtime finds business units and teams by, and the company with the column of each
 * map's source filter (`customertypecode`, `msdyn_sellable`), so that an initial sync counts and
 * walks one company's rows of one kind without reading the others.
 * [choice] Which columns are indexed is the emulator's: Dataverse's own indexes are not
 * published; only reads get faster, answers do not change.
 */
function dataverseIndexes(def: TableDefinition): string[][] {
  const columns = new Set<string>();
  for (const l of Object.values(def.lookups ?? {})) columns.add(l.column);
  for (const k of def.uniqueKeys ?? []) for (const c of k.columns) columns.add(c);
  for (const c of extraDataverseIndexes[def.name] ?? []) columns.add(c);
  const indexes = [...columns].map((c) => [c]);
  for (const composite of compositeDataverseIndexes[def.name] ?? []) indexes.push([...composite]);
  return indexes;
}

/** Single-column indexes besides lookups and alternate keys. */
const extraDataverseIndexes: Readonly<Record<string, readonly string[]>> = {
  [DataverseTables.businessUnits]: ["name"],
  [DataverseTables.teams]: ["name"],
  [DataverseTables.solutions]: ["uniquename"],
  [DataverseTables.companies]: ["cdm_companycode"],
  [DataverseTables.currencies]: ["isocurrencycode"],
};

/** Company + source-filter column of the customer maps (`runtime/adapters.ts`). */
const compositeDataverseIndexes: Readonly<Record<string, ReadonlyArray<readonly string[]>>> = {
  [DataverseTables.accounts]: [["_msdyn_company_value", "customertypecode"]],
  [DataverseTables.contacts]: [["_msdyn_company_value", "msdyn_sellable"]],
};

/** Definitions for the F&O entities the emulator serves. Codes and `dataAreaId` ignore case. */
export function financeOperationsTableDefinitions(): TableDefinition[] {
  return [
    { name: FinanceOperationsTables.legalEntities, keyFields: ["LegalEntityId"] },
    { name: FinanceOperationsTables.currencies, keyFields: ["CurrencyCode"] },
    { name: FinanceOperationsTables.customerGroups, keyFields: ["dataAreaId", "CustomerGroupId"] },
    { name: FinanceOperationsTables.customers, keyFields: ["dataAreaId", "CustomerAccount"] },
  ].map((d) => ({ ...d, caseInsensitiveKey: true, indexes: fnoIndexes(d) }));
}

/**
 * The equality indexes of an F&O entity (issue 9, "Volume"): the company (`dataAreaId`) of
 * company-specific entities, since every read is scoped to one company unless cross-company (the
 * company and the other key fields together are the primary key: one row); and, for customers,
 * the company with the party type (the source filter of the two customer maps) and with each
 * lookup column (customer group, currency).
 * [choice] The emulator's indexes, not F&O's; only reads get faster, answers do not change.
 */
function fnoIndexes(def: { name: string; keyFields: readonly string[] }): string[][] {
  const company = def.keyFields.includes("dataAreaId");
  const indexes: string[][] = company ? [["dataAreaId"]] : [];
  if (def.name === FinanceOperationsTables.customers)
    for (const c of ["PartyType", "CustomerGroupId", "SalesCurrencyCode"])
      indexes.push(["dataAreaId", c]);
  return indexes;
}

/** Declares every Dataverse table on `set` (existing tables keep their rows). */
export function defineDataverseSchema(set: TableSet): void {
  for (const def of dataverseTableDefinitions()) set.define(def);
}

/** Declares every F&O entity on `set` (existing tables keep their rows). */
export function defineFinanceOperationsSchema(set: TableSet): void {
  for (const def of financeOperationsTableDefinitions()) set.define(def);
}
