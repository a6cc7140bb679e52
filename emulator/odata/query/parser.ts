/**
 * Recursive-descent parsers for the OData system query options the emulator supports:
 * `$filter`, `$orderby`, `$select` and `$expand`. The grammar, lowest precedence first:
 *
 * ```
 * filter     = or
 * or         = and *( "or" and )
 * and        = unary *( "and" unary )
 * unary      = "not" unary / comparison
 * comparison = operand [ ("eq"/"ne"/"gt"/"ge"/"lt"/"le") operand ]
 * operand    = "(" or ")" / function "(" [ or *( "," or ) ] ")" / literal / identifier
 * orderby    = item *( "," item ) ; item = identifier [ "asc" / "desc" ]
 * select     = identifier *( "," identifier )
 * expand     = nav [ "(" option *( ";" option ) ")" ] *( "," ... ) ; option = $select=… / $filter=…
 * ```
 */
import {
  AndNode,
  ComparisonNode,
  type ComparisonOperator,
  FILTER_FUNCTIONS,
  type FilterFunctionName,
  type FilterNode,
  FunctionNode,
  IdentifierNode,
  LiteralNode,
  NotNode,
  OrNode,
  WildcardNode,
} from "./nodes";
import { QuerySyntaxError, type Token, tokenize } from "./lexer";

/** Parser switches that differ between the two services. */
export interface FilterParseOptions {
  /** F&O: `eq '*x*'` is a wildcard match. @default false */
  readonly wildcards?: boolean;
}

const COMPARISON = new Set<string>(["eq", "ne", "gt", "ge", "lt", "le"]);
const BOOLEAN_FUNCTIONS = new Set<string>(["contains", "startswith", "endswith"]);

/** Parses a `$filter` expression. Throws {@link QuerySyntaxError} with the failing position. */
export function parseFilter(text: string, options: FilterParseOptions = {}): FilterNode {
  const parser = new FilterParser(text, tokenize(text), options);
  const node = parser.parseOr();
  parser.expectEnd();
  if (!isPredicate(node)) {
    throw new QuerySyntaxError(
      text,
      0,
      "The $filter expression must evaluate to a single boolean value.",
    );
  }
  return node;
}

function isPredicate(node: FilterNode): boolean {
  if (node instanceof LiteralNode) return node.kind === "boolean";
  if (node instanceof FunctionNode) return BOOLEAN_FUNCTIONS.has(node.name);
  return !(node instanceof IdentifierNode);
}

class FilterParser {
  private index = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: readonly Token[],
    private readonly options: FilterParseOptions,
  ) {}

  parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.isKeyword("or")) {
      this.index++;
      left = new OrNode(left, this.parseAnd());
    }
    return left;
  }

  expectEnd(): void {
    const t = this.peek();
    if (t.kind !== "end") this.fail(t, `Unexpected '${t.value}'.`);
  }

  private parseAnd(): FilterNode {
    let left = this.parseUnary();
    while (this.isKeyword("and")) {
      this.index++;
      left = new AndNode(left, this.parseUnary());
    }
    return left;
  }

  private parseUnary(): FilterNode {
    if (this.isKeyword("not")) {
      this.index++;
      return new NotNode(this.parseUnary());
    }
    return this.parseComparison();
  }

  private parseComparison(): FilterNode {
    const left = this.parseOperand();
    const t = this.peek();
    if (t.kind === "identifier" && COMPARISON.has(t.value)) {
      this.index++;
      const operator = t.value as ComparisonOperator;
      const right = this.parseOperand();
      if (
        this.options.wildcards &&
        (operator === "eq" || operator === "ne") &&
        right instanceof LiteralNode &&
        right.kind === "string" &&
        String(right.value).includes("*")
      ) {
        return new WildcardNode(operator === "ne", left, String(right.value));
      }
      return new ComparisonNode(operator, left, right);
    }
    if (t.kind === "identifier" && (t.value === "has" || t.value === "in")) {
      this.fail(t, `The '${t.value}' operator is not supported.`);
    }
    return left;
  }

  private parseOperand(): FilterNode {
    const t = this.next();
    switch (t.kind) {
      case "openParen": {
        const inner = this.parseOr();
        this.expect("closeParen", "')' expected.");
        return inner;
      }
      case "string":
        return new LiteralNode("string", t.value);
      case "number":
        return new LiteralNode("number", Number(t.value));
      case "guid":
        return new LiteralNode("guid", t.value);
      case "datetime":
        return new LiteralNode("datetime", t.value);
      case "enum":
        return new LiteralNode("enum", t.value, t.enumType);
      case "identifier":
        return this.parseIdentifierOrCall(t);
      default:
        return this.fail(t, t.kind === "end" ? "Expression expected." : `Unexpected '${t.value}'.`);
    }
  }

  private parseIdentifierOrCall(t: Token): FilterNode {
    if (t.value === "true" || t.value === "false")
      return new LiteralNode("boolean", t.value === "true");
    if (t.value === "null") return new LiteralNode("null", null);
    if (COMPARISON.has(t.value) || t.value === "and" || t.value === "or") {
      return this.fail(t, "Expression expected.");
    }
    if (this.peek().kind !== "openParen") return new IdentifierNode(t.value);
    const name = t.value.toLowerCase();
    if (!(name in FILTER_FUNCTIONS)) {
      return this.fail(t, `Unknown function '${t.value}'.`);
    }
    this.index++; // "("
    const args: FilterNode[] = [];
    if (this.peek().kind !== "closeParen") {
      args.push(this.parseOr());
      while (this.peek().kind === "comma") {
        this.index++;
        args.push(this.parseOr());
      }
    }
    const close = this.expect("closeParen", "')' or ',' expected.");
    const arity = FILTER_FUNCTIONS[name as FilterFunctionName];
    if (args.length !== arity) {
      this.fail(close, `The function '${name}' takes ${arity} argument(s), not ${args.length}.`);
    }
    return new FunctionNode(name as FilterFunctionName, args);
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === "identifier" && t.value === word;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== "end") this.index++;
    return t;
  }

  private expect(kind: Token["kind"], detail: string): Token {
    const t = this.next();
    if (t.kind !== kind) this.fail(t, detail);
    return t;
  }

  private fail(t: Token, detail: string): never {
    throw new QuerySyntaxError(this.text, t.position, detail);
  }
}

/** One `$orderby` item. */
export interface OrderByItem {
  readonly property: string;
  readonly descending: boolean;
}

/** Parses `$orderby`: `name asc, createdon desc`. */
export function parseOrderBy(text: string): OrderByItem[] {
  const tokens = tokenize(text);
  const items: OrderByItem[] = [];
  let i = 0;
  for (;;) {
    const t = tokens[i++] as Token;
    if (t.kind !== "identifier")
      throw new QuerySyntaxError(text, t.position, "Property name expected.");
    let descending = false;
    const dir = tokens[i] as Token;
    if (dir.kind === "identifier" && (dir.value === "asc" || dir.value === "desc")) {
      descending = dir.value === "desc";
      i++;
    }
    items.push({ property: t.value, descending });
    const sep = tokens[i++] as Token;
    if (sep.kind === "end") return items;
    if (sep.kind !== "comma") throw new QuerySyntaxError(text, sep.position, "',' expected.");
  }
}

/** Parses `$select`: a comma-separated list of property names. */
export function parseSelect(text: string): string[] {
  const names: string[] = [];
  let position = 0;
  for (const raw of text.split(",")) {
    const name = raw.trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && name !== "*") {
      throw new QuerySyntaxError(
        text,
        position + raw.indexOf(name.charAt(0) || " "),
        "Property name expected.",
      );
    }
    names.push(name);
    position += raw.length + 1;
  }
  return names;
}

/** One `$expand` item: a single-valued navigation property and its nested options. */
export interface ExpandItem {
  readonly property: string;
  readonly select?: readonly string[];
}

/** Parses `$expand`: `msdyn_company($select=cdm_companycode),owningbusinessunit`. */
export function parseExpand(text: string): ExpandItem[] {
  const items: ExpandItem[] = [];
  let i = 0;
  const skipSpaces = (): void => {
    while (text[i] === " ") i++;
  };
  for (;;) {
    skipSpaces();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (!m) throw new QuerySyntaxError(text, i, "Navigation property name expected.");
    const property = m[0];
    i += property.length;
    skipSpaces();
    let select: string[] | undefined;
    if (text[i] === "(") {
      const close = text.indexOf(")", i);
      if (close < 0) throw new QuerySyntaxError(text, text.length, "')' expected.");
      const optionsStart = i + 1;
      for (const option of text.slice(optionsStart, close).split(";")) {
        const eq = option.indexOf("=");
        const name = option.slice(0, eq).trim();
        if (eq < 0 || name !== "$select") {
          throw new QuerySyntaxError(
            text,
            optionsStart + text.slice(optionsStart, close).indexOf(option),
            `Only $select is supported inside $expand; got '${option}'.`,
          );
        }
        select = parseSelect(option.slice(eq + 1));
      }
      i = close + 1;
    }
    items.push(select ? { property, select } : { property });
    skipSpaces();
    if (i >= text.length) return items;
    if (text[i] !== ",") throw new QuerySyntaxError(text, i, "',' expected.");
    i++;
  }
}
