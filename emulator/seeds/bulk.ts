/**
 * Bulk rows: real rows generated in any number for one table (and one company), so that the
 * data-volume rules (500,000 rows per legal entity per initial-sync run, 70,000 rows for the
 * Dataverse → F&O leg, a million rows per side) are tested with rows that can be read, paged,
 * filtered, counted and changed like any other (issue 9, "Volume"; they replace the "virtual
 * rows" that could only be counted).
 *
 * `PUT /_emulator/bulk-rows {env, side, table, company?, count}` makes the table hold exactly
 * `count` generated rows for that company: missing ones are inserted, ones past `count` deleted.
 * Rows are deterministic: row `n` of a table and company always has the same key and values, so
 * the same call twice changes nothing. Their keys share a prefix — F&O `BULK-<CODE>-0000001`, a
 * Dataverse GUID whose first 24 characters name the table and company and whose last 12 count —
 * so the generated rows of a table and company are one range of the key order, found without
 * reading the others. Writes have origin "seed": like seeded rows, they are not live-synced.
 *
 * What a generated row holds: its keys; the company (`dataAreaId`, or the company lookup of a
 * Dataverse table, which needs the company's `cdm_companies` row); the columns of the table's
 * alternate keys (text keys `BULK-<CODE>-<n>`); for the tables the dual-write maps move, the
 * columns those maps read (names, party type, customer group); state, status and timestamps.
 */
import { createHash } from "node:crypto";
import type { EmulatorContext } from "../core/context";
import { EmulatorHttpError } from "../core/http";
import { tableSchema } from "../dataverse/tableSchemas";
import { companyRow, ownerColumns } from "../runtime/adapters";
import { DataverseTables, FinanceOperationsTables } from "../store/schema";
import type { Row, TableDefinition, TableSet } from "../store/tables";

/** A request for bulk rows. */
export interface BulkRowsRequest {
  /** The environment pair's name. */
  readonly env: string;
  readonly side: "fno" | "dataverse";
  /** F&O entity set or Dataverse entity set. */
  readonly table: string;
  /** Legal entity code; required for company-specific F&O entities, optional on Dataverse. */
  readonly company?: string;
  /** How many generated rows the table is to hold for that company. */
  readonly count: number;
}

/** What a bulk-rows request did. */
export interface BulkRowsResult {
  readonly env: string;
  readonly side: "fno" | "dataverse";
  readonly table: string;
  /** Upper-case code, "" when none. */
  readonly company: string;
  readonly count: number;
  readonly inserted: number;
  readonly deleted: number;
}

/** Most generated rows per table and company (the key suffix has seven digits). */
export const maxBulkRows = 9_999_999;

/** Makes `request.table` hold exactly `request.count` generated rows (see the module comment). */
export function setBulkRows(ctx: EmulatorContext, request: BulkRowsRequest): BulkRowsResult {
  const tables = (request.side === "fno" ? ctx.fno : ctx.dataverse).get(request.env);
  if (!tables)
    throw new EmulatorHttpError(
      404,
      "EnvironmentNotFound",
      `No ${request.side === "fno" ? "F&O environment" : "Dataverse org"} named '${request.env}'.`,
    );
  const def = tables.definition(request.table);
  if (!def)
    throw new EmulatorHttpError(
      404,
      "TableNotFound",
      `'${request.env}' has no table '${request.table}'.`,
    );
  if (!Number.isInteger(request.count) || request.count < 0 || request.count > maxBulkRows)
    throw badRequest(`count must be an integer from 0 to ${maxBulkRows}.`);
  const company = (request.company ?? "").trim().toUpperCase();
  const generator =
    request.side === "fno"
      ? fnoGenerator(tables, def, company)
      : dataverseGenerator(tables, def, request.env, company, ctx.clock.now());
  const present = new Uint8Array(request.count + 1);
  let deleted = 0;
  // The generated rows are one range of the key order: read it, drop what is past `count`.
  const doomed: string[] = [];
  for (const [key] of tables.walk(
    def.name,
    tables.access(def.name, new Map()).keys,
    generator.prefix,
  )) {
    if (!key.startsWith(generator.prefix)) break;
    const n = generator.numberOf(key);
    if (n === undefined) continue;
    if (n <= request.count) present[n] = 1;
    else doomed.push(key);
  }
  // Last first: each ordered index then loses its largest key, which costs no shifting.
  for (let i = doomed.length - 1; i >= 0; i--) {
    tables.delete(def.name, doomed[i] as string, "seed");
    deleted++;
  }
  let inserted = 0;
  for (let n = 1; n <= request.count; n++) {
    if (present[n] === 1) continue;
    tables.insert(def.name, generator.row(n), "seed", { adopt: true });
    inserted++;
  }
  return {
    env: request.env,
    side: request.side,
    table: def.name,
    company,
    count: request.count,
    inserted,
    deleted,
  };
}

/** How the rows of one table and company are made. */
interface Generator {
  /** Storage-key prefix every generated row of this table and company has. */
  readonly prefix: string;
  /** The number of a generated row from its storage key, or undefined for another row. */
  numberOf(key: string): number | undefined;
  row(n: number): Row;
}

function badRequest(message: string): EmulatorHttpError {
  return new EmulatorHttpError(400, "BadRequest", message);
}

/**
 * The parts as one flat string. `+` and template literals make V8 "cons strings" (a pair of
 * pointers to the parts, plus a copy when the string is first hashed); at a million rows a
 * joined string is the smaller and faster one to keep.
 */
function flat(...parts: string[]): string {
  return parts.join("");
}

/** Seven digits, so that the key order is the number order. */
function digits(n: number): string {
  return String(n).padStart(7, "0");
}

// ---------------------------------------------------------------- F&O

function fnoGenerator(tables: TableSet, def: TableDefinition, company: string): Generator {
  const companySpecific = def.keyFields.includes("dataAreaId");
  const codeFields = def.keyFields.filter((f) => f !== "dataAreaId");
  const codeField = codeFields[0];
  if (codeFields.length !== 1 || codeField === undefined)
    throw badRequest(`Bulk rows need an entity with one key field besides dataAreaId.`);
  if (companySpecific) {
    if (company === "")
      throw badRequest(`'${def.name}' is company-specific: give the company (legal entity code).`);
    const legal = tables.definition(FinanceOperationsTables.legalEntities)
      ? tables.get(
          FinanceOperationsTables.legalEntities,
          tables.keyOf(FinanceOperationsTables.legalEntities, { LegalEntityId: company }),
        )
      : undefined;
    if (!legal) throw badRequest(`Company '${company}' is not a legal entity of this environment.`);
  }
  const area = company.toLowerCase();
  const codePrefix = companySpecific ? `BULK-${company}-` : "BULK-";
  const keyOf = (n: number): Row => ({
    ...(companySpecific ? { dataAreaId: area } : {}),
    [codeField]: flat(codePrefix, digits(n)),
  });
  const prefix = tables.keyOf(def.name, keyOf(0)).slice(0, -7);
  // Customers of one company point at one of its groups, as the seeds' customers do.
  const group =
    def.name === FinanceOperationsTables.customers
      ? tables.findFirst(FinanceOperationsTables.customerGroups, { dataAreaId: area })?.stored.row
          .CustomerGroupId
      : undefined;
  return {
    prefix,
    numberOf: (key) => numberAfter(key, prefix),
    row: (n) => ({ ...keyOf(n), ...fnoColumns(def.name, n, company, group) }),
  };
}

function fnoColumns(table: string, n: number, company: string, group: unknown): Row {
  switch (table) {
    case FinanceOperationsTables.customers:
      // Organizations: the rows of the accounts map, the one whose volume the rules are about.
      return {
        PartyType: "Organization",
        OrganizationName: flat("Bulk customer ", company, " ", String(n)),
        CustomerGroupId: typeof group === "string" ? group : "",
        SalesCurrencyCode: "",
        PrimaryContactEmail: "",
        AddressCity: "",
      };
    case FinanceOperationsTables.customerGroups:
      return { Description: flat("Bulk group ", String(n)) };
    case FinanceOperationsTables.legalEntities:
      return { Name: flat("Bulk legal entity ", String(n)), AddressCountryRegionId: "USA" };
    case FinanceOperationsTables.currencies:
      return { Name: flat("Bulk currency ", String(n)), Symbol: "¤" };
    default:
      return {};
  }
}

// ---------------------------------------------------------------- Dataverse

function dataverseGenerator(
  tables: TableSet,
  def: TableDefinition,
  org: string,
  company: string,
  now: number,
): Generator {
  const primaryKey = def.keyFields[0];
  if (def.keyFields.length !== 1 || primaryKey === undefined)
    throw badRequest(`Bulk rows need a table with a single primary key.`);
  const companyColumns = Object.values(def.lookups ?? {})
    .filter((l) => l.targetSet === DataverseTables.companies)
    .map((l) => l.column);
  let companyId: unknown = null;
  if (company !== "") {
    if (companyColumns.length === 0)
      throw badRequest(`'${def.name}' has no company lookup; leave the company out.`);
    companyId = companyRow(tables, company)?.row.cdm_companyid;
    if (companyId === undefined)
      throw badRequest(
        `Company '${company}' has no cdm_companies row in '${org}' (link the legal entity first).`,
      );
  }
  // 24 characters naming the table and company, then 12 hex digits counting: one key range.
  const hex = createHash("sha256")
    .update(["bulk-rows", org, def.name, company].join("\u0000"))
    .digest("hex");
  const prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-8${hex.slice(17, 20)}-`;
  const owner = company !== "" && def.lookups?.ownerid ? ownerColumns(tables, company) : {};
  const stamp = new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z");
  const declared = tableSchema(def.name)?.columns;
  const has = (column: string): boolean => declared === undefined || column in declared;
  const textKeys = new Set<string>();
  for (const key of def.uniqueKeys ?? [])
    for (const column of key.columns) if (!/^_.*_value$/.test(column)) textKeys.add(column);
  const code = company === "" ? "" : `${company}-`;
  return {
    prefix,
    numberOf: (key) => {
      if (!key.startsWith(prefix)) return undefined;
      const n = parseInt(key.slice(prefix.length), 16);
      return Number.isSafeInteger(n) ? n : undefined;
    },
    row: (n) => {
      const row: Row = { [primaryKey]: flat(prefix, n.toString(16).padStart(12, "0")) };
      for (const column of companyColumns) row[column] = companyId;
      for (const column of textKeys) row[column] = flat("BULK-", code, digits(n));
      Object.assign(row, owner, dataverseColumns(def.name, n, company));
      if (has("statecode")) row.statecode = 0;
      if (has("statuscode")) row.statuscode = 1;
      row.createdon = stamp;
      row.modifiedon = stamp;
      return row;
    },
  };
}

/** Columns the dual-write maps read, for the tables they move (`runtime/adapters.ts`). */
function dataverseColumns(table: string, n: number, company: string): Row {
  const label = company === "" ? String(n) : flat(company, " ", String(n));
  switch (table) {
    case DataverseTables.accounts:
      return { name: flat("Bulk account ", label), customertypecode: 3 };
    case DataverseTables.contacts:
      return {
        firstname: "Bulk",
        lastname: flat("Contact ", label),
        fullname: flat("Bulk Contact ", label),
        msdyn_sellable: true,
      };
    case DataverseTables.customerGroups:
      return { msdyn_description: flat("Bulk group ", label) };
    default:
      return {};
  }
}

/** The seven-digit number after `prefix` in a generated F&O key. */
function numberAfter(key: string, prefix: string): number | undefined {
  const rest = key.slice(prefix.length);
  return /^\d{7}$/.test(rest) ? Number(rest) : undefined;
}
