/**
 * Rows of a Dataverse table as the Web API shows and takes them: finding a row by primary or
 * alternate key, turning a request payload into columns (including `<nav>@odata.bind` lookups),
 * and turning a stored row into a response entity (`@odata.etag`, `$select`, `$expand`, lookup
 * annotations).
 */
import type { EmulatorContext } from "../core/context";
import type { WriteJournal } from "../odata/journal";
import type { PropertyResolver } from "../odata/query/nodes";
import type { ExpandItem } from "../odata/query/parser";
import { selectColumns } from "../odata/query/options";
import { asText, wantsAnnotation, weakEtag } from "../odata/protocol";
import { type KeyPredicate, parseResourcePath, ResourcePathError } from "../odata/resourcePath";
import type {
  Row,
  StoredRow,
  TableDefinition,
  TableSet,
  UniqueKeyDefinition,
} from "../store/tables";
import { checkPayloadProperty } from "./columns";
import { dataverseErrors } from "./errors";

/** Everything a Dataverse handler needs for one request (or one operation of a `$batch`). */
export interface DataverseScope {
  readonly ctx: EmulatorContext;
  readonly org: string;
  readonly tables: TableSet;
  /** `https://127.0.0.1:<port>/dataverse/<org>/api/data/v9.2` (the version the client used). */
  readonly serviceRoot: string;
  /** Every write goes through it, so that change sets and `UpdateMultiple` can roll back. */
  readonly journal: WriteJournal;
  /** Content-IDs of the current change set → entity URLs, for `$1` in `@odata.bind`. */
  readonly references: ReadonlyMap<string, string>;
  /** True inside `$batch`: the batch persists once at its end. */
  readonly inBatch: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A table of the org with its definition and the handful of names the Web API derives from it. */
export interface EntitySetInfo {
  readonly set: string;
  readonly def: TableDefinition;
  /** Primary key column (`accountid`). */
  readonly primaryKey: string;
  /** Logical name (`account`): from the definition, else the set name without its plural `s`. */
  readonly logicalName: string;
}

/** Describes a table of `tables`, or undefined when the org has no such entity set. */
export function entitySetInfo(tables: TableSet, set: string): EntitySetInfo | undefined {
  const def = tables.definition(set);
  if (!def) return undefined;
  return {
    set,
    def,
    primaryKey: def.keyFields[0] ?? `${set}id`,
    logicalName: def.logicalName ?? set.replace(/ies$/, "y").replace(/s$/, ""),
  };
}

/** Storage key of the row with primary key `id`. */
function primaryStorageKey(scope: DataverseScope, info: EntitySetInfo, id: string): string {
  return scope.tables.keyOf(info.set, { [info.primaryKey]: id.toLowerCase() });
}

/** A located row and its storage key. */
export interface FoundRow {
  readonly key: string;
  readonly stored: StoredRow;
}

/**
 * Finds the row a key predicate names: `(<guid>)`, `(<pk>=<guid>)`, or a declared alternate key
 * `(accountnumber='A-1',_msdyn_company_value=<guid>)` (names in any order). Undefined when no row
 * matches; throws 400 for a predicate that cannot name a row of this table, including one whose
 * names are not a declared key ("Use an alternate key to reference a record": only declared
 * alternate keys address rows).
 */
export function findRow(
  scope: DataverseScope,
  info: EntitySetInfo,
  key: KeyPredicate,
): FoundRow | undefined {
  const id = primaryKeyOf(info, key);
  if (id !== undefined) {
    const storageKey = primaryStorageKey(scope, info, id);
    const stored = scope.tables.get(info.set, storageKey);
    return stored ? { key: storageKey, stored } : undefined;
  }
  const alternate = alternateKeyOf(info, key);
  return scope.tables.findByUniqueKey(info.set, alternate.name, Object.fromEntries(key.named));
}

/**
 * The declared alternate key whose columns are exactly the names of `key`; throws 400 (the
 * service's key-mismatch error) when there is none.
 */
export function alternateKeyOf(info: EntitySetInfo, key: KeyPredicate): UniqueKeyDefinition {
  const names = key.named.map(([name]) => name);
  const found = info.def.uniqueKeys?.find(
    (k) =>
      k.columns.length === names.length &&
      new Set(names).size === names.length &&
      k.columns.every((c) => names.includes(c)),
  );
  if (!found) throw dataverseErrors.keyMismatch(info.logicalName);
  return found;
}

/** The GUID of a primary-key predicate, or undefined for an alternate key. Throws 400 when malformed. */
export function primaryKeyOf(info: EntitySetInfo, key: KeyPredicate): string | undefined {
  let candidate: unknown;
  if (key.single !== undefined) candidate = key.single;
  else if (key.named.length === 1 && key.named[0]?.[0] === info.primaryKey)
    candidate = key.named[0][1];
  else if (key.named.length === 0) {
    throw dataverseErrors.badRequest(
      `Bad Request - Error in query syntax: '${info.set}()' names no key.`,
    );
  } else return undefined;
  if (typeof candidate !== "string" || !GUID.test(candidate)) {
    throw dataverseErrors.badRequest(
      `Bad Request - Error in query syntax: '${key.raw}' is not a valid key for '${info.set}'; use a GUID such as ${info.set}(00000000-0000-0000-0000-000000000001) or an alternate key such as ${info.set}(name='value').`,
    );
  }
  return candidate.toLowerCase();
}

/** A 404 for a key predicate that matched nothing. */
export function notFound(info: EntitySetInfo, key: KeyPredicate): Error {
  const id = primaryKeyOf(info, key);
  return id !== undefined
    ? dataverseErrors.rowNotFound(info.logicalName, id)
    : dataverseErrors.rowNotFoundByKey(info.logicalName);
}

/** URL of a row: `<serviceRoot>/accounts(<id>)`. */
export function entityUrl(scope: DataverseScope, info: EntitySetInfo, row: Readonly<Row>): string {
  return `${scope.serviceRoot}/${info.set}(${asText(row[info.primaryKey])})`;
}

/**
 * Turns a create/update payload into columns. `<nav>@odata.bind` values must name an existing row
 * of the lookup's target set (`/cdm_companies(<id>)`, an absolute URL, or `$<Content-ID>`);
 * `null` clears the lookup. Other annotations are ignored; `_x_value` columns, deep inserts and
 * (on a table with declared columns) unknown columns are refused as the real service refuses them.
 */
export function payloadToColumns(
  scope: DataverseScope,
  info: EntitySetInfo,
  payload: Readonly<Record<string, unknown>>,
): Row {
  const columns: Row = {};
  const lookups = info.def.lookups ?? {};
  for (const [name, value] of Object.entries(payload)) {
    if (name.endsWith("@odata.bind")) {
      const nav = name.slice(0, -"@odata.bind".length);
      const lookup = lookups[nav];
      if (!lookup) throw dataverseErrors.undeclaredNavigation(info.set, nav);
      columns[lookup.column] =
        value === null ? null : resolveBinding(scope, nav, lookup.targetSet, value);
      continue;
    }
    if (name.includes("@")) continue; // `@odata.type`, `x@OData.Community.Display.V1.FormattedValue`, …
    if (/^_.+_value$/.test(name) && Object.values(lookups).some((l) => l.column === name)) {
      throw dataverseErrors.badRequest(
        `Invalid property '${name}' was found in entity 'Microsoft.Dynamics.CRM.${info.logicalName}'. Set a lookup with '${name.slice(1, -6)}@odata.bind'.`,
      );
    }
    if (lookups[name] && value !== null && typeof value === "object") {
      throw dataverseErrors.badRequest(
        `Deep insert through '${name}' is not supported by the emulator; create the related row first and set '${name}@odata.bind'.`,
      );
    }
    checkPayloadProperty(info, name, value);
    columns[name] = value;
  }
  return columns;
}

/** Resolves an `@odata.bind` reference to the primary key of an existing target row. */
function resolveBinding(
  scope: DataverseScope,
  nav: string,
  targetSet: string,
  value: unknown,
): string {
  if (typeof value !== "string") {
    throw dataverseErrors.badRequest(
      `The value of '${nav}@odata.bind' must be a string such as '/${targetSet}(<id>)'.`,
    );
  }
  let reference = value.trim();
  const contentId = /^\$([A-Za-z0-9_.-]+)$/.exec(reference);
  if (contentId) {
    const url = scope.references.get(contentId[1] as string);
    if (!url)
      throw dataverseErrors.badRequest(
        `'${nav}@odata.bind' refers to Content-ID '${reference}', which no earlier request of the change set has.`,
      );
    reference = url;
  }
  // Accept `/accounts(…)`, `accounts(…)`, and absolute or rooted URLs ending in the service path.
  reference = reference
    .replace(/^https?:\/\/[^/]+/i, "")
    .replace(/^.*\/api\/data\/v9\.\d\//, "")
    .replace(/^\//, "");
  let path;
  try {
    path = parseResourcePath(reference);
  } catch (e) {
    if (e instanceof ResourcePathError)
      throw dataverseErrors.badRequest(`'${nav}@odata.bind': ${e.message}`);
    throw e;
  }
  const target = entitySetInfo(scope.tables, path.head);
  if (!path.key || path.rest.length > 0) {
    throw dataverseErrors.badRequest(
      `'${nav}@odata.bind' must name one row, such as '/${targetSet}(<id>)'; got '${value}'.`,
    );
  }
  if (!target) throw dataverseErrors.resourceNotFound(path.head);
  if (target.set !== targetSet) {
    throw dataverseErrors.badRequest(
      `'${nav}@odata.bind' must point at '${targetSet}', not '${target.set}'.`,
    );
  }
  const found = findRow(scope, target, path.key);
  if (!found) throw notFound(target, path.key);
  return asText(found.stored.row[target.primaryKey]).toLowerCase();
}

/** How a row is shaped for a response. */
export interface FormatOptions {
  readonly select?: readonly string[];
  readonly expand?: readonly ExpandItem[];
  /** Value of `Prefer: odata.include-annotations`. */
  readonly annotations?: string;
}

const LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname";
const ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty";

/** Checks that every `$expand` item is a single-valued navigation property of the table. */
export function checkExpand(info: EntitySetInfo, expand: readonly ExpandItem[]): void {
  for (const item of expand) {
    if (!info.def.lookups?.[item.property]) {
      throw dataverseErrors.badRequest(
        `Could not find a property named '${item.property}' on type 'Microsoft.Dynamics.CRM.${info.logicalName}'. The emulator expands single-valued navigation properties only: ${Object.keys(info.def.lookups ?? {}).join(", ") || "(none on this table)"}.`,
      );
    }
  }
}

/** The response entity for a stored row. */
export function formatRow(
  scope: DataverseScope,
  info: EntitySetInfo,
  stored: StoredRow,
  options: FormatOptions = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { "@odata.etag": weakEtag(stored.version) };
  // The primary key always comes back, whatever `$select` says.
  Object.assign(out, selectColumns(stored.row, options.select, [info.primaryKey]));
  for (const [nav, lookup] of Object.entries(info.def.lookups ?? {})) {
    const value = out[lookup.column];
    if (value === undefined || value === null) continue;
    if (wantsAnnotation(options.annotations, LOOKUP_LOGICAL_NAME)) {
      const target = entitySetInfo(scope.tables, lookup.targetSet);
      out[`${lookup.column}@${LOOKUP_LOGICAL_NAME}`] = target?.logicalName ?? lookup.targetSet;
    }
    if (wantsAnnotation(options.annotations, ASSOCIATED_NAV))
      out[`${lookup.column}@${ASSOCIATED_NAV}`] = nav;
  }
  for (const item of options.expand ?? []) {
    const lookup = info.def.lookups?.[item.property];
    if (!lookup) continue;
    const target = entitySetInfo(scope.tables, lookup.targetSet);
    const related = target ? relatedRow(scope, target, stored.row[lookup.column]) : undefined;
    out[item.property] =
      related && target
        ? formatRow(scope, target, related, item.select ? { select: item.select } : {})
        : null;
  }
  return out;
}

function relatedRow(
  scope: DataverseScope,
  target: EntitySetInfo,
  id: unknown,
): StoredRow | undefined {
  if (typeof id !== "string" || !GUID.test(id)) return undefined;
  return scope.tables.get(target.set, primaryStorageKey(scope, target, id));
}

/**
 * Reads properties of a row for `$filter`/`$orderby`: columns directly, and one navigation step
 * through a lookup (`msdyn_company/cdm_companycode`).
 */
export function rowResolver(
  scope: DataverseScope,
  info: EntitySetInfo,
): (stored: StoredRow) => PropertyResolver {
  return (stored) => (path) => {
    if (path.length === 1) return stored.row[path[0] as string];
    const lookup = info.def.lookups?.[path[0] as string];
    if (path.length !== 2 || !lookup) return undefined;
    const target = entitySetInfo(scope.tables, lookup.targetSet);
    const related = target ? relatedRow(scope, target, stored.row[lookup.column]) : undefined;
    return related?.row[path[1] as string];
  };
}

/** `@odata.context` for a set (`#accounts` or `#accounts(name,accountid)`), with `/$entity` for one row. */
export function contextUrl(
  scope: DataverseScope,
  info: EntitySetInfo,
  select: readonly string[] | undefined,
  single: boolean,
): string {
  const projection = select && !select.includes("*") ? `(${select.join(",")})` : "";
  return `${scope.serviceRoot}/$metadata#${info.set}${projection}${single ? "/$entity" : ""}`;
}
