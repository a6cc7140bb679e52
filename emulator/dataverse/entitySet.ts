/**
 * Handlers for a Dataverse entity set and its rows.
 *
 * | request | answer |
 * |---|---|
 * | `GET <set>?$select&$filter&$orderby&$top&$count&$expand` | 200 `{@odata.context, [@odata.count], value, [@odata.nextLink]}`; pages of `odata.maxpagesize` (≤ 5,000) |
 * | `GET <set>/$count` | 200 text, at most 5,000 |
 * | `GET <set>(<key>)` | 200 entity; 304 when `If-None-Match` matches (not with `$expand`) |
 * | `GET <set>(<key>)/<property>` | 200 `{value}` or the related entity of a lookup |
 * | `POST <set>` | 204 + `OData-EntityId`; 201 + entity with `Prefer: return=representation` |
 * | `PATCH <set>(<key>)` | upsert: 204 (200/201 with representation); `If-Match` 404/412, `If-None-Match: *` 412 |
 * | `DELETE <set>(<key>)` | 204; `If-Match` 412 |
 * | `POST <set>/Microsoft.Dynamics.CRM.UpdateMultiple` | 204; all targets or none |
 */
import { randomUUID } from "node:crypto";
import type { EmulatorRequest, EmulatorResponse } from "../core/http";
import { readCollectionQuery } from "../odata/query/options";
import { filterRows, sortRows } from "../odata/query/options";
import {
  asText,
  decodePagingToken,
  encodePagingToken,
  etagMatches,
  header,
  parsePrefer,
  readJsonObject,
  weakEtag,
  withQuery,
} from "../odata/protocol";
import type { KeyPredicate } from "../odata/resourcePath";
import { WriteJournal } from "../odata/journal";
import { dataverseVirtualRows } from "../odata/virtualCounts";
import { parseExpand, parseSelect } from "../odata/query/parser";
import type { Row, StoredRow } from "../store/tables";
import { dataverseErrors } from "./errors";
import {
  checkExpand,
  contextUrl,
  type DataverseScope,
  entitySetInfo,
  entityUrl,
  type EntitySetInfo,
  findRow,
  formatRow,
  notFound,
  payloadToColumns,
  primaryKeyOf,
  rowResolver,
} from "./rows";

/** Most rows in one page, and the cap of `@odata.count` and `/$count`. */
export const DATAVERSE_MAX_PAGE_SIZE = 5000;

const JSON_HEADERS = {
  "Content-Type": "application/json; odata.metadata=minimal",
  "OData-Version": "4.0",
} as const;

/** `GET <set>`. */
export function listRows(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
): EmulatorResponse {
  const query = readCollectionQuery(req.query, { allowSkip: false });
  checkExpand(info, query.expand);
  const prefer = parsePrefer(header(req.headers, "prefer"));
  const resolver = rowResolver(scope, info);
  const matching = sortRows(
    filterRows(scope.tables.all(info.set), query.filter, resolver),
    query.orderBy,
    resolver,
  );
  // `$top` limits the whole result unless the client asked for pages (then the docs say it is ignored).
  const total =
    query.top !== undefined && prefer.maxPageSize === undefined
      ? Math.min(query.top, matching.length)
      : matching.length;
  const pageSize = Math.min(prefer.maxPageSize ?? DATAVERSE_MAX_PAGE_SIZE, DATAVERSE_MAX_PAGE_SIZE);
  let offset = 0;
  if (query.skipToken !== undefined) {
    const cookie = /pagingcookie="([^"]*)"/.exec(query.skipToken);
    const decoded = cookie ? decodePagingToken(cookie[1] as string) : undefined;
    if (decoded === undefined)
      throw dataverseErrors.badRequest(
        `The $skiptoken '${query.skipToken}' is not valid; use the @odata.nextLink of the previous page as it is.`,
      );
    offset = decoded;
  }
  const end = Math.min(offset + pageSize, total);
  const page = matching.slice(offset, end);
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(scope, info, query.select, false),
  };
  if (query.count) {
    const counted =
      matching.length +
      dataverseVirtualRows(scope.tables, info.set, companyColumns(info), query.filter);
    body["@odata.count"] = Math.min(counted, DATAVERSE_MAX_PAGE_SIZE);
    if (counted > DATAVERSE_MAX_PAGE_SIZE)
      body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = true;
  }
  const format = {
    ...(query.select ? { select: query.select } : {}),
    expand: query.expand,
    ...(prefer.includeAnnotations !== undefined ? { annotations: prefer.includeAnnotations } : {}),
  };
  body["value"] = page.map((stored) => formatRow(scope, info, stored, format));
  if (end < total) {
    const pageNumber = Math.floor(end / pageSize) + 1;
    const skipToken = `<cookie pagenumber="${pageNumber}" pagingcookie="${encodePagingToken(end)}" istracking="False" />`;
    body["@odata.nextLink"] = withQuery(scope.ctx.baseUrl, req.rawUrl, { $skiptoken: skipToken });
  }
  const headers: Record<string, string> = { ...JSON_HEADERS };
  const applied = appliedPreferences(prefer.maxPageSize, prefer.includeAnnotations);
  if (applied) headers["Preference-Applied"] = applied;
  return { status: 200, headers, body };
}

function appliedPreferences(
  maxPageSize: number | undefined,
  annotations: string | undefined,
): string | undefined {
  const parts: string[] = [];
  if (maxPageSize !== undefined) parts.push(`odata.maxpagesize=${maxPageSize}`);
  if (annotations !== undefined) parts.push(`odata.include-annotations="${annotations}"`);
  return parts.length > 0 ? parts.join(",") : undefined;
}

/** Lookup columns of a table that point at `cdm_companies` (for counting virtual rows per company). */
export function companyColumns(info: EntitySetInfo): string[] {
  return Object.values(info.def.lookups ?? {})
    .filter((l) => l.targetSet === "cdm_companies")
    .map((l) => l.column);
}

/**
 * `GET <set>/$count`: the number of rows (virtual rows included) as text; the real service caps
 * it at 5,000 (`RetrieveTotalRecordCount` gives the full number).
 */
export function countRows(scope: DataverseScope, info: EntitySetInfo): EmulatorResponse {
  const n = Math.min(
    scope.tables.count(info.set) +
      dataverseVirtualRows(scope.tables, info.set, companyColumns(info)),
    DATAVERSE_MAX_PAGE_SIZE,
  );
  return {
    status: 200,
    headers: { "Content-Type": "text/plain", "OData-Version": "4.0" },
    body: Buffer.from(String(n)),
  };
}

/** `GET <set>(<key>)` and `GET <set>(<key>)/<property>`. */
export function getRow(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
  key: KeyPredicate,
  property?: string,
): EmulatorResponse {
  const found = findRow(scope, info, key);
  if (!found) throw notFound(info, key);
  const prefer = parsePrefer(header(req.headers, "prefer"));
  if (property !== undefined) return getProperty(scope, info, found.stored, property);
  const selectText = req.query.get("$select");
  const select = selectText !== null ? parseSelect(selectText) : undefined;
  const expandText = req.query.get("$expand");
  const expand = expandText !== null ? parseExpand(expandText) : [];
  checkExpand(info, expand);
  const etag = weakEtag(found.stored.version);
  const ifNoneMatch = header(req.headers, "if-none-match");
  // `If-None-Match: null` is what clients send to say "no condition"; `$expand` disables 304.
  if (
    ifNoneMatch &&
    ifNoneMatch !== "null" &&
    expand.length === 0 &&
    etagMatches(ifNoneMatch, etag)
  ) {
    return { status: 304, headers: { ETag: etag } };
  }
  const body = {
    "@odata.context": contextUrl(scope, info, select, true),
    ...formatRow(scope, info, found.stored, {
      ...(select ? { select } : {}),
      expand,
      ...(prefer.includeAnnotations !== undefined
        ? { annotations: prefer.includeAnnotations }
        : {}),
    }),
  };
  return { status: 200, headers: { ...JSON_HEADERS, ETag: etag }, body };
}

function getProperty(
  scope: DataverseScope,
  info: EntitySetInfo,
  stored: StoredRow,
  property: string,
): EmulatorResponse {
  const lookup = info.def.lookups?.[property];
  if (lookup) {
    const target = readTarget(scope, lookup.targetSet, stored.row[lookup.column]);
    if (!target) return { status: 204, headers: { "OData-Version": "4.0" } };
    return {
      status: 200,
      headers: { ...JSON_HEADERS },
      body: {
        "@odata.context": contextUrl(scope, target.info, undefined, true),
        ...formatRow(scope, target.info, target.stored),
      },
    };
  }
  const value = stored.row[property];
  if (value === undefined || value === null)
    return { status: 204, headers: { "OData-Version": "4.0" } };
  return {
    status: 200,
    headers: { ...JSON_HEADERS },
    body: {
      "@odata.context": `${scope.serviceRoot}/$metadata#${info.set}(${asText(stored.row[info.primaryKey])})/${property}`,
      value,
    },
  };
}

function readTarget(
  scope: DataverseScope,
  targetSet: string,
  id: unknown,
): { info: EntitySetInfo; stored: StoredRow } | undefined {
  const info = entitySetInfo(scope.tables, targetSet);
  if (!info || typeof id !== "string") return undefined;
  const found = findRow(scope, info, { raw: id, single: id, named: [] });
  return found ? { info, stored: found.stored } : undefined;
}

function parsePayload(req: EmulatorRequest): Record<string, unknown> {
  const parsed = readJsonObject(req.body);
  if ("error" in parsed) throw dataverseErrors.badRequest(parsed.error);
  return parsed.value;
}

function now(scope: DataverseScope): string {
  return new Date(scope.ctx.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `POST <set>`: creates a row. */
export async function createRow(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
): Promise<EmulatorResponse> {
  const columns = payloadToColumns(scope, info, parsePayload(req));
  const given = columns[info.primaryKey];
  if (given !== undefined && given !== null) {
    if (typeof given !== "string" || !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(given)) {
      throw dataverseErrors.badRequest(
        `The value of '${info.primaryKey}' must be a GUID; got ${JSON.stringify(given)}.`,
      );
    }
  }
  const id = typeof given === "string" ? given.toLowerCase() : randomUUID();
  const stamp = now(scope);
  const row: Row = {
    ...columns,
    [info.primaryKey]: id,
    createdon: columns["createdon"] ?? stamp,
    modifiedon: stamp,
  };
  if (scope.tables.get(info.set, scope.tables.keyOf(info.set, row)))
    throw dataverseErrors.duplicateRecord();
  const stored = scope.journal.insert(scope.tables, info.set, row, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return writeAnswer(req, scope, info, stored, 201);
}

/** The answer to a successful create or update: 204 + OData-EntityId, or the entity when asked. */
function writeAnswer(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
  stored: StoredRow,
  representationStatus: 200 | 201,
): EmulatorResponse {
  const url = entityUrl(scope, info, stored.row);
  const prefer = parsePrefer(header(req.headers, "prefer"));
  const headers: Record<string, string> = {
    "OData-Version": "4.0",
    "OData-EntityId": url,
    ETag: weakEtag(stored.version),
  };
  if (!prefer.returnRepresentation) return { status: 204, headers };
  const selectText = req.query.get("$select");
  const select = selectText !== null ? parseSelect(selectText) : undefined;
  return {
    status: representationStatus,
    headers: {
      ...headers,
      ...JSON_HEADERS,
      Location: url,
      "Preference-Applied": "return=representation",
    },
    body: {
      "@odata.context": contextUrl(scope, info, select, true),
      ...formatRow(scope, info, stored, select ? { select } : {}),
    },
  };
}

/** `PATCH <set>(<key>)`: update, or create when the row is missing (upsert), unless `If-Match` says otherwise. */
export async function patchRow(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
  key: KeyPredicate,
): Promise<EmulatorResponse> {
  const found = findRow(scope, info, key);
  const ifMatch = header(req.headers, "if-match");
  const ifNoneMatch = header(req.headers, "if-none-match");
  if (ifMatch) {
    if (!found) throw notFound(info, key);
    if (!etagMatches(ifMatch, weakEtag(found.stored.version)))
      throw dataverseErrors.versionMismatch();
  }
  if (ifNoneMatch === "*" && found) throw dataverseErrors.duplicateRecord();
  const columns = payloadToColumns(scope, info, parsePayload(req));
  if (found) {
    const current = asText(found.stored.row[info.primaryKey]).toLowerCase();
    const given = columns[info.primaryKey];
    if (given !== undefined && asText(given).toLowerCase() !== current) {
      throw dataverseErrors.badRequest(
        `The primary key '${info.primaryKey}' of a row cannot be changed.`,
      );
    }
    delete columns[info.primaryKey];
    const stored = scope.journal.update(
      scope.tables,
      info.set,
      found.key,
      { ...columns, modifiedon: now(scope) },
      "client",
    );
    if (!scope.inBatch) await scope.ctx.persist();
    return writeAnswer(req, scope, info, stored, 200);
  }
  // Upsert: the key predicate supplies the key columns of the new row.
  const id = primaryKeyOf(info, key) ?? randomUUID();
  const keyColumns: Row = Object.fromEntries(
    key.named.filter(([name]) => name !== info.primaryKey),
  );
  const stamp = now(scope);
  const row: Row = {
    ...columns,
    ...keyColumns,
    [info.primaryKey]: id,
    createdon: stamp,
    modifiedon: stamp,
  };
  const stored = scope.journal.insert(scope.tables, info.set, row, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return writeAnswer(req, scope, info, stored, 201);
}

/** `DELETE <set>(<key>)`. */
export async function deleteRow(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
  key: KeyPredicate,
): Promise<EmulatorResponse> {
  const found = findRow(scope, info, key);
  if (!found) throw notFound(info, key);
  const ifMatch = header(req.headers, "if-match");
  if (ifMatch && !etagMatches(ifMatch, weakEtag(found.stored.version)))
    throw dataverseErrors.versionMismatch();
  scope.journal.delete(scope.tables, info.set, found.key, "client");
  if (!scope.inBatch) await scope.ctx.persist();
  return { status: 204, headers: { "OData-Version": "4.0" } };
}

/**
 * `POST <set>/Microsoft.Dynamics.CRM.UpdateMultiple` with `{Targets:[…]}`: every target names an
 * existing row by primary key and carries `@odata.type` of this table. All targets are updated or,
 * when one fails, none (the real message runs in one transaction).
 */
export async function updateMultiple(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
): Promise<EmulatorResponse> {
  const payload = parsePayload(req);
  const targets = payload["Targets"];
  if (!Array.isArray(targets) || targets.length === 0) {
    throw dataverseErrors.badRequest("UpdateMultiple needs a non-empty 'Targets' array of rows.");
  }
  const expectedType = `Microsoft.Dynamics.CRM.${info.logicalName}`;
  // A journal of its own, so that a failure undoes exactly this request's writes; on success the
  // enclosing journal (a change set's) takes the undo steps over.
  const own = new WriteJournal();
  try {
    targets.forEach((target: unknown, i) => {
      if (target === null || typeof target !== "object" || Array.isArray(target)) {
        throw dataverseErrors.badRequest(`Targets[${i}] must be a JSON object.`);
      }
      const t = target as Record<string, unknown>;
      if (t["@odata.type"] !== expectedType) {
        throw dataverseErrors.badRequest(
          `Targets[${i}]: '@odata.type' must be '${expectedType}' for the entity set '${info.set}'; got ${JSON.stringify(t["@odata.type"] ?? null)}.`,
        );
      }
      const id = t[info.primaryKey];
      if (typeof id !== "string")
        throw dataverseErrors.badRequest(
          `Targets[${i}]: the primary key '${info.primaryKey}' is required.`,
        );
      const key = { raw: id, single: id, named: [] };
      const found = findRow(scope, info, key);
      if (!found) throw notFound(info, key);
      const columns = payloadToColumns(scope, info, t);
      delete columns[info.primaryKey];
      own.update(
        scope.tables,
        info.set,
        found.key,
        { ...columns, modifiedon: now(scope) },
        "client",
      );
    });
  } catch (e) {
    own.rollback();
    throw e;
  }
  scope.journal.absorb(own);
  if (!scope.inBatch) await scope.ctx.persist();
  return { status: 204, headers: { "OData-Version": "4.0" } };
}
