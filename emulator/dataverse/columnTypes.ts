/**
 * Strict column types and choices on the tables whose columns `tableSchemas.ts` declares:
 *
 * | where | check | answer |
 * |---|---|---|
 * | `$filter` | a column compared with a literal of another type (`customertypecode eq '3'`, `name eq 3`, `_msdyn_company_value eq '<guid>'`) | 400 `0x0` "A binary operator with incompatible types was detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'." |
 * | body | a value of the wrong JSON type (`"customertypecode": "3"`, `"name": 3`) | 400 `0x0` "An error occurred while validating input parameters: Microsoft.OData.ODataException: Cannot convert the literal '3' to the expected type 'Edm.Int32'." |
 * | body | a choice value the column does not have (`"customertypecode": 99`) | 400 `0x8004431A` "A validation error occurred. The value 99 of 'customertypecode' on record of type 'account' is outside the valid range. Accepted Values: 1,2,…" |
 *
 * Sources: the Edm type of each column type is the Web API's (`Picklist`/`State`/`Status` →
 * `Edm.Int32`, `Money` → `Edm.Decimal`, lookups → `Edm.Guid`; "Web API types and operations",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-types-operations);
 * the binder and reader messages are Microsoft.OData's; `PicklistValueOutOfRange` is in the "Web
 * service error codes" reference. A `$filter` compares choices by number: an option value the
 * column lacks simply matches no row, as in Dataverse. Columns of lenient tables, and `null`,
 * are never checked.
 */
import type { FilterNode } from "../odata/query/nodes";
import {
  comparable,
  incompatibleOperandsMessage,
  literalType,
  propertyComparisons,
} from "../odata/query/types";
import { dataverseErrors } from "./errors";
import type { EntitySetInfo } from "./rows";
import { type ColumnSpec, type ColumnType, tableSchema } from "./tableSchemas";

/** The Edm type the Web API gives each column type. */
export const EDM_TYPE_OF: Readonly<Record<ColumnType, string>> = {
  Uniqueidentifier: "Edm.Guid",
  String: "Edm.String",
  Memo: "Edm.String",
  Integer: "Edm.Int32",
  BigInt: "Edm.Int64",
  Decimal: "Edm.Decimal",
  Double: "Edm.Double",
  Money: "Edm.Decimal",
  Boolean: "Edm.Boolean",
  DateTime: "Edm.DateTimeOffset",
  Picklist: "Edm.Int32",
  State: "Edm.Int32",
  Status: "Edm.Int32",
  Lookup: "Edm.Guid",
  Owner: "Edm.Guid",
};

/** The declared column a `$filter` path reads (`name`, or `msdyn_company/cdm_companycode`). */
function columnAt(info: EntitySetInfo, path: readonly string[]): ColumnSpec | undefined {
  const [first, second] = path;
  if (first === undefined) return undefined;
  if (path.length === 1) return tableSchema(info.set)?.columns?.[first];
  const lookup = info.def.lookups?.[first];
  if (!lookup || second === undefined || path.length > 2) return undefined;
  return tableSchema(lookup.targetSet)?.columns?.[second];
}

/** Throws 400 for the first comparison of a declared column with a literal of another type. */
export function checkFilterTypes(info: EntitySetInfo, filter: FilterNode | undefined): void {
  if (!filter) return;
  for (const comparison of propertyComparisons(filter)) {
    const column = columnAt(info, comparison.property.path);
    const given = literalType(comparison.literal);
    if (!column || given === undefined) continue;
    const expected = EDM_TYPE_OF[column.type];
    if (!comparable(expected, given))
      throw dataverseErrors.incompatibleOperands(
        incompatibleOperandsMessage(comparison, expected, given),
      );
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** Whether a JSON value can be read as a value of `type` (null always can). */
function readable(type: ColumnType, value: unknown): boolean {
  if (value === null) return true;
  switch (type) {
    case "String":
    case "Memo":
      return typeof value === "string";
    case "Uniqueidentifier":
    case "Lookup":
    case "Owner":
      return typeof value === "string" && GUID.test(value);
    case "Integer":
    case "Picklist":
    case "State":
    case "Status":
      return typeof value === "number" && Number.isInteger(value) && Math.abs(value) < 2 ** 31;
    case "BigInt":
      // Edm.Int64 may come as a JSON number or, IEEE754-compatible, as a string of digits.
      return (
        (typeof value === "number" && Number.isInteger(value)) ||
        (typeof value === "string" && /^-?\d+$/.test(value))
      );
    case "Decimal":
    case "Double":
    case "Money":
      return typeof value === "number" && Number.isFinite(value);
    case "Boolean":
      return typeof value === "boolean";
    case "DateTime":
      return typeof value === "string" && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
  }
}

/** Throws 400 when a body sets a declared column to a value of the wrong type or choice. */
export function checkPayloadValue(info: EntitySetInfo, name: string, value: unknown): void {
  const column = tableSchema(info.set)?.columns?.[name];
  if (!column) return;
  if (!readable(column.type, value))
    throw dataverseErrors.cannotConvertValue(value, EDM_TYPE_OF[column.type]);
  if (column.options && typeof value === "number" && !column.options.includes(value))
    throw dataverseErrors.picklistOutOfRange(info.logicalName, name, value, column.options);
}
