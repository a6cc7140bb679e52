/**
 * Lexer for OData v4 `$filter` and `$orderby` expressions: turns the text into tokens with their
 * positions, so that the parser can report "syntax error at position N" the way the real services
 * do (Microsoft.OData.Core counts characters from 0).
 *
 * Literal forms recognised: `'text'` (with `''` for a quote), integers and decimals (with a
 * leading `-`), `true`/`false`, `null`, unquoted GUIDs (`11111111-2222-3333-4444-555555555555`),
 * unquoted dates and date-times (`2024-01-31`, `2024-01-31T12:00:00Z`) and F&O enum literals
 * (`Microsoft.Dynamics.DataEntities.NoYes'Yes'`).
 */

/** Kinds of token the lexer produces. */
export type TokenKind =
  | "identifier"
  | "string"
  | "number"
  | "guid"
  | "datetime"
  | "enum"
  | "openParen"
  | "closeParen"
  | "comma"
  | "end";

/** One token and where it starts in the source text. */
export interface Token {
  readonly kind: TokenKind;
  /** The token's value: the unescaped text of a string, the raw text otherwise. */
  readonly value: string;
  /** 0-based character position of the token's first character. */
  readonly position: number;
  /** Enum literals: the qualified enum type name (`Microsoft.Dynamics.DataEntities.NoYes`). */
  readonly enumType?: string;
}

/** A query option that does not parse; `position` is 0-based, as the real services report it. */
export class QuerySyntaxError extends Error {
  constructor(
    readonly text: string,
    readonly position: number,
    readonly detail: string,
  ) {
    super(`Syntax error at position ${position} in '${text}'. ${detail}`);
    this.name = "QuerySyntaxError";
  }
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/;
const DATETIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/;
// Identifiers may carry a navigation path (`msdyn_company/cdm_companycode`) and dots (enum type
// names, `Microsoft.Dynamics.CRM.account`).
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_.]*(\/[A-Za-z_][A-Za-z0-9_.]*)*/;

/** Splits `text` into tokens; the last token is always `end`. Throws {@link QuerySyntaxError}. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    if (c === "(") {
      tokens.push({ kind: "openParen", value: c, position: i++ });
      continue;
    }
    if (c === ")") {
      tokens.push({ kind: "closeParen", value: c, position: i++ });
      continue;
    }
    if (c === ",") {
      tokens.push({ kind: "comma", value: c, position: i++ });
      continue;
    }
    if (c === "'") {
      const { value, next } = readString(text, i);
      tokens.push({ kind: "string", value, position: i });
      i = next;
      continue;
    }
    const rest = text.slice(i);
    // GUIDs and dates start with digits, so they are tried before numbers.
    const guid = GUID.exec(rest);
    if (guid && !/[0-9A-Za-z_]/.test(rest[guid[0].length] ?? "")) {
      tokens.push({ kind: "guid", value: guid[0].toLowerCase(), position: i });
      i += guid[0].length;
      continue;
    }
    const date = DATETIME.exec(rest);
    if (date && !/[0-9A-Za-z_]/.test(rest[date[0].length] ?? "")) {
      tokens.push({ kind: "datetime", value: date[0], position: i });
      i += date[0].length;
      continue;
    }
    const num = NUMBER.exec(rest);
    if (num) {
      // Type suffixes (`10L`, `1.5M`, `2.0d`) are accepted and dropped.
      let end = num[0].length;
      if (/[LlMmDdFf]/.test(rest[end] ?? "") && !/[0-9A-Za-z_]/.test(rest[end + 1] ?? "")) end++;
      if (/[A-Za-z_]/.test(rest[end] ?? "")) {
        throw new QuerySyntaxError(text, i + end, "A number is followed by letters.");
      }
      tokens.push({ kind: "number", value: num[0], position: i });
      i += end;
      continue;
    }
    const id = IDENTIFIER.exec(rest);
    if (id) {
      const name = id[0];
      // An enum literal is a qualified type name directly followed by a quoted member name.
      if (name.includes(".") && text[i + name.length] === "'") {
        const { value, next } = readString(text, i + name.length);
        tokens.push({ kind: "enum", value, position: i, enumType: name });
        i = next;
        continue;
      }
      tokens.push({ kind: "identifier", value: name, position: i });
      i += name.length;
      continue;
    }
    throw new QuerySyntaxError(text, i, `Unexpected character '${c}'.`);
  }
  tokens.push({ kind: "end", value: "", position: text.length });
  return tokens;
}

/** Reads a quoted string starting at `start` (the opening quote); `''` stands for one quote. */
function readString(text: string, start: number): { value: string; next: number } {
  let value = "";
  let i = start + 1;
  for (;;) {
    if (i >= text.length) throw new QuerySyntaxError(text, start, "Unterminated string literal.");
    const c = text[i] as string;
    if (c === "'") {
      if (text[i + 1] === "'") {
        value += "'";
        i += 2;
        continue;
      }
      return { value, next: i + 1 };
    }
    value += c;
    i++;
  }
}
