/**
 * Counting the dual-write runtime's virtual rows (`runtime/virtualRows.ts`): rows a table is said to
 * hold beyond the stored ones, so the data-volume rules can be tested without storing them. They
 * can only be counted, so a count includes them when its filter can be answered for them: no
 * filter (the whole table, or the default company on F&O), or a single company equality
 * (`dataAreaId eq 'usmf'` on F&O, `_msdyn_company_value eq <id>` on Dataverse).
 */
import { virtualRowCount } from "../runtime/virtualRows";
import type { TableSet } from "../store/tables";
import { asText } from "./protocol";
import {
  AndNode,
  ComparisonNode,
  type FilterNode,
  IdentifierNode,
  LiteralNode,
} from "./query/nodes";

/**
 * The value of `<column> eq <literal>` when `filter` is that comparison, or an `and` of terms one
 * of which is (column name ignores case). Virtual rows have no other columns, so the other terms
 * are taken as matching: a count such as `dataAreaId eq 'usmf' and PartyType eq 'Organization'`
 * (what the provider asks before an initial sync) sees the company's virtual rows.
 */
export function equalityValue(filter: FilterNode | undefined, column: string): string | undefined {
  if (filter instanceof AndNode) {
    return equalityValue(filter.left, column) ?? equalityValue(filter.right, column);
  }
  if (!(filter instanceof ComparisonNode) || filter.operator !== "eq") return undefined;
  const { left, right } = filter;
  if (!(left instanceof IdentifierNode) || left.name.toLowerCase() !== column.toLowerCase())
    return undefined;
  if (!(right instanceof LiteralNode) || (right.kind !== "string" && right.kind !== "guid"))
    return undefined;
  return String(right.value);
}

/**
 * Virtual rows an F&O count adds. `company` scope: the default company unless cross-company; a
 * `dataAreaId eq '<c>'` filter (alone or and-ed with other terms) narrows to that company; any
 * other filter counts none.
 */
export function fnoVirtualRows(
  tables: TableSet,
  set: string,
  options: {
    companySpecific: boolean;
    crossCompany: boolean;
    defaultCompany: string;
    filter?: FilterNode;
  },
): number {
  if (!options.companySpecific) return options.filter ? 0 : virtualRowCount(tables, set);
  if (!options.filter) {
    return options.crossCompany
      ? virtualRowCount(tables, set)
      : virtualRowCount(tables, set, options.defaultCompany);
  }
  const company = equalityValue(options.filter, "dataAreaId");
  if (company === undefined) return 0;
  if (!options.crossCompany && company.toLowerCase() !== options.defaultCompany.toLowerCase())
    return 0;
  return virtualRowCount(tables, set, company);
}

/**
 * Virtual rows a Dataverse count adds: all of them without a filter; those of one company for
 * `_<lookup>_value eq <cdm_companyid>` where the lookup points at `cdm_companies`.
 */
export function dataverseVirtualRows(
  tables: TableSet,
  set: string,
  companyLookupColumns: readonly string[],
  filter?: FilterNode,
): number {
  if (!filter) return virtualRowCount(tables, set);
  for (const column of companyLookupColumns) {
    const id = equalityValue(filter, column);
    if (id === undefined) continue;
    const company = tables.definition("cdm_companies")
      ? tables
          .all("cdm_companies")
          .find((r) => asText(r.row["cdm_companyid"] ?? "").toLowerCase() === id.toLowerCase())
      : undefined;
    const code = company?.row["cdm_companycode"];
    return typeof code === "string" ? virtualRowCount(tables, set, code) : 0;
  }
  return 0;
}
