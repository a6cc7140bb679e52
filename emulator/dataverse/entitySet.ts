/**
 * Handlers for a Dataverse entity set and its rows.
 *
 * | request | answer |
 * |---|---|
 * | `GET <set>?$select&$filter&$orderby&$top&$count&$expand` | 200 `{@odata.context, [@odata.count], [count annotations], value, [@odata.nextLink]}`; pages of `odata.maxpagesize` (≤ 5,000) with a paging cookie (`paging.ts`) |
 * | `GET <set>/$count[?$filter]` | 200 text, at most 5,000 |
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
import type { FilterNode } from "../odata/query/nodes";
import {
  asText,
  etagMatches,
  header,
  parsePrefer,
  readJsonObject,
  wantsAnnotation,
  weakEtag,
  withQuery,
} from "../odata/protocol";
import type { KeyPredicate } from "../odata/resourcePath";
import { WriteJournal } from "../odata/journal";
import { parseExpand, parseFilter, parseSelect } from "../odata/query/parser";
import type { Row, StoredRow } from "../store/tables";
import {
  checkExpandSelect,
  checkFilter,
  checkQueryColumns,
  checkSelect,
  hasColumn,
} from "./columns";
import { dataverseErrors } from "./errors";
import {
  countMatching,
  type PagePosition,
  readPage,
  readSkipToken,
  skipTokenAfter,
} from "./paging";
import {
  alternateKeyOf,
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
  checkQueryColumns(info, query);
  const prefer = parsePrefer(header(req.headers, "prefer"));
  const resolver = rowResolver(scope, info);
  const pageSize = Math.min(prefer.maxPageSize ?? DATAVERSE_MAX_PAGE_SIZE, DATAVERSE_MAX_PAGE_SIZE);
  let after: PagePosition | undefined;
  if (query.skipToken !== undefined) {
    after = readSkipToken(query.skipToken, query.orderBy.length);
    if (after === undefined)
      throw dataverseErrors.badRequest(
        `The $skiptoken '${query.skipToken}' is not valid; use the @odata.nextLink of the previous page as it is.`,
      );
  }
  // `$top` limits the whole result unless the client asked for pages (then the docs say it is
  // ignored); rows already served are the earlier pages, all full.
  const served = after ? after.page * pageSize : 0;
  const remaining =
    query.top !== undefined && prefer.maxPageSize === undefined ? query.top - served : Infinity;
  const page = readPage(scope.tables, info.set, info.primaryKey, resolver, {
    ...(query.filter ? { filter: query.filter } : {}),
    orderBy: query.orderBy,
    limit: Math.min(pageSize, remaining),
    ...(after ? { after } : {}),
  });
  const body: Record<string, unknown> = {
    "@odata.context": contextUrl(scope, info, query.select, false),
  };
  // "Count rows using OData": `@odata.count` up to 5,000; the two annotations only when the
  // `odata.include-annotations` preference asks for them, `totalrecordcount` -1 without `$count`.
  const counted = query.count ? countStored(scope, info, query.filter) : undefined;
  if (counted !== undefined) body["@odata.count"] = Math.min(counted, DATAVERSE_MAX_PAGE_SIZE);
  if (wantsAnnotation(prefer.includeAnnotations, TOTAL_RECORD_COUNT))
    body[`@${TOTAL_RECORD_COUNT}`] =
      counted === undefined ? -1 : Math.min(counted, DATAVERSE_MAX_PAGE_SIZE);
  if (wantsAnnotation(prefer.includeAnnotations, LIMIT_EXCEEDED))
    body[`@${LIMIT_EXCEEDED}`] = counted !== undefined && counted > DATAVERSE_MAX_PAGE_SIZE;
  const format = {
    ...(query.select ? { select: query.select } : {}),
    expand: query.expand,
    ...(prefer.includeAnnotations !== undefined ? { annotations: prefer.includeAnnotations } : {}),
  };
  body["value"] = page.rows.map((stored) => formatRow(scope, info, stored, format));
  if (page.more && remaining > page.rows.length) {
    const skipToken = skipTokenAfter(
      (after?.page ?? 0) + 1,
      page.rows,
      query.orderBy,
      info.primaryKey,
      resolver,
    );
    body["@odata.nextLink"] = withQuery(new URL(scope.serviceRoot).origin, req.rawUrl, {
      $skiptoken: skipToken,
    });
  }
  const headers: Record<string, string> = { ...JSON_HEADERS };
  const applied = appliedPreferences(prefer.maxPageSize, prefer.includeAnnotations);
  if (applied) headers["Preference-Applied"] = applied;
  return { status: 200, headers, body };
}

const TOTAL_RECORD_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount";
const LIMIT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";

/**
 * Rows that match `filter`, read up to one past the 5,000 cap (only compare the result with the
 * cap). An index answers equality filters without reading rows (`odata/query/planner.ts`).
 */
function countStored(
  scope: DataverseScope,
  info: EntitySetInfo,
  filter: FilterNode | undefined,
): number {
  return countMatching(
    scope.tables,
    info.set,
    rowResolver(scope, info),
    filter,
    DATAVERSE_MAX_PAGE_SIZE,
  );
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

/**
 * `GET <set>/$count`: the number of rows that match `$filter`, as text. OData's `/$count` honours `$filter` (OData URL Conventions 4.0 §4.8);
 * "Count rows using OData" shows the plain-text answer. The cap of 5,000 is `@odata.count`'s
 * [choice: the page is silent about `/$count`'s limit; `RetrieveTotalRecordCount` gives more].
 */
export function countRows(
  req: EmulatorRequest,
  scope: DataverseScope,
  info: EntitySetInfo,
): EmulatorResponse {
  const filterText = req.query.get("$filter");
  const filter = filterText !== null ? parseFilter(filterText) : undefined;
  checkFilter(info, filter);
  const n = Math.min(countStored(scope, info, filter), DATAVERSE_MAX_PAGE_SIZE);
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
  // A segment that is no property of the type is no resource, whatever the row
  // (web-api-client-errors: the URI is read before any row).
  if (property !== undefined && !info.def.lookups?.[property] && !hasColumn(info.set, property))
    throw dataverseErrors.resourceNotFound(property);
  const found = findRow(scope, info, key);
  if (!found) throw notFound(info, key);
  const prefer = parsePrefer(header(req.headers, "prefer"));
  if (property !== undefined) return getProperty(scope, info, found.stored, property);
  const selectText = req.query.get("$select");
  const select = selectText !== null ? parseSelect(selectText) : undefined;
  const expandText = req.query.get("$expand");
  const expand = expandText !== null ? parseExpand(expandText) : [];
  checkExpand(info, expand);
  checkSelect(info.set, info.logicalName, select);
  checkExpandSelect(info, expand);
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
  checkSelect(info.set, info.logicalName, select);
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
  // "Use Upsert to Create or Update a record": when the row exists, the alternate key values of
  // the URL are removed from the body, so a row cannot change the key it is addressed by.
  if (found && primaryKeyOf(info, key) === undefined)
    for (const column of alternateKeyOf(info, key).columns) delete columns[column];
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
