/**
 * How the five data maps move a row from one side to the other: which rows a map covers (its
 * source filters), which company a row belongs to, how the natural key pairs a row with its
 * counterpart, how fields and lookups translate, and the error texts when a lookup cannot be
 * resolved. Live sync and initial sync both go through `pushToDataverse` / `pushToFinanceOperations`.
 */
import { indexValue } from "../store/indexes";
import type { Row, StoredRow, TableSet } from "../store/tables";
import { DataverseTables, FinanceOperationsTables } from "../store/schema";
import { guidFrom } from "./ids";
import { MapNames } from "./maps";
import { cellText } from "./names";

/** The two sides of a link, as the movers need them. */
export interface LinkSides {
  readonly fno: TableSet;
  readonly dv: TableSet;
  readonly fnoEnv: string;
  readonly org: string;
  /** The Dataverse org's URL (`https://<host>:<port>`), for the URLs in lookup errors. */
  readonly dataverseUrl: string;
  /** Linked legal entities, upper-case. */
  readonly companies: ReadonlySet<string>;
  /** Emulated now, for `createdon`/`modifiedon`. */
  readonly now: number;
}

/**
 * A Dataverse row by natural key (and company): through the store's indexes (the natural key
 * columns and the company lookup are indexed, `store/schema.ts`), so live sync and initial sync
 * read one index entry per row, never the table.
 */
function findDvRow(
  sides: LinkSides,
  table: string,
  keyColumn: string,
  companyScoped: boolean,
  companyId: unknown,
  keyValue: unknown,
): { key: string; row: Row } | undefined {
  const found = sides.dv.findFirst(table, {
    [keyColumn]: keyValue,
    ...(companyScoped ? { _msdyn_company_value: companyId } : {}),
  });
  return found ? { key: found.key, row: found.stored.row } : undefined;
}

/** A row that cannot be written on the other side; the message is the import error text. */
export class SyncFailure extends Error {
  constructor(
    /** Field of the source row that caused it (`msdyn_customergroupid`, `CustomerGroupId`). */
    readonly sourceField: string,
    message: string,
  ) {
    super(message);
    this.name = "SyncFailure";
  }
}

/** A lookup column of a data map. */
interface LookupRule {
  /** F&O field holding the referenced natural key (`CustomerGroupId`). */
  readonly fnoField: string;
  /** F&O field label for F&O error texts (`Customer group`). */
  readonly fnoLabel: string;
  /** Dataverse navigation property (`msdyn_customergroupid`); the column is `_<nav>_value`. */
  readonly nav: string;
  readonly dvTable: string;
  /** Dataverse column of the referenced row that holds the natural key (`msdyn_groupid`). */
  readonly dvKeyColumn: string;
  readonly dvIdColumn: string;
  readonly fnoTable: string;
  readonly fnoTableLabel: string;
  readonly fnoKeyField: string;
  /** The referenced rows belong to the same company. */
  readonly companyScoped: boolean;
  /** F&O refuses the row without it. */
  readonly requiredInFno: boolean;
}

/** How rows of a map are scoped to companies. */
type Scope = "global" | "company" | "legalEntity";

/** Everything a data map needs to move rows. */
export interface Adapter {
  readonly map: string;
  readonly fnoTable: string;
  readonly dvTable: string;
  readonly dvIdColumn: string;
  readonly scope: Scope;
  readonly fnoKey: string;
  readonly dvKey: string;
  /**
   * The map's source filter on each side, as column equalities (compared as the store's indexes
   * compare: text without case), so that the rows it covers are read through an index
   * (`store/schema.ts` indexes company + these columns), plus what else a Dataverse row needs.
   */
  readonly fnoWhere: Readonly<Row>;
  readonly dvWhere: Readonly<Row>;
  readonly dvAlso?: (row: Readonly<Row>) => boolean;
  /** Whether a row is covered by the map (`fnoWhere`; `dvWhere` and `dvAlso`). */
  readonly fnoFilter: (row: Readonly<Row>) => boolean;
  readonly dvFilter: (row: Readonly<Row>) => boolean;
  /** Plain field pairs [F&O, Dataverse]. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  readonly lookups: readonly LookupRule[];
  readonly fnoDefaults: Readonly<Row>;
  readonly dvDefaults: Readonly<Row>;
  /** Rows created in Dataverse get the company's owning team and business unit. */
  readonly owned: boolean;
  /** Whether the runtime may create rows (legal entities are only enabled by linking). */
  readonly creates: boolean;
  /** Extra Dataverse columns computed from the others (e.g. `fullname`). */
  readonly dvDerived?: (values: Row) => Row;
}

const customerGroupLookup: LookupRule = {
  fnoField: "CustomerGroupId",
  fnoLabel: "Customer group",
  nav: "msdyn_customergroupid",
  dvTable: DataverseTables.customerGroups,
  dvKeyColumn: "msdyn_groupid",
  dvIdColumn: "msdyn_customergroupid",
  fnoTable: FinanceOperationsTables.customerGroups,
  fnoTableLabel: "Customer groups",
  fnoKeyField: "CustomerGroupId",
  companyScoped: true,
  requiredInFno: true,
};

const currencyLookup: LookupRule = {
  fnoField: "SalesCurrencyCode",
  fnoLabel: "Currency",
  nav: "transactioncurrencyid",
  dvTable: DataverseTables.currencies,
  dvKeyColumn: "isocurrencycode",
  dvIdColumn: "transactioncurrencyid",
  fnoTable: FinanceOperationsTables.currencies,
  fnoTableLabel: "Currency",
  fnoKeyField: "CurrencyCode",
  companyScoped: false,
  requiredInFno: false,
};

/** An adapter with its filters made from its equalities. */
function adapter(a: Omit<Adapter, "fnoFilter" | "dvFilter">): Adapter {
  const dvAlso = a.dvAlso;
  return {
    ...a,
    fnoFilter: (row) => matchesWhere(a.fnoWhere, row),
    dvFilter: (row) => matchesWhere(a.dvWhere, row) && (dvAlso ? dvAlso(row) : true),
  };
}

/** Whether `row` has every value of `where` (text without case, as the indexes compare). */
export function matchesWhere(where: Readonly<Row>, row: Readonly<Row>): boolean {
  for (const [column, value] of Object.entries(where))
    if (indexValue(row[column]) !== indexValue(value)) return false;
  return true;
}

/** The adapters of the five data maps, by map name. */
export const adapters: ReadonlyMap<string, Adapter> = new Map<string, Adapter>([
  [
    MapNames.legalEntities,
    adapter({
      map: MapNames.legalEntities,
      fnoTable: FinanceOperationsTables.legalEntities,
      dvTable: DataverseTables.companies,
      dvIdColumn: "cdm_companyid",
      scope: "legalEntity",
      fnoKey: "LegalEntityId",
      dvKey: "cdm_companycode",
      fnoWhere: {},
      dvWhere: {},
      fields: [["Name", "cdm_name"]],
      lookups: [],
      fnoDefaults: {},
      dvDefaults: {},
      owned: false,
      creates: false,
    }),
  ],
  [
    MapNames.currencies,
    adapter({
      map: MapNames.currencies,
      fnoTable: FinanceOperationsTables.currencies,
      dvTable: DataverseTables.currencies,
      dvIdColumn: "transactioncurrencyid",
      scope: "global",
      fnoKey: "CurrencyCode",
      dvKey: "isocurrencycode",
      fnoWhere: {},
      dvWhere: {},
      fields: [
        ["Name", "currencyname"],
        ["Symbol", "currencysymbol"],
      ],
      lookups: [],
      fnoDefaults: {},
      dvDefaults: { exchangerate: 1, currencyprecision: 2 },
      owned: false,
      creates: true,
    }),
  ],
  [
    MapNames.customerGroups,
    adapter({
      map: MapNames.customerGroups,
      fnoTable: FinanceOperationsTables.customerGroups,
      dvTable: DataverseTables.customerGroups,
      dvIdColumn: "msdyn_customergroupid",
      scope: "company",
      fnoKey: "CustomerGroupId",
      dvKey: "msdyn_groupid",
      fnoWhere: {},
      dvWhere: {},
      fields: [["Description", "msdyn_description"]],
      lookups: [],
      fnoDefaults: {},
      dvDefaults: {},
      owned: true,
      creates: true,
    }),
  ],
  [
    MapNames.accounts,
    adapter({
      map: MapNames.accounts,
      fnoTable: FinanceOperationsTables.customers,
      dvTable: DataverseTables.accounts,
      dvIdColumn: "accountid",
      scope: "company",
      fnoKey: "CustomerAccount",
      dvKey: "accountnumber",
      fnoWhere: { PartyType: "Organization" },
      dvWhere: { customertypecode: 3 },
      fields: [
        ["OrganizationName", "name"],
        ["PrimaryContactEmail", "emailaddress1"],
        ["AddressCity", "address1_city"],
      ],
      lookups: [customerGroupLookup, currencyLookup],
      fnoDefaults: { PartyType: "Organization" },
      dvDefaults: { customertypecode: 3 },
      owned: true,
      creates: true,
    }),
  ],
  [
    MapNames.contacts,
    adapter({
      map: MapNames.contacts,
      fnoTable: FinanceOperationsTables.customers,
      dvTable: DataverseTables.contacts,
      dvIdColumn: "contactid",
      scope: "company",
      fnoKey: "CustomerAccount",
      dvKey: "msdyn_contactpersonid",
      fnoWhere: { PartyType: "Person" },
      dvWhere: { msdyn_sellable: true },
      dvAlso: (r) => typeof r.msdyn_contactpersonid === "string" && r.msdyn_contactpersonid !== "",
      fields: [
        ["PersonFirstName", "firstname"],
        ["PersonLastName", "lastname"],
        ["PrimaryContactEmail", "emailaddress1"],
        ["AddressCity", "address1_city"],
      ],
      lookups: [customerGroupLookup, currencyLookup],
      fnoDefaults: { PartyType: "Person" },
      dvDefaults: { msdyn_sellable: true },
      owned: true,
      creates: true,
      dvDerived: (v) => ({
        fullname: [v.firstname, v.lastname]
          .filter((x) => typeof x === "string" && x !== "")
          .join(" "),
      }),
    }),
  ],
]);

/** The adapters whose F&O table is `table`. */
export function adaptersForFnoTable(table: string): Adapter[] {
  return [...adapters.values()].filter((a) => a.fnoTable === table);
}

/** The adapters whose Dataverse table is `table`. */
export function adaptersForDvTable(table: string): Adapter[] {
  return [...adapters.values()].filter((a) => a.dvTable === table);
}

// ---------------------------------------------------------------- companies

/** Text of a value for comparisons ("" for null/undefined). */
const text = cellText;

/** The `cdm_companies` row of a company code, or undefined (an index lookup). */
export function companyRow(dv: TableSet, code: string): StoredRow | undefined {
  return dv.findFirst(DataverseTables.companies, { cdm_companycode: code })?.stored;
}

/** The company code a `cdm_companies` id stands for, upper-case, or undefined. */
export function companyCodeOfId(dv: TableSet, id: unknown): string | undefined {
  if (typeof id !== "string" || id === "") return undefined;
  const row = dv.get(DataverseTables.companies, id.toLowerCase())?.row;
  const code = row?.cdm_companycode;
  return typeof code === "string" ? code.toUpperCase() : undefined;
}

/** The company a Finance and Operations row belongs to ("" for global tables). */
export function companyOfFnoRow(adapter: Adapter, row: Readonly<Row>): string {
  if (adapter.scope === "company") return text(row.dataAreaId).toUpperCase();
  if (adapter.scope === "legalEntity") return text(row[adapter.fnoKey]).toUpperCase();
  return "";
}

/** The company a Dataverse row belongs to ("" for global tables, undefined when unstamped). */
export function companyOfDvRow(
  adapter: Adapter,
  row: Readonly<Row>,
  dv: TableSet,
): string | undefined {
  if (adapter.scope === "company") return companyCodeOfId(dv, row._msdyn_company_value);
  if (adapter.scope === "legalEntity") return text(row[adapter.dvKey]).toUpperCase() || undefined;
  return "";
}

/** Whether a row of `company` is synced by this link. */
export function eligible(adapter: Adapter, company: string | undefined, sides: LinkSides): boolean {
  if (adapter.scope === "global") return true;
  return company !== undefined && company !== "" && sides.companies.has(company);
}

// ---------------------------------------------------------------- source rows

/** The rows of one side that a map covers for one company (see {@link sourceRows}). */
export interface SourceRows {
  /** The covered rows after storage key `after` (all when undefined), in storage-key order. */
  rows(after?: string): Iterable<[key: string, stored: StoredRow]>;
  /** How many rows are covered (no row is read when the indexes answer the equalities). */
  count(): number;
}

/**
 * The rows of `side` that `adapter` covers for `company` (upper-case; "" for a global map): the
 * map's equalities plus the company's — `dataAreaId` on F&O, the company lookup on Dataverse, the
 * code itself for legal entities — read through the store's best index (`TableSet.access`), so
 * an initial sync counts and walks one company's rows without reading the table.
 */
export function sourceRows(
  adapter: Adapter,
  side: "fno" | "dataverse",
  sides: LinkSides,
  company: string,
): SourceRows {
  const fno = side === "fno";
  const tables = fno ? sides.fno : sides.dv;
  const table = fno ? adapter.fnoTable : adapter.dvTable;
  const where: Row = { ...(fno ? adapter.fnoWhere : adapter.dvWhere) };
  if (adapter.scope === "legalEntity") where[fno ? adapter.fnoKey : adapter.dvKey] = company;
  else if (adapter.scope === "company") {
    if (fno) where.dataAreaId = company;
    else {
      const companyId = companyRow(sides.dv, company)?.row.cdm_companyid;
      if (companyId === undefined) return { rows: () => [], count: () => 0 };
      where._msdyn_company_value = companyId;
    }
  }
  return equalityRows(tables, table, where, fno ? undefined : adapter.dvAlso);
}

/** Rows of `table` whose columns equal `where` and that pass `also`, through an index. */
export function equalityRows(
  tables: TableSet,
  table: string,
  where: Readonly<Row>,
  also?: (row: Readonly<Row>) => boolean,
): SourceRows {
  const access = tables.access(table, new Map(Object.entries(where)));
  const rest: Row = {};
  for (const [column, value] of Object.entries(where))
    if (!access.covered.has(column)) rest[column] = value;
  const exact = Object.keys(rest).length === 0 && !also;
  const keep = (row: Readonly<Row>): boolean =>
    matchesWhere(rest, row) && (also ? also(row) : true);
  return {
    *rows(after?: string) {
      for (const entry of tables.walk(table, access.keys, after))
        if (exact || keep(entry[1].row)) yield entry;
    },
    count() {
      if (exact) return access.keys.size;
      let n = 0;
      for (const [, stored] of tables.walk(table, access.keys)) if (keep(stored.row)) n++;
      return n;
    },
  };
}

// ---------------------------------------------------------------- finding counterparts

/** The Dataverse counterpart of a natural key, with its storage key. */
export function findDv(
  adapter: Adapter,
  sides: LinkSides,
  company: string,
  keyValue: unknown,
): { key: string; row: Row } | undefined {
  const scoped = adapter.scope === "company";
  const companyId = scoped ? companyRow(sides.dv, company)?.row.cdm_companyid : undefined;
  if (scoped && companyId === undefined) return undefined;
  return findDvRow(sides, adapter.dvTable, adapter.dvKey, scoped, companyId, keyValue);
}

/** The F&O counterpart of a natural key, with its storage key. */
export function findFno(
  adapter: Adapter,
  sides: LinkSides,
  company: string,
  keyValue: unknown,
): { key: string; row: Row } | undefined {
  const probe: Row = { [adapter.fnoKey]: keyValue };
  if (adapter.scope === "company") probe.dataAreaId = company.toLowerCase();
  const key = sides.fno.keyOf(adapter.fnoTable, probe);
  const stored = sides.fno.get(adapter.fnoTable, key);
  return stored ? { key, row: stored.row } : undefined;
}

// ---------------------------------------------------------------- translation

function lookupUrl(sides: LinkSides, rule: LookupRule, value: string, companyId: unknown): string {
  const company = rule.companyScoped ? ` and _msdyn_company_value eq ${text(companyId)}` : "";
  return (
    `${sides.dataverseUrl}/api/data/v9.0/${rule.dvTable}` +
    `?$select=${rule.dvIdColumn}&$filter=${rule.dvKeyColumn} eq '${value}'${company}`
  );
}

/** Dataverse values for an F&O row (no primary id); throws `SyncFailure` on an unresolved lookup. */
export function toDataverseValues(
  adapter: Adapter,
  fnoRow: Readonly<Row>,
  company: string,
  sides: LinkSides,
): Row {
  const values: Row = { ...adapter.dvDefaults, [adapter.dvKey]: fnoRow[adapter.fnoKey] };
  for (const [f, d] of adapter.fields) values[d] = fnoRow[f] ?? null;
  const companyId =
    adapter.scope === "company" ? companyRow(sides.dv, company)?.row.cdm_companyid : undefined;
  if (adapter.scope === "company") {
    if (companyId === undefined) {
      throw new SyncFailure(
        "msdyn_company",
        `Couldn't resolve the guid for the field: msdyn_company. The lookup wasn't found: ${company}. ` +
          `Try this URL(s): ${sides.dataverseUrl}/api/data/v9.0/cdm_companies` +
          `?$select=cdm_companyid&$filter=cdm_companycode eq '${company}'`,
      );
    }
    values._msdyn_company_value = companyId;
  }
  for (const rule of adapter.lookups) {
    const v = text(fnoRow[rule.fnoField]);
    if (v === "") {
      values[`_${rule.nav}_value`] = null;
      continue;
    }
    const target = findDvRow(
      sides,
      rule.dvTable,
      rule.dvKeyColumn,
      rule.companyScoped,
      companyId,
      v,
    );
    if (!target) {
      throw new SyncFailure(
        rule.nav,
        `Couldn't resolve the guid for the field: ${rule.nav}. The lookup wasn't found: ${v}. ` +
          `Try this URL(s): ${lookupUrl(sides, rule, v, companyId)}`,
      );
    }
    values[`_${rule.nav}_value`] = target.row[rule.dvIdColumn];
  }
  return adapter.dvDerived ? { ...values, ...adapter.dvDerived(values) } : values;
}

/** F&O values for a Dataverse row (key fields included); throws `SyncFailure` when F&O would refuse it. */
export function toFinanceOperationsValues(
  adapter: Adapter,
  dvRow: Readonly<Row>,
  company: string,
  sides: LinkSides,
): Row {
  const values: Row = { ...adapter.fnoDefaults, [adapter.fnoKey]: dvRow[adapter.dvKey] };
  if (adapter.scope === "company") values.dataAreaId = company.toLowerCase();
  for (const [f, d] of adapter.fields) values[f] = dvRow[d] ?? null;
  for (const rule of adapter.lookups) {
    const id = dvRow[`_${rule.nav}_value`];
    const referenced =
      typeof id === "string" ? sides.dv.get(rule.dvTable, id.toLowerCase())?.row : undefined;
    const v = text(referenced?.[rule.dvKeyColumn]);
    if (v === "") {
      if (rule.requiredInFno)
        throw new SyncFailure(rule.fnoField, `Field '${rule.fnoLabel}' must be filled in.`);
      values[rule.fnoField] = "";
      continue;
    }
    const probe: Row = { [rule.fnoKeyField]: v };
    if (rule.companyScoped) probe.dataAreaId = company.toLowerCase();
    if (!sides.fno.get(rule.fnoTable, sides.fno.keyOf(rule.fnoTable, probe))) {
      throw new SyncFailure(
        rule.fnoField,
        `The value '${v}' in field '${rule.fnoLabel}' is not found in the related table '${rule.fnoTableLabel}'.`,
      );
    }
    values[rule.fnoField] = v;
  }
  return values;
}

/** Columns of `values` that differ from `current`. */
function changedColumns(current: Readonly<Row>, values: Readonly<Row>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(values)) {
    if (text(current[k]) !== text(v)) out[k] = v;
  }
  return out;
}

/** What a push did. */
export type PushResult = "created" | "updated" | "unchanged" | "skipped";

/**
 * Writes an F&O row's counterpart into Dataverse (create or update). Throws `SyncFailure` when a
 * lookup does not resolve; other write errors propagate.
 */
export function pushToDataverse(
  adapter: Adapter,
  sides: LinkSides,
  fnoRow: Readonly<Row>,
): PushResult {
  const company = companyOfFnoRow(adapter, fnoRow);
  const values = toDataverseValues(adapter, fnoRow, company, sides);
  const existing = findDv(adapter, sides, company, fnoRow[adapter.fnoKey]);
  const stamp = new Date(sides.now).toISOString();
  if (existing) {
    const changes = changedColumns(existing.row, values);
    if (Object.keys(changes).length === 0) return "unchanged";
    sides.dv.update(adapter.dvTable, existing.key, { ...changes, modifiedon: stamp }, "runtime");
    return "updated";
  }
  if (!adapter.creates) return "skipped";
  const row: Row = {
    [adapter.dvIdColumn]: guidFrom(
      "dualwrite-row",
      sides.org,
      adapter.dvTable,
      company,
      text(fnoRow[adapter.fnoKey]).toLowerCase(),
    ),
    ...values,
    statecode: 0,
    statuscode: 1,
    createdon: stamp,
    modifiedon: stamp,
  };
  if (adapter.owned) Object.assign(row, ownerColumns(sides.dv, company));
  sides.dv.insert(adapter.dvTable, row, "runtime");
  return "created";
}

/** Writes a Dataverse row's counterpart into F&O (create or update). */
export function pushToFinanceOperations(
  adapter: Adapter,
  sides: LinkSides,
  dvRow: Readonly<Row>,
): PushResult {
  const company = companyOfDvRow(adapter, dvRow, sides.dv) ?? "";
  const values = toFinanceOperationsValues(adapter, dvRow, company, sides);
  const existing = findFno(adapter, sides, company, dvRow[adapter.dvKey]);
  if (existing) {
    const changes = changedColumns(existing.row, values);
    // Keys are compared without case; do not rewrite them for a case difference.
    delete changes[adapter.fnoKey];
    delete changes.dataAreaId;
    if (Object.keys(changes).length === 0) return "unchanged";
    sides.fno.update(adapter.fnoTable, existing.key, changes, "runtime");
    return "updated";
  }
  if (!adapter.creates) return "skipped";
  sides.fno.insert(adapter.fnoTable, values, "runtime");
  return "created";
}

/** Deletes the Dataverse counterpart of a deleted F&O row, if any. */
export function deleteInDataverse(adapter: Adapter, sides: LinkSides, fnoRow: Readonly<Row>): void {
  if (!adapter.creates) return;
  const existing = findDv(adapter, sides, companyOfFnoRow(adapter, fnoRow), fnoRow[adapter.fnoKey]);
  if (existing) sides.dv.delete(adapter.dvTable, existing.key, "runtime");
}

/** Deletes the F&O counterpart of a deleted Dataverse row, if any. */
export function deleteInFinanceOperations(
  adapter: Adapter,
  sides: LinkSides,
  dvRow: Readonly<Row>,
): void {
  if (!adapter.creates) return;
  const company = companyOfDvRow(adapter, dvRow, sides.dv) ?? "";
  const existing = findFno(adapter, sides, company, dvRow[adapter.dvKey]);
  if (existing) sides.fno.delete(adapter.fnoTable, existing.key, "runtime");
}

/** Owner columns for a row of `company`: its default owning team and that team's business unit. */
export function ownerColumns(dv: TableSet, company: string): Row {
  const teamId = companyRow(dv, company)?.row._cdm_defaultowningteam_value;
  if (typeof teamId !== "string") return {};
  const buId = dv.get(DataverseTables.teams, teamId.toLowerCase())?.row._businessunitid_value;
  return { _ownerid_value: teamId, _owningbusinessunit_value: buId ?? null };
}
