/**
 * Handlers for an F&O data entity and its rows.
 *
 * | request | answer |
 * |---|---|
 * | `GET <set>?$filter&$count&$orderby&$skip&$top&$select[&cross-company=true]` | 200 `{@odata.context, [@odata.count], value, [@odata.nextLink]}`; pages ≤ 10,000 rows; default company only unless cross-company |
 * | `GET <set>/$count` | 200 text |
 * | `GET <set>(dataAreaId='usmf',CustomerAccount='US-001')[?cross-company=true]` | 200 entity; every key property required (400 otherwise); another company than the default one only with cross-company (404 otherwise) |
 * | `POST <set>` | 201 + entity (`dataAreaId` defaults to the default company, stored in lower case) |
 * | `PATCH <set>(<keys>)[?cross-company=true]` | 204 |
 * | `DELETE <set>(<keys>)[?cross-company=true]` | 204 |
 *
 * Names, types and enum values in query options and bodies are checked against the entity's
 * declared fields (`fields.ts`, `entitySchemas.ts`).
 */
import type { EmulatorContext } from "../core/context";
import type { EmulatorRequest, EmulatorResponse } from "../core/http";
import type { WriteJournal } from "../odata/journal";
import { equals } from "../odata/query/nodes";
import type { FilterNode } from "../odata/query/nodes";
import {
  plainResolver,
  readCollectionQuery,
  selectColumns,
  sortRows,
} from "../odata/query/options";
import { QueryPlan } from "../odata/query/planner";
import { parseSelect } from "../odata/query/parser";
import { etagMatches, header, parsePrefer, readJsonObject, withQuery } from "../odata/protocol";
import { formatKeyLiteral, type KeyPredicate } from "../odata/resourcePath";
import type { Row, StoredRow, TableDefinition, TableSet } from "../store/tables";
import { entityTypeName, fnoErrors } from "./errors";
import { checkPayload, checkQueryFields, checkRequired } from "./fields";

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
  checkQueryFields(entity.set, query);
  const plan = planOf(req, scope, entity, query.filter);
  const skip = query.skip ?? 0;
  const prefer = parsePrefer(header(req.headers, "prefer"));
  const pageSize = Math.min(prefer.maxPageSize ?? FNO_MAX_PAGE_SIZE, FNO_MAX_PAGE_SIZE);
  const limit = query.top !== undefined ? Math.min(query.top, pageSize) : pageSize;
  // One row past the page tells whether another page follows. Without `$orderby` rows come in
  // key order straight from the index (`$skip` is a position in it); with `$orderby` the rows
  // the index selects are sorted (a scan of them).
  let candidates: StoredRow[];
  if (query.orderBy.length === 0) {
    candidates = take(plan.fromPosition(skip), limit + 1);
  } else {
    const resolver = (s: StoredRow) => plainResolver(s.row);
    const matching = [...plan.rows()].map(([, stored]) => stored);
    candidates = sortRows(matching, query.orderBy, resolver).slice(skip, skip + limit + 1);
  }
  const page = candidates.slice(0, limit);
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(scope, entity.set, query.select, false),
  };
  if (query.count) body["@odata.count"] = plan.count();
  body["value"] = page.map((s) => formatRow(s, query.select));
  const topLeft = query.top !== undefined ? query.top - page.length : Infinity;
  if (candidates.length > page.length && topLeft > 0) {
    body["@odata.nextLink"] = withQuery(new URL(scope.serviceRoot).origin, req.rawUrl, {
      $skip: String(skip + page.length),
      $top: query.top !== undefined ? String(topLeft) : undefined,
    });
  }
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (prefer.maxPageSize !== undefined)
    headers["Preference-Applied"] = `odata.maxpagesize=${prefer.maxPageSize}`;
  return { status: 200, headers, body };
}

/** `GET <set>/$count`: rows in scope (default company unless cross-company) that match `$filter`, as text. */
export function countRows(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
): EmulatorResponse {
  const filterText = req.query.get("$filter");
  const filter =
    filterText !== null
      ? readCollectionQuery(new URLSearchParams({ $filter: filterText }), {
          allowSkip: true,
          wildcards: true,
        }).filter
      : undefined;
  if (filter) checkQueryFields(entity.set, { filter });
  const count = planOf(req, scope, entity, filter).count();
  return {
    status: 200,
    headers: { "Content-Type": "text/plain", "OData-Version": "4.0" },
    body: Buffer.from(String(count)),
  };
}

/**
 * How a collection request reads its rows: the filter, within the request's company scope (the
 * default company unless cross-company), through the indexes (`odata/query/planner.ts`).
 */
function planOf(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  filter: FilterNode | undefined,
): QueryPlan {
  const company =
    entity.companySpecific && !crossCompany(req)
      ? new Map([[DATA_AREA_ID, scope.defaultCompany]])
      : undefined;
  return new QueryPlan({
    tables: scope.tables,
    table: entity.set,
    ...(filter ? { filter } : {}),
    ...(company ? { scope: company } : {}),
    resolver: (s) => plainResolver(s.row),
  });
}

/** The first `n` values of an iterable. */
function take<T>(entries: Iterable<[string, T]>, n: number): T[] {
  const out: T[] = [];
  if (n <= 0) return out;
  for (const [, value] of entries) {
    out.push(value);
    if (out.length >= n) break;
  }
  return out;
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

/**
 * The row a key names, within the request's company scope: a key whose `dataAreaId` is not the
 * default company finds nothing (404) unless the request says `cross-company=true`.
 *
 * The sources: "Open Data Protocol (OData)" § Cross-company behavior (odata.md, 2020) — "By
 * default, OData returns only data that belongs to the user's default company", other companies
 * with `?cross-company=true` — shown for collections; "Cross-company behavior of data entities"
 * (https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/cross-company-behavior,
 * 2017, before the cross-company option) says OData reads are not filtered by company and that
 * create/update/delete work "for any company by setting the value of the PrimaryCompanyContext
 * field". The emulator follows the newer page for everything addressed by key — reads, updates
 * and deletes [choice] — and the older one for creates: a body's `dataAreaId` picks the company.
 */
function findRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): { key: string; stored: StoredRow } {
  const columns = keyColumns(entity, key);
  if (
    entity.companySpecific &&
    !crossCompany(req) &&
    !equals(columns[DATA_AREA_ID], scope.defaultCompany)
  )
    throw fnoErrors.rowNotFound(entity.set);
  const storageKey = scope.tables.keyOf(entity.set, columns);
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

/** `GET <set>(<keys>)`, within the company scope (see `findRow`). */
export function getRow(
  req: EmulatorRequest,
  scope: FnoScope,
  entity: FnoEntitySet,
  key: KeyPredicate,
): EmulatorResponse {
  const selectText = req.query.get("$select");
  const select = selectText !== null ? parseSelect(selectText) : undefined;
  checkQueryFields(entity.set, select ? { select } : {});
  const { stored } = findRow(req, scope, entity, key);
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

/** The properties of a request body, checked against the entity's fields (annotations dropped). */
function parsePayload(req: EmulatorRequest, entity: FnoEntitySet): Record<string, unknown> {
  const parsed = readJsonObject(req.body);
  if ("error" in parsed) throw fnoErrors.badRequest(parsed.error);
  checkPayload(entity.set, parsed.value);
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
  const row: Row = parsePayload(req, entity);
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
  checkRequired(entity.set, row);
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
  if (!legal || entity.set === legal.set || scope.tables.count(legal.set) === 0) return;
  // Legal entities are keyed by LegalEntityId (case-insensitive): one lookup, no scan.
  if (!scope.tables.get(legal.set, scope.tables.keyOf(legal.set, { LegalEntityId: company }))) {
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
  const found = findRow(req, scope, entity, key);
  const ifMatch = header(req.headers, "if-match");
  if (ifMatch && !etagMatches(ifMatch, fnoEtag(found.stored.version)))
    throw fnoErrors.preconditionFailed();
  const changes = parsePayload(req, entity);
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
  const found = findRow(req, scope, entity, key);
  const ifMatch = header(req.headers, "if-match");
  if (ifMatch && !etagMatches(ifMatch, fnoEtag(found.stored.version)))
    throw fnoErrors.preconditionFailed();
  scope.journal.delete(scope.tables, entity.set, found.key, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return { status: 204, headers: { "OData-Version": "4.0" } };
}
