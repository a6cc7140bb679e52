/**
 * Operand types of `$filter` comparisons, as Microsoft.OData binds them: each surface knows the
 * Edm type of its properties, this module knows the type of literals and which types OData lets a
 * comparison mix (numbers with numbers, `Edm.Date` with `Edm.DateTimeOffset`, otherwise the same
 * type only — a string literal is not promoted to an enum or a number). The surfaces turn a
 * mismatch into Microsoft.OData's message: "A binary operator with incompatible types was
 * detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'."
 */
import {
  ComparisonNode,
  type ComparisonOperator,
  type FilterNode,
  IdentifierNode,
  LiteralNode,
  WildcardNode,
  AndNode,
  OrNode,
  NotNode,
  FunctionNode,
} from "./nodes";

/** The operator kinds Microsoft.OData names in its messages. */
export const OPERATOR_KIND: Readonly<Record<ComparisonOperator, string>> = {
  eq: "Equal",
  ne: "NotEqual",
  gt: "GreaterThan",
  ge: "GreaterThanOrEqual",
  lt: "LessThan",
  le: "LessThanOrEqual",
};

/** A comparison of a property with a literal (`name eq 'x'`, `3 lt revenue`, `Name eq '*x*'`). */
export interface PropertyComparison {
  readonly operator: ComparisonOperator;
  readonly property: IdentifierNode;
  readonly literal: LiteralNode;
  /** Whether the property is the left operand (messages name the operands in order). */
  readonly propertyFirst: boolean;
}

/** Every comparison of a property with a literal in `filter`, in order of appearance. */
export function propertyComparisons(filter: FilterNode): PropertyComparison[] {
  if (filter instanceof ComparisonNode) {
    const { left, right, operator } = filter;
    if (left instanceof IdentifierNode && right instanceof LiteralNode)
      return [{ operator, property: left, literal: right, propertyFirst: true }];
    if (left instanceof LiteralNode && right instanceof IdentifierNode)
      return [{ operator, property: right, literal: left, propertyFirst: false }];
    return [...propertyComparisons(left), ...propertyComparisons(right)];
  }
  if (filter instanceof WildcardNode) {
    // F&O's `eq '*x*'` is an equality with a string literal as far as types go.
    return filter.left instanceof IdentifierNode
      ? [
          {
            operator: filter.negated ? "ne" : "eq",
            property: filter.left,
            literal: new LiteralNode("string", filter.pattern),
            propertyFirst: true,
          },
        ]
      : propertyComparisons(filter.left);
  }
  if (filter instanceof AndNode || filter instanceof OrNode)
    return [...propertyComparisons(filter.left), ...propertyComparisons(filter.right)];
  if (filter instanceof NotNode) return propertyComparisons(filter.operand);
  if (filter instanceof FunctionNode) return filter.args.flatMap((a) => propertyComparisons(a));
  return [];
}

/** The Edm type of a literal, or undefined for `null` (which compares with anything). */
export function literalType(literal: LiteralNode): string | undefined {
  switch (literal.kind) {
    case "null":
      return undefined;
    case "string":
      return "Edm.String";
    case "boolean":
      return "Edm.Boolean";
    case "guid":
      return "Edm.Guid";
    case "datetime":
      return String(literal.value).includes("T") ? "Edm.DateTimeOffset" : "Edm.Date";
    case "enum":
      return literal.enumType ?? "Edm.String";
    case "number": {
      const n = Number(literal.value);
      if (!Number.isInteger(n)) return "Edm.Decimal";
      return Math.abs(n) < 2 ** 31 ? "Edm.Int32" : "Edm.Int64";
    }
  }
}

const NUMERIC = new Set([
  "Edm.Byte",
  "Edm.SByte",
  "Edm.Int16",
  "Edm.Int32",
  "Edm.Int64",
  "Edm.Decimal",
  "Edm.Double",
  "Edm.Single",
]);
const TEMPORAL = new Set(["Edm.Date", "Edm.DateTimeOffset"]);

/** Whether a comparison may mix values of types `a` and `b` (OData's type promotion rules). */
export function comparable(a: string, b: string): boolean {
  if (a === b) return true;
  if (NUMERIC.has(a) && NUMERIC.has(b)) return true;
  return TEMPORAL.has(a) && TEMPORAL.has(b);
}

/** Microsoft.OData's message for a comparison of incompatible types. */
export function incompatibleOperandsMessage(
  comparison: PropertyComparison,
  propertyType: string,
  literalTypeName: string,
): string {
  const [left, right] = comparison.propertyFirst
    ? [propertyType, literalTypeName]
    : [literalTypeName, propertyType];
  return `A binary operator with incompatible types was detected. Found operand types '${left}' and '${right}' for operator kind '${OPERATOR_KIND[comparison.operator]}'.`;
}
