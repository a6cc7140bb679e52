/**
 * The declared columns and alternate keys of the Dataverse tables the emulator serves: a data
 * file, with the page each table comes from.
 *
 * - **Columns.** A table listed in `DATAVERSE_TABLE_SCHEMAS` is strict: a column that is not
 *   declared here is refused in `$select`, `$filter`, `$orderby`, `$expand` and request bodies,
 *   as real Dataverse refuses it (see `columns.ts`). Each column is the logical name from the
 *   table's Microsoft Learn reference page (`sources`), with its type; only the columns the
 *   emulator, the provider, the seeds and the tests use are listed, so a column the real table
 *   has but that is missing here is a gap of this file, not of the service. Tables with no entry
 *   (the per-map scale sets, `msdyn_dualwriteentitymaps`, `msdyn_dualwriteruntimeconfigs`) have
 *   no public column reference and stay lenient: any column is accepted.
 * - **Alternate keys.** Dual-write generates a table's integration keys from its alternate keys
 *   ("Managing dual-write integration keys",
 *   https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/dual-write/dual-write-integration-keys),
 *   so the keys are read from the integration keys of the map catalog (`facts/mapCatalog.ts`,
 *   from Microsoft's Dual-write-automations sample configuration): `accountnumber` stays a
 *   column, `msdyn_company.cdm_companycode` becomes the lookup column `_msdyn_company_value`, as a
 *   key on a lookup is addressed by its lookup property ("Use an alternate key to reference a
 *   record", https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record).
 *   The key *names* are not in any source; the emulator names a key after its columns [choice].
 *
 * Types are the `AttributeType` names of the Learn pages, options the choice values the pages
 * list. Both are enforced (`columnTypes.ts`): a `$filter` comparing a column with a literal of
 * another type and a body value of the wrong type answer 400, a choice value outside `options`
 * answers `0x8004431A`. A choice without `options` (`industrycode`) takes any whole number.
 */
import { MAP_CATALOG } from "../../facts/mapCatalog";

/** A column's type, as the Learn table reference names it (`Type` row of each column). */
export type ColumnType =
  | "Uniqueidentifier"
  | "String"
  | "Memo"
  | "Integer"
  | "BigInt"
  | "Decimal"
  | "Double"
  | "Money"
  | "Boolean"
  | "DateTime"
  | "Picklist"
  | "State"
  | "Status"
  | "Lookup"
  | "Owner";

/** One declared column. */
export interface ColumnSpec {
  readonly type: ColumnType;
  /** Option values of a `Picklist`, `State` or `Status` column, from the Learn page. */
  readonly options?: readonly number[];
  /** Target entity set of a `Lookup`/`Owner` column (`_<nav>_value`). */
  readonly target?: string;
}

/** An alternate key: the columns whose values, all present, identify one row. */
export interface AlternateKeySpec {
  /** The key's name (the emulator's; real names are not published). */
  readonly name: string;
  /** Column logical names; a lookup appears as its lookup property `_<nav>_value`. */
  readonly columns: readonly string[];
}

/** The declared shape of one Dataverse table. */
export interface DataverseTableSchema {
  /** Entity set name (`accounts`). */
  readonly set: string;
  /** Logical name (`account`), used in error messages (`Microsoft.Dynamics.CRM.account`). */
  readonly logicalName: string;
  /** The Microsoft Learn pages the table and its columns come from. */
  readonly sources: readonly string[];
  /** Columns by logical name; undefined when the table is lenient (no public column list). */
  readonly columns?: Readonly<Record<string, ColumnSpec>>;
}

const LEARN_TABLES =
  "https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities";
/** The dual-write map pages list each map's Dataverse columns ("Other Dynamics 365 field"). */
const LEARN_MAPS =
  "https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/dual-write";
/** The `cdm_company` table dual-write adds ("Company concept in Dataverse"). */
const LEARN_COMPANY =
  "https://learn.microsoft.com/dynamics365/fin-ops-core/fin-ops/data-entities/company-data";

const guid: ColumnSpec = { type: "Uniqueidentifier" };
const text: ColumnSpec = { type: "String" };
const memo: ColumnSpec = { type: "Memo" };
const int: ColumnSpec = { type: "Integer" };
const bool: ColumnSpec = { type: "Boolean" };
const date: ColumnSpec = { type: "DateTime" };
const money: ColumnSpec = { type: "Money" };
const decimal: ColumnSpec = { type: "Decimal" };
const lookup = (target: string): ColumnSpec => ({ type: "Lookup", target });

/** Columns every table of the emulator carries (system columns of every standard table). */
const system: Readonly<Record<string, ColumnSpec>> = {
  createdon: date,
  modifiedon: date,
  versionnumber: { type: "BigInt" },
};

/** State and status of tables with the usual Active (0/1) and Inactive (1/2) pair. */
const activeState: Readonly<Record<string, ColumnSpec>> = {
  statecode: { type: "State", options: [0, 1] },
  statuscode: { type: "Status", options: [1, 2] },
};

/** Owner columns of user- or team-owned tables. */
const owned: Readonly<Record<string, ColumnSpec>> = {
  _ownerid_value: { type: "Owner", target: "teams" },
  _owningbusinessunit_value: lookup("businessunits"),
};

/** Address and contact columns account and contact share (same names on both Learn pages). */
const addressAndContact: Readonly<Record<string, ColumnSpec>> = {
  address1_addresstypecode: { type: "Picklist", options: [1, 2, 3, 4] },
  address1_city: text,
  address1_country: text,
  address1_county: text,
  address1_line1: text,
  address1_line2: text,
  address1_postalcode: text,
  address1_stateorprovince: text,
  address2_city: text,
  address2_country: text,
  address2_line1: text,
  address2_postalcode: text,
  address2_stateorprovince: text,
  emailaddress1: text,
  emailaddress2: text,
  telephone1: text,
  telephone2: text,
  fax: text,
  description: memo,
};

/** Every table with a declared shape. */
export const DATAVERSE_TABLE_SCHEMAS: readonly DataverseTableSchema[] = [
  {
    set: "accounts",
    logicalName: "account",
    sources: [`${LEARN_TABLES}/account`, `${LEARN_MAPS}/customersv3-accounts`],
    columns: {
      accountid: guid,
      name: text,
      accountnumber: text,
      // 1 Competitor … 3 Customer … 12 Other (Learn, CustomerTypeCode choices).
      customertypecode: { type: "Picklist", options: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
      accountcategorycode: { type: "Picklist", options: [1, 2] },
      industrycode: { type: "Picklist" },
      revenue: money,
      creditlimit: money,
      numberofemployees: int,
      websiteurl: text,
      primarytwitterid: text,
      msdyn_partynumber: text,
      msdyn_creditrating: text,
      msdyn_identificationnumber: text,
      ...addressAndContact,
      ...activeState,
      ...system,
      ...owned,
      _transactioncurrencyid_value: lookup("transactioncurrencies"),
      _msdyn_company_value: lookup("cdm_companies"),
      _msdyn_customergroupid_value: lookup("msdyn_customergroups"),
    },
  },
  {
    set: "contacts",
    logicalName: "contact",
    sources: [`${LEARN_TABLES}/contact`, `${LEARN_MAPS}/customersv3-contacts`],
    columns: {
      contactid: guid,
      firstname: text,
      lastname: text,
      middlename: text,
      fullname: text,
      jobtitle: text,
      mobilephone: text,
      birthdate: date,
      websiteurl: text,
      address1_postofficebox: text,
      msdyn_contactpersonid: text,
      msdyn_partynumber: text,
      msdyn_sellable: bool,
      ...addressAndContact,
      ...activeState,
      ...system,
      ...owned,
      _transactioncurrencyid_value: lookup("transactioncurrencies"),
      _msdyn_company_value: lookup("cdm_companies"),
      _msdyn_customergroupid_value: lookup("msdyn_customergroups"),
    },
  },
  {
    set: "cdm_companies",
    logicalName: "cdm_company",
    // Code and name are the Legal entities map's fields; `cdm_isenabledfordualwrite` is the
    // emulator's own flag for "enabled for dual-write" and the default owning team its model of
    // the company's "DW" owner team [emulator: not in the sources].
    sources: [LEARN_COMPANY, `${LEARN_MAPS}/legalentities-companies`],
    columns: {
      cdm_companyid: guid,
      cdm_companycode: text,
      cdm_name: text,
      cdm_isenabledfordualwrite: bool,
      _cdm_defaultowningteam_value: lookup("teams"),
      ...activeState,
      ...system,
    },
  },
  {
    set: "businessunits",
    logicalName: "businessunit",
    sources: [`${LEARN_TABLES}/businessunit`],
    columns: {
      businessunitid: guid,
      name: text,
      divisionname: text,
      description: memo,
      emailaddress: text,
      websiteurl: text,
      isdisabled: bool,
      _parentbusinessunitid_value: lookup("businessunits"),
      ...system,
    },
  },
  {
    set: "teams",
    logicalName: "team",
    sources: [`${LEARN_TABLES}/team`],
    columns: {
      teamid: guid,
      name: text,
      description: memo,
      // 0 Owner, 1 Access, 2 Security Group, 3 Office Group (Learn, TeamType choices).
      teamtype: { type: "Picklist", options: [0, 1, 2, 3] },
      isdefault: bool,
      azureactivedirectoryobjectid: guid,
      _businessunitid_value: lookup("businessunits"),
      ...system,
    },
  },
  {
    set: "solutions",
    logicalName: "solution",
    sources: [`${LEARN_TABLES}/solution`],
    columns: {
      solutionid: guid,
      uniquename: text,
      friendlyname: text,
      version: text,
      description: memo,
      ismanaged: bool,
      isvisible: bool,
      installedon: date,
      ...system,
    },
  },
  {
    set: "transactioncurrencies",
    logicalName: "transactioncurrency",
    sources: [
      `${LEARN_TABLES}/transactioncurrency`,
      `${LEARN_MAPS}/currencies-transactioncurrencies`,
    ],
    columns: {
      transactioncurrencyid: guid,
      isocurrencycode: text,
      currencyname: text,
      currencysymbol: text,
      exchangerate: decimal,
      currencyprecision: int,
      ...activeState,
      ...system,
    },
  },
  {
    set: "msdyn_customergroups",
    logicalName: "msdyn_customergroup",
    sources: [`${LEARN_MAPS}/custcustomergroup-msdyn-customergroups`],
    columns: {
      msdyn_customergroupid: guid,
      msdyn_groupid: text,
      msdyn_description: text,
      msdyn_issalestaxincludedinprice: bool,
      ...activeState,
      ...system,
      ...owned,
      _msdyn_company_value: lookup("cdm_companies"),
    },
  },
];

const bySet = new Map(DATAVERSE_TABLE_SCHEMAS.map((s) => [s.set, s]));

/** The declared shape of an entity set, or undefined when the emulator declares none. */
export function tableSchema(set: string): DataverseTableSchema | undefined {
  return bySet.get(set);
}

/**
 * The alternate keys of an entity set, from the integration keys of the catalog maps that write
 * it (see the file comment): `["accountnumber", "msdyn_company.cdm_companycode"]` →
 * `{name: "accountnumber_msdyn_company", columns: ["accountnumber", "_msdyn_company_value"]}`.
 */
export function alternateKeysOf(set: string): AlternateKeySpec[] {
  const keys = new Map<string, AlternateKeySpec>();
  for (const map of MAP_CATALOG) {
    if (map.dataverseEntitySet !== set || map.integrationKeys.length === 0) continue;
    const columns = map.integrationKeys.map((k) => {
      const dot = k.indexOf(".");
      return dot < 0 ? k : `_${k.slice(0, dot)}_value`;
    });
    const name = map.integrationKeys.map((k) => k.split(".")[0]).join("_");
    keys.set(name, { name, columns });
  }
  return [...keys.values()];
}
