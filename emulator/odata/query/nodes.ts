/**
 * AST nodes of an OData `$filter` expression. Each node evaluates itself against a row (through a
 * {@link PropertyResolver}) and prints itself as an S-expression, so that parser tests can compare
 * text: `name eq 'x' and revenue gt 5` → `(and (eq (id name) "x") (gt (id revenue) 5))`.
 *
 * Comparison semantics follow what SQL Server gives Dataverse and F&O: strings compare without
 * regard to case, GUIDs are compared in lower case, `null` equals only `null`, and an ordering
 * comparison with `null` on either side is false.
 */

/** Reads a (possibly navigated) property of the row being evaluated; undefined when absent. */
export type PropertyResolver = (path: readonly string[]) => unknown;

/** A node of a filter expression. */
export interface FilterNode {
  /** The node's value for one row (a boolean for predicates). */
  evaluate(get: PropertyResolver): unknown;
  /** S-expression form, for tests and error messages. */
  toString(): string;
}

/** A property reference: `name`, `_msdyn_company_value`, `msdyn_company/cdm_companycode`. */
export class IdentifierNode implements FilterNode {
  readonly path: readonly string[];
  constructor(readonly name: string) {
    this.path = name.split("/");
  }
  evaluate(get: PropertyResolver): unknown {
    return get(this.path);
  }
  toString(): string {
    return `(id ${this.name})`;
  }
}

/** Kinds of literal; they change how a value prints and compares. */
export type LiteralKind = "string" | "number" | "boolean" | "null" | "guid" | "datetime" | "enum";

/** A constant: `'text'`, `42`, `true`, `null`, a GUID, a date-time, an enum member. */
export class LiteralNode implements FilterNode {
  constructor(
    readonly kind: LiteralKind,
    readonly value: string | number | boolean | null,
    /** Enum literals: the qualified type name the member was written with. */
    readonly enumType?: string,
  ) {}
  evaluate(): unknown {
    return this.value;
  }
  toString(): string {
    switch (this.kind) {
      case "string":
        return JSON.stringify(this.value);
      case "guid":
        return `(guid ${String(this.value)})`;
      case "datetime":
        return `(datetime ${String(this.value)})`;
      case "enum":
        return `(enum ${JSON.stringify(this.value)})`;
      default:
        return String(this.value);
    }
  }
}

/** Comparison operators of OData v4. */
export type ComparisonOperator = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

/** `left <op> right`, e.g. `revenue gt 100`. */
export class ComparisonNode implements FilterNode {
  constructor(
    readonly operator: ComparisonOperator,
    readonly left: FilterNode,
    readonly right: FilterNode,
  ) {}
  evaluate(get: PropertyResolver): boolean {
    const a = this.left.evaluate(get);
    const b = this.right.evaluate(get);
    if (this.operator === "eq") return equals(a, b);
    if (this.operator === "ne") return !equals(a, b);
    const order = compareValues(a, b);
    if (order === undefined) return false;
    switch (this.operator) {
      case "gt":
        return order > 0;
      case "ge":
        return order >= 0;
      case "lt":
        return order < 0;
      default:
        return order <= 0;
    }
  }
  toString(): string {
    return `(${this.operator} ${this.left.toString()} ${this.right.toString()})`;
  }
}

/**
 * F&O's wildcard equality: `Name eq '*contoso*'` matches like SQL `LIKE '%contoso%'`. Only the
 * F&O surface asks the parser for it; on Dataverse `*` is an ordinary character.
 */
export class WildcardNode implements FilterNode {
  private readonly regex: RegExp;
  constructor(
    readonly negated: boolean,
    readonly left: FilterNode,
    readonly pattern: string,
  ) {
    const escaped = pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    this.regex = new RegExp(`^${escaped}$`, "is");
  }
  evaluate(get: PropertyResolver): boolean {
    const v = this.left.evaluate(get);
    const matches = v !== null && v !== undefined && this.regex.test(asText(v));
    return this.negated ? !matches : matches;
  }
  toString(): string {
    return `(${this.negated ? "notlike" : "like"} ${this.left.toString()} ${JSON.stringify(this.pattern)})`;
  }
}

/** `left and right`. */
export class AndNode implements FilterNode {
  constructor(
    readonly left: FilterNode,
    readonly right: FilterNode,
  ) {}
  evaluate(get: PropertyResolver): boolean {
    return this.left.evaluate(get) === true && this.right.evaluate(get) === true;
  }
  toString(): string {
    return `(and ${this.left.toString()} ${this.right.toString()})`;
  }
}

/** `left or right`. */
export class OrNode implements FilterNode {
  constructor(
    readonly left: FilterNode,
    readonly right: FilterNode,
  ) {}
  evaluate(get: PropertyResolver): boolean {
    return this.left.evaluate(get) === true || this.right.evaluate(get) === true;
  }
  toString(): string {
    return `(or ${this.left.toString()} ${this.right.toString()})`;
  }
}

/** `not operand`. */
export class NotNode implements FilterNode {
  constructor(readonly operand: FilterNode) {}
  evaluate(get: PropertyResolver): boolean {
    return this.operand.evaluate(get) !== true;
  }
  toString(): string {
    return `(not ${this.operand.toString()})`;
  }
}

/** Canonical functions the emulator evaluates, with their arity. */
export const FILTER_FUNCTIONS = {
  contains: 2,
  startswith: 2,
  endswith: 2,
  tolower: 1,
  toupper: 1,
  trim: 1,
  length: 1,
} as const;

/** Name of a supported canonical function. */
export type FilterFunctionName = keyof typeof FILTER_FUNCTIONS;

/** A canonical function call: `contains(name,'x')`, `tolower(name)`. */
export class FunctionNode implements FilterNode {
  constructor(
    readonly name: FilterFunctionName,
    readonly args: readonly FilterNode[],
  ) {}
  evaluate(get: PropertyResolver): unknown {
    const values = this.args.map((a) => a.evaluate(get));
    const [a, b] = values;
    if (values.some((v) => v === null || v === undefined)) {
      return this.name === "contains" || this.name === "startswith" || this.name === "endswith"
        ? false
        : null;
    }
    switch (this.name) {
      case "contains":
        return asText(a).toLowerCase().includes(asText(b).toLowerCase());
      case "startswith":
        return asText(a).toLowerCase().startsWith(asText(b).toLowerCase());
      case "endswith":
        return asText(a).toLowerCase().endsWith(asText(b).toLowerCase());
      case "tolower":
        return asText(a).toLowerCase();
      case "toupper":
        return asText(a).toUpperCase();
      case "trim":
        return asText(a).trim();
      case "length":
        return asText(a).length;
    }
  }
  toString(): string {
    return `(${this.name} ${this.args.map((a) => a.toString()).join(" ")})`;
  }
}

function asText(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/;

/** OData equality with SQL-like string semantics (case-insensitive), `null` equal to `null`. */
export function equals(a: unknown, b: unknown): boolean {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull && bNull;
  return compareValues(a, b) === 0;
}

/**
 * Orders two values: numbers numerically, date-times by instant, booleans false < true, every
 * other value as case-insensitive text. Undefined when either side is null (no ordering).
 * Also used by `$orderby`, which sorts nulls first before calling this.
 */
export function compareValues(a: unknown, b: unknown): number | undefined {
  if (a === null || a === undefined || b === null || b === undefined) return undefined;
  if (typeof a === "number" && typeof b === "number") return Math.sign(a - b);
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b);
  if (typeof a === "number" || typeof b === "number") {
    const x = Number(a);
    const y = Number(b);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return Math.sign(x - y);
  }
  const sa = asText(a);
  const sb = asText(b);
  if (DATE_TEXT.test(sa) && DATE_TEXT.test(sb) && !GUID_TEXT.test(sa)) {
    const ta = Date.parse(sa);
    const tb = Date.parse(sb);
    if (!Number.isNaN(ta) && !Number.isNaN(tb)) return Math.sign(ta - tb);
  }
  const la = sa.toLowerCase();
  const lb = sb.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/**
 * Every property a filter expression reads, in order of appearance (so that a surface can refuse
 * properties its type lacks before evaluating anything).
 */
export function propertyReferences(node: FilterNode): IdentifierNode[] {
  if (node instanceof IdentifierNode) return [node];
  if (node instanceof ComparisonNode || node instanceof AndNode || node instanceof OrNode)
    return [...propertyReferences(node.left), ...propertyReferences(node.right)];
  if (node instanceof WildcardNode) return propertyReferences(node.left);
  if (node instanceof NotNode) return propertyReferences(node.operand);
  if (node instanceof FunctionNode) return node.args.flatMap((a) => propertyReferences(a));
  return [];
}
