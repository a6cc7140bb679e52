/**
 * Handlers for an F&O data entity and its rows.
 *
 * | request | answer |
 * |---|---|
 * | `GET <set>?$filter&$count&$orderby&$skip&$top&$select[&cross-company=true]` | 200 `{@odata.context, [@odata.count], value, [@odata.nextLink]}`; pages ≤ 10,000 rows; default company only unless cross-company |
 * | `GET <set>/$count` | 200 text |
 * | `GET <set>(dataAreaId='usmf',CustomerAccount='US-001')` | 200 entity; every key property required (400 otherwise) |
 * | `POST <set>` | 201 + entity (`dataAreaId` defaults to the default company, stored in lower case) |
 * | `PATCH <set>(<keys>)` | 204 |
 * | `DELETE <set>(<keys>)` | 204 |
 */
import type { EmulatorContext } from "../core/context";
import type { EmulatorRequest, EmulatorResponse } from "../core/http";
import type { WriteJournal } from "../odata/journal";
import { equals } from "../odata/query/nodes";
import {
  filterRows,
  plainResolver,
  readCollectionQuery,
  selectColumns,
  sortRows,
} from "../odata/query/options";
import { parseSelect } from "../odata/query/parser";
import { etagMatches, header, parsePrefer, readJsonObject, withQuery } from "../odata/protocol";
import { formatKeyLiteral, type KeyPredicate } from "../odata/resourcePath";
import { fnoVirtualRows } from "../odata/virtualCounts";
import type { Row, StoredRow, TableDefinition, TableSet } from "../store/tables";
import { entityTypeName, fnoErrors } from "./errors";

/** Most rows in one page of an F&O collection. */
export const FNO_MAX_PAGE_SIZE = 10_000;

/** The company column of company-specific entities. */
export const DATA_AREA_ID = "dataAreaId";

/** Everything an F&O handler needs for one request (or one operation of a `$batch`). */
export interface FnoScope {
  readonly ctx: EmulatorContext;
  readonly env: string;
  readonly tables: TableSet;
  /** `https://127.0.0.1:<port>/fno/<env>/data`. */
  readonly serviceRoot: string;
  /** Default company of the environment, lower case (`dat`). */
  readonly defaultCompany: string;
  readonly journal: WriteJournal;
  readonly inBatch: boolean;
}

/** An entity set of the environment. */
export interface FnoEntitySet {
  readonly set: string;
  readonly def: TableDefinition;
  /** Whether rows belong to a company (`dataAreaId` is a key property). */
  readonly companySpecific: boolean;
}

/** Describes an entity set, or undefined when the environment has none of that (case-sensitive) name. */
export function fnoEntitySet(tables: TableSet, set: string): FnoEntitySet | undefined {
  const def = tables.definition(set);
  return def ? { set, def, companySpecific: def.keyFields.includes(DATA_AREA_ID) } : undefined;
}

const JSON_HEADERS = {
  "Content-Type": "application/json; odata.metadata=minimal",
  "OData-Version": "4.0",
} as const;

/** F&O ETags are opaque base64 (`W/"JzAsMjI1NjU0MjExNzYn"` = `'0,22565421176'`). */
export function fnoEtag(version: number): string {
  return `W/"${Buffer.from(`'0,${version}'`, "utf8").toString("base64")}"`;
}

function formatRow(stored: StoredRow, select?: readonly string[]): Record<string, unknown> {
  return { "@odata.etag": fnoEtag(stored.version), ...selectColumns(stored.row, select) };
}

function contextUrl(
  scope: FnoScope,
  set: string,
  select: readonly string[] | undefined,
  single: boolean,
): string {
  const projection = select && !select.includes("*") ? `(${select.join(",")})` : "";
  return `${scope.serviceRoot}/$metadata#${set}${projection}${single ? "/$entity" : ""}`;
}

/** Whether the request asked for every company (`?cross-company=true`). */
function crossCompany(req: EmulatorRequest): boolean {
  return (req.query.get("cross-company") ?? "").toLowerCase() === "true";
}

/** `GET <set>`. */
export function listRows(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
): EmulatorResponse {
  const query = readCollectionQuery(req.query, { allowSkip: true, wildcards: true });
  const firstExpand = query.expand[0];
  if (firstExpand) {
    throw fnoErrors.badRequest(
      `Could not find a property named '${firstExpand.property}' on type '${entityTypeName(entity.set)}'.`,
    );
  }
  let rows = scope.tables.all(entity.set);
  if (entity.companySpecific && !crossCompany(req)) {
    rows = rows.filter((r) => equals(r.row[DATA_AREA_ID], scope.defaultCompany));
  }
  const resolver = (s: StoredRow) => plainResolver(s.row);
  const matching = sortRows(filterRows(rows, query.filter, resolver), query.orderBy, resolver);
  const skip = query.skip ?? 0;
  const end =
    query.top !== undefined ? Math.min(matching.length, skip + query.top) : matching.length;
  const prefer = parsePrefer(header(req.headers, "prefer"));
  const pageSize = Math.min(prefer.maxPageSize ?? FNO_MAX_PAGE_SIZE, FNO_MAX_PAGE_SIZE);
  const pageEnd = Math.min(end, skip + pageSize);
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(scope, entity.set, query.select, false),
  };
  if (query.count) {
    body["@odata.count"] =
      matching.length +
      fnoVirtualRows(scope.tables, entity.set, {
        companySpecific: entity.companySpecific,
        crossCompany: crossCompany(req),
        defaultCompany: scope.defaultCompany,
        ...(query.filter ? { filter: query.filter } : {}),
      });
  }
  body["value"] = matching.slice(skip, pageEnd).map((s) => formatRow(s, query.select));
  if (pageEnd < end) {
    body["@odata.nextLink"] = withQuery(scope.ctx.baseUrl, req.rawUrl, {
      $skip: String(pageEnd),
      $top: query.top !== undefined ? String(end - pageEnd) : undefined,
    });
  }
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (prefer.maxPageSize !== undefined)
    headers["Preference-Applied"] = `odata.maxpagesize=${prefer.maxPageSize}`;
  return { status: 200, headers, body };
}

/** `GET <set>/$count`: rows in scope (default company unless cross-company), virtual rows included, as text. */
export function countRows(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
): EmulatorResponse {
  let rows = scope.tables.all(entity.set);
  if (entity.companySpecific && !crossCompany(req)) {
    rows = rows.filter((r) => equals(r.row[DATA_AREA_ID], scope.defaultCompany));
  }
  const filterText = req.query.get("$filter");
  const filter =
    filterText !== null
      ? readCollectionQuery(new URLSearchParams({ $filter: filterText }), {
          allowSkip: true,
          wildcards: true,
        }).filter
      : undefined;
  const count =
    filterRows(rows, filter, (s) => plainResolver(s.row)).length +
    fnoVirtualRows(scope.tables, entity.set, {
      companySpecific: entity.companySpecific,
      crossCompany: crossCompany(req),
      defaultCompany: scope.defaultCompany,
      ...(filter ? { filter } : {}),
    });
  return {
    status: 200,
    headers: { "Content-Type": "text/plain", "OData-Version": "4.0" },
    body: Buffer.from(String(count)),
  };
}

/**
 * The key columns a predicate gives, checked against the entity's key: all of them, named
 * (`dataAreaId='usmf',CustomerAccount='US-001'`), or one unnamed value for a one-field key.
 */
export function keyColumns(entity: FnoEntitySet, key: KeyPredicate): Row {
  const fields = entity.def.keyFields;
  const columns: Row = {};
  if (key.single !== undefined) {
    if (fields.length !== 1) throw fnoErrors.keyMismatch(entity.set, fields);
    columns[fields[0] as string] = key.single;
  } else {
    if (key.named.length !== fields.length) throw fnoErrors.keyMismatch(entity.set, fields);
    for (const [name, value] of key.named) {
      if (!fields.includes(name) || name in columns)
        throw fnoErrors.keyMismatch(entity.set, fields);
      columns[name] = value;
    }
  }
  const company = columns[DATA_AREA_ID];
  if (typeof company === "string") columns[DATA_AREA_ID] = company.toLowerCase();
  return columns;
}

function findRow(
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): { key: string; stored: StoredRow } {
  const storageKey = scope.tables.keyOf(entity.set, keyColumns(entity, key));
  const stored = scope.tables.get(entity.set, storageKey);
  if (!stored) throw fnoErrors.rowNotFound(entity.set);
  return { key: storageKey, stored };
}

/** The URL of a row: `<root>/CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')`. */
export function rowUrl(scope: FnoScope, entity: FnoEntitySet, row: Readonly<Row>): string {
  const fields = entity.def.keyFields;
  const inner =
    fields.length === 1
      ? formatKeyLiteral(row[fields[0] as string])
      : fields.map((f) => `${f}=${formatKeyLiteral(row[f])}`).join(",");
  return `${scope.serviceRoot}/${entity.set}(${inner})`;
}

/** `GET <set>(<keys>)`. Key access reaches any company (see docs/emulator.md). */
export function getRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): EmulatorResponse {
  const { stored } = findRow(scope, entity, key);
  const selectText = req.query.get("$select");
  const select = selectText !== null ? parseSelect(selectText) : undefined;
  const etag = fnoEtag(stored.version);
  const ifNoneMatch = header(req.headers, "if-none-match");
  if (ifNoneMatch && ifNoneMatch !== "null" && etagMatches(ifNoneMatch, etag))
    return { status: 304, headers: { ETag: etag } };
  return {
    status: 200,
    headers: { ...JSON_HEADERS, ETag: etag },
    body: {
      "@odata.context": contextUrl(scope, entity.set, select, true),
      ...formatRow(stored, select),
    },
  };
}

function parsePayload(req: EmulatorRequest): Record<string, unknown> {
  const parsed = readJsonObject(req.body);
  if ("error" in parsed) throw fnoErrors.badRequest(parsed.error);
  const columns: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed.value))
    if (!name.includes("@")) columns[name] = value;
  return columns;
}

/** `POST <set>`: creates a row in the payload's company (the default company when it has none). */
export async function createRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
): Promise<EmulatorResponse> {
  const row: Row = parsePayload(req);
  if (entity.companySpecific) {
    const company = row[DATA_AREA_ID];
    row[DATA_AREA_ID] =
      typeof company === "string" && company !== "" ? company.toLowerCase() : scope.defaultCompany;
    checkCompanyExists(scope, entity, row[DATA_AREA_ID] as string);
  }
  for (const field of entity.def.keyFields) {
    const v = row[field];
    if (v === undefined || v === null || v === "") {
      throw fnoErrors.writeFailed(entity.set, `Field '${field}' must be filled in.`);
    }
  }
  if (scope.tables.get(entity.set, scope.tables.keyOf(entity.set, row))) {
    const keyText = entity.def.keyFields.map((f) => String(row[f] as string)).join(", ");
    throw fnoErrors.writeFailed(
      entity.set,
      `Cannot create a record in ${entity.set} (${keyText}). The record already exists.`,
    );
  }
  const stored = scope.journal.insert(scope.tables, entity.set, row, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  const url = rowUrl(scope, entity, stored.row);
  return {
    status: 201,
    headers: {
      ...JSON_HEADERS,
      Location: url,
      "OData-EntityId": url,
      ETag: fnoEtag(stored.version),
    },
    body: {
      "@odata.context": contextUrl(scope, entity.set, undefined, true),
      ...formatRow(stored),
    },
  };
}

/** A company-specific row needs an existing legal entity (when the environment has any). */
function checkCompanyExists(scope: FnoScope, entity: FnoEntitySet, company: string): void {
  const legal = fnoEntitySet(scope.tables, "LegalEntities");
  if (!legal || entity.set === legal.set) return;
  const all = scope.tables.all(legal.set);
  if (all.length === 0) return;
  if (!all.some((r) => equals(r.row["LegalEntityId"], company))) {
    throw fnoErrors.writeFailed(
      entity.set,
      `Company '${company}' does not exist. Create the legal entity first.`,
    );
  }
}

/** `PATCH <set>(<keys>)`: merges the payload into the row; key properties cannot change. */
export async function patchRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): Promise<EmulatorResponse> {
  const found = findRow(scope, entity, key);
  const ifMatch = header(req.headers, "if-match");
  if (ifMatch && !etagMatches(ifMatch, fnoEtag(found.stored.version)))
    throw fnoErrors.preconditionFailed();
  const changes = parsePayload(req);
  for (const field of entity.def.keyFields) {
    if (!(field in changes)) continue;
    if (!equals(changes[field], found.stored.row[field])) {
      throw fnoErrors.badRequest(
        `The key property '${field}' cannot be changed; delete the row and create it with the new key.`,
      );
    }
    delete changes[field];
  }
  const stored = scope.journal.update(scope.tables, entity.set, found.key, changes, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return { status: 204, headers: { "OData-Version": "4.0", ETag: fnoEtag(stored.version) } };
}

/** `DELETE <set>(<keys>)`. */
export async function deleteRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): Promise<EmulatorResponse> {
  const found = findRow(scope, entity, key);
  const ifMatch = header(req.headers, "if-match");
  if (ifMatch && !etagMatches(ifMatch, fnoEtag(found.stored.version)))
    throw fnoErrors.preconditionFailed();
  scope.journal.delete(scope.tables, entity.set, found.key, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return { status: 204, headers: { "OData-Version": "4.0" } };
}
