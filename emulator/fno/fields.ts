/**
 * Strict fields on the F&O entities `entitySchemas.ts` declares. F&O's OData service reads query
 * options and bodies against the entity types of its `$metadata` with Microsoft.OData, so an
 * unknown (or wrongly cased) name, a value of the wrong type and an enum written as a plain
 * string are refused before any row is read:
 *
 * | where | check | answer (400, `{"error":{"code":"","message":…}}`) |
 * |---|---|---|
 * | `$select`, `$filter`, `$orderby` | the field exists | "Could not find a property named 'X' on type 'Microsoft.Dynamics.DataEntities.CustomerV3'." |
 * | `$filter` | an enum field is compared with the enum literal of its type (`PartyType eq Microsoft.Dynamics.DataEntities.DirPartyBaseType'Organization'`), only with `eq`/`ne` (odata.md § Using Enums) | "A binary operator with incompatible types was detected. Found operand types 'Microsoft.Dynamics.DataEntities.DirPartyBaseType' and 'Edm.String' for operator kind 'Equal'." |
 * | `$filter` | other fields are compared with literals of their type | the same message with the Edm types |
 * | `$filter`, body | an enum member exists | "The string 'X' is not a valid enumeration type constant." |
 * | body | the property exists | "The property 'X' does not exist on type '…'. Make sure to only use property names that are defined by the type." |
 * | body | the value has the field's type; enum fields take the member name (`"PartyType": "Organization"`) | "Cannot convert the literal 'X' to the expected type 'Edm.String'." |
 * | create | required fields are filled in | 500 `AxODataWriteException`, infolog "Field 'Customer group' must be filled in." |
 *
 * The messages are Microsoft.OData's (URI binder, payload reader); the envelope is the one of
 * F&O's other OData errors. Entities without a declared schema stay lenient.
 */
import type { FilterNode } from "../odata/query/nodes";
import { propertyReferences } from "../odata/query/nodes";
import type { OrderByItem } from "../odata/query/parser";
import {
  comparable,
  incompatibleOperandsMessage,
  literalType,
  propertyComparisons,
} from "../odata/query/types";
import { edmTypeName, FNO_ENUM_MEMBERS, type FnoField, fnoEntitySchema } from "./entitySchemas";
import { fnoErrors } from "./errors";

/** The declared field `name` of `set`; undefined when `set` is lenient. Throws 400 when unknown. */
function fieldOf(set: string, name: string): FnoField | undefined {
  const fields = fnoEntitySchema(set)?.fields;
  if (!fields) return undefined;
  const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
  if (!field) throw fnoErrors.propertyNotFound(set, name);
  return field;
}

/** Checks a property path of `$filter`/`$orderby` (F&O emulates no navigation properties). */
function checkPath(set: string, path: readonly string[]): FnoField | undefined {
  const [first, second] = path;
  if (first === undefined) return undefined;
  const field = fieldOf(set, first);
  // A structural property has no properties of its own.
  if (field && second !== undefined) throw fnoErrors.propertyNotFound(set, second);
  return field;
}

/** Throws 400 for the first comparison whose operand types F&O refuses. */
function checkComparisons(set: string, filter: FilterNode): void {
  for (const comparison of propertyComparisons(filter)) {
    if (comparison.property.path.length !== 1) continue;
    const field = checkPath(set, comparison.property.path);
    const given = literalType(comparison.literal);
    if (!field || given === undefined) continue;
    const expected = edmTypeName(field.type);
    if (!comparable(expected, given))
      throw fnoErrors.badRequest(incompatibleOperandsMessage(comparison, expected, given));
    if (field.type.kind !== "enum") continue;
    checkEnumMember(field.type.enumType, String(comparison.literal.value));
    if (comparison.operator !== "eq" && comparison.operator !== "ne")
      throw fnoErrors.enumOperatorNotSupported(comparison.property.name, comparison.operator);
  }
}

function checkEnumMember(enumType: string, member: string): void {
  const members = FNO_ENUM_MEMBERS[enumType];
  if (members && !members.includes(member)) throw fnoErrors.invalidEnumMember(member);
}

/** Checks `$select`, `$filter` (names and operand types) and `$orderby` of a read. */
export function checkQueryFields(
  set: string,
  query: {
    readonly select?: readonly string[];
    readonly filter?: FilterNode;
    readonly orderBy?: readonly OrderByItem[];
  },
): void {
  for (const name of query.select ?? []) if (name !== "*") fieldOf(set, name);
  if (query.filter) {
    for (const id of propertyReferences(query.filter)) checkPath(set, id.path);
    checkComparisons(set, query.filter);
  }
  for (const item of query.orderBy ?? []) checkPath(set, item.property.split("/"));
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Whether a JSON value can be read as a value of the field (null always can). */
function readable(field: FnoField, value: unknown): boolean {
  if (value === null) return true;
  switch (field.type.kind) {
    case "Edm.String":
    case "enum":
      return typeof value === "string";
    case "Edm.Int32":
      return typeof value === "number" && Number.isInteger(value) && Math.abs(value) < 2 ** 31;
    case "Edm.Int64":
      return (
        (typeof value === "number" && Number.isInteger(value)) ||
        (typeof value === "string" && /^-?\d+$/.test(value))
      );
    case "Edm.Decimal":
      return typeof value === "number" && Number.isFinite(value);
    case "Edm.DateTimeOffset":
      return typeof value === "string" && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
  }
}

/** Checks the properties of a request body (annotations such as `@odata.etag` are skipped). */
export function checkPayload(set: string, payload: Readonly<Record<string, unknown>>): void {
  const fields = fnoEntitySchema(set)?.fields;
  if (!fields) return;
  for (const [name, value] of Object.entries(payload)) {
    if (name.includes("@")) continue;
    const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
    if (!field) throw fnoErrors.payloadPropertyNotFound(set, name);
    if (!readable(field, value)) throw fnoErrors.cannotConvertValue(value, edmTypeName(field.type));
    if (field.type.kind === "enum" && typeof value === "string")
      checkEnumMember(field.type.enumType, value);
  }
}

/** Throws the infolog of the first required field a new row leaves empty. */
export function checkRequired(set: string, row: Readonly<Record<string, unknown>>): void {
  for (const [name, field] of Object.entries(fnoEntitySchema(set)?.fields ?? {})) {
    const v = row[name];
    if (field.requiredLabel !== undefined && (v === undefined || v === null || v === ""))
      throw fnoErrors.writeFailed(set, `Field '${field.requiredLabel}' must be filled in.`);
  }
}

/** The enum types of `$metadata`, with their members (where known). */
export function enumTypesXml(): string {
  return Object.entries(FNO_ENUM_MEMBERS)
    .map(
      ([name, members]) =>
        `<EnumType Name="${name}">${(members ?? [])
          .map((m, i) => `<Member Name="${m}" Value="${i}"/>`)
          .join("")}</EnumType>`,
    )
    .join("");
}

/** The `<Property>` elements of a declared entity type (empty when lenient). */
export function propertiesXml(set: string, keyFields: readonly string[]): string {
  const fields = fnoEntitySchema(set)?.fields;
  if (!fields) return "";
  return Object.entries(fields)
    .map(([name, field]) => {
      const nullable = keyFields.includes(name) ? ` Nullable="false"` : "";
      return `<Property Name="${name}" Type="${edmTypeName(field.type)}"${nullable}/>`;
    })
    .join("");
}
