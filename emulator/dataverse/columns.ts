/**
 * Strict columns: the names a request may use on a table whose columns `tableSchemas.ts`
 * declares. Real Dataverse reads query options and bodies against the entity type of `$metadata`
 * and refuses a name the type lacks (names are case-sensitive):
 *
 * | where                                  | answer (web-api-client-errors)                                                     |
 * |----------------------------------------|------------------------------------------------------------------------------------|
 * | `$select`, `$filter`, `$orderby`, `$expand($select)` | 400 `0x0` "Could not find a property named 'x' on type 'Microsoft.Dynamics.CRM.account'." |
 * | request body                           | 400 `0x0` "… Invalid property 'x' was found in entity 'Microsoft.Dynamics.CRM.account'. …" |
 *
 * Source: "Troubleshoot Dataverse Web API client errors",
 * https://learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors.
 * Tables without a declared column list stay lenient (any name is accepted). Types and choices
 * of the declared columns are checked in `columnTypes.ts`.
 */
import type { FilterNode } from "../odata/query/nodes";
import { propertyReferences } from "../odata/query/nodes";
import type { ExpandItem, OrderByItem } from "../odata/query/parser";
import { checkFilterTypes, checkPayloadValue } from "./columnTypes";
import { dataverseErrors } from "./errors";
import type { EntitySetInfo } from "./rows";
import { tableSchema } from "./tableSchemas";

/** The declared columns of a set, or undefined when the set is lenient. */
function columnsOf(set: string): Readonly<Record<string, unknown>> | undefined {
  return tableSchema(set)?.columns;
}

/** Logical name of a target set for messages (its schema's, else the set name). */
function logicalNameOf(set: string): string {
  return tableSchema(set)?.logicalName ?? set;
}

/** Whether a table of `set` has the column `name` (always true on a lenient table). */
export function hasColumn(set: string, name: string): boolean {
  const columns = columnsOf(set);
  return columns === undefined || Object.hasOwn(columns, name);
}

/**
 * Checks a property path of `$filter` or `$orderby`: a column (`name`, `_msdyn_company_value`) or
 * one navigation step through a lookup (`msdyn_company/cdm_companycode`). Throws 400.
 */
export function checkPropertyPath(info: EntitySetInfo, path: readonly string[]): void {
  const strict = columnsOf(info.set) !== undefined;
  const [first, second] = path;
  if (first === undefined) return;
  if (path.length === 1) {
    if (!hasColumn(info.set, first))
      throw dataverseErrors.propertyNotFound(info.logicalName, first);
    return;
  }
  const lookup = info.def.lookups?.[first];
  if (!lookup || path.length > 2) {
    if (strict) throw dataverseErrors.propertyNotFound(info.logicalName, first);
    return;
  }
  if (second !== undefined && !hasColumn(lookup.targetSet, second))
    throw dataverseErrors.propertyNotFound(logicalNameOf(lookup.targetSet), second);
}

/** Checks every property a `$filter` reads, then the types it compares them with (`columnTypes.ts`). */
export function checkFilter(info: EntitySetInfo, filter: FilterNode | undefined): void {
  if (!filter) return;
  for (const id of propertyReferences(filter)) checkPropertyPath(info, id.path);
  checkFilterTypes(info, filter);
}

/** Checks every `$orderby` property. */
export function checkOrderBy(info: EntitySetInfo, orderBy: readonly OrderByItem[]): void {
  for (const item of orderBy) checkPropertyPath(info, item.property.split("/"));
}

/** Checks a `$select` list (`*` selects everything). */
export function checkSelect(
  set: string,
  logicalName: string,
  select: readonly string[] | undefined,
): void {
  for (const name of select ?? []) {
    if (name !== "*" && !hasColumn(set, name))
      throw dataverseErrors.propertyNotFound(logicalName, name);
  }
}

/** Checks the nested `$select` of each `$expand` item against the related table. */
export function checkExpandSelect(info: EntitySetInfo, expand: readonly ExpandItem[]): void {
  for (const item of expand) {
    const lookup = info.def.lookups?.[item.property];
    if (lookup) checkSelect(lookup.targetSet, logicalNameOf(lookup.targetSet), item.select);
  }
}

/** Checks the query options of a read: `$select`, `$filter`, `$orderby`, `$expand($select)`. */
export function checkQueryColumns(
  info: EntitySetInfo,
  query: {
    readonly select?: readonly string[];
    readonly filter?: FilterNode;
    readonly orderBy?: readonly OrderByItem[];
    readonly expand?: readonly ExpandItem[];
  },
): void {
  checkSelect(info.set, info.logicalName, query.select);
  checkFilter(info, query.filter);
  checkOrderBy(info, query.orderBy ?? []);
  checkExpandSelect(info, query.expand ?? []);
}

/**
 * Checks a property a request body sets (annotations and `@odata.bind` are read elsewhere): the
 * column must exist, and its value must have the column's type and, for a choice, be one of its
 * options (`columnTypes.ts`).
 */
export function checkPayloadProperty(info: EntitySetInfo, name: string, value?: unknown): void {
  if (!hasColumn(info.set, name))
    throw dataverseErrors.invalidPayloadProperty(info.logicalName, name);
  if (value !== undefined) checkPayloadValue(info, name, value);
}
