/**
 * Resource paths below a service root: `accounts`, `accounts(<guid>)`,
 * `accounts(accountnumber='A-1')`, `CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')`,
 * `accounts/$count`, `accounts/Microsoft.Dynamics.CRM.UpdateMultiple`, `WhoAmI()`.
 */

/** A literal inside a key predicate. */
export type KeyValue = string | number | boolean | null;

/** The parenthesised part of a segment: one unnamed value, or `name=value` pairs. */
export interface KeyPredicate {
  /** The text between the parentheses, as sent. */
  readonly raw: string;
  /** `accounts(<guid>)`, `Currencies('USD')`. */
  readonly single?: KeyValue;
  /** `CustomersV3(dataAreaId='usmf',CustomerAccount='US-001')`, in the order given. */
  readonly named: ReadonlyArray<readonly [string, KeyValue]>;
}

/** A parsed resource path. */
export interface ResourcePath {
  /** First segment without its key predicate: entity set, function or `$batch`. */
  readonly head: string;
  /** Key predicate of the first segment, if it had parentheses. */
  readonly key?: KeyPredicate;
  /** Segments after the first (`$count`, a property, a bound action). */
  readonly rest: readonly string[];
}

/** A key predicate or path that cannot be read; surfaces answer 400. */
export class ResourcePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ResourcePathError";
  }
}

/** Splits a path (already percent-decoded) into its head, key predicate and further segments. */
export function parseResourcePath(path: string): ResourcePath {
  const segments = splitSegments(path.replace(/^\/+/, "").replace(/\/+$/, ""));
  const first = segments[0] ?? "";
  const open = first.indexOf("(");
  if (open < 0) return { head: first, rest: segments.slice(1) };
  if (!first.endsWith(")")) {
    throw new ResourcePathError(
      `Bad Request - Error in query syntax: the segment '${first}' has unbalanced parentheses.`,
    );
  }
  const raw = first.slice(open + 1, -1);
  return { head: first.slice(0, open), key: parseKeyPredicate(raw), rest: segments.slice(1) };
}

/** Splits on `/` outside quotes, so `accounts(accountnumber='A/B')` stays one segment. */
function splitSegments(path: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const c of path) {
    if (c === "'") quoted = !quoted;
    if (c === "/" && !quoted) {
      out.push(current);
      current = "";
    } else current += c;
  }
  if (current !== "" || out.length > 0) out.push(current);
  return out;
}

/** Parses the text between a segment's parentheses. Empty text (a function call `()`) is allowed. */
export function parseKeyPredicate(raw: string): KeyPredicate {
  if (raw.trim() === "") return { raw, named: [] };
  const parts = splitOutsideQuotes(raw, ",");
  const named: Array<readonly [string, KeyValue]> = [];
  let single: KeyValue | undefined;
  for (const part of parts) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/s.exec(part);
    if (m && !/^'/.test(part.trim())) {
      named.push([m[1] as string, parseKeyLiteral(m[2] as string)]);
    } else {
      if (parts.length > 1) {
        throw new ResourcePathError(
          `Bad Request - Error in query syntax: key values must be named when there are several ('${raw}').`,
        );
      }
      single = parseKeyLiteral(part.trim());
    }
  }
  return single !== undefined ? { raw, single, named } : { raw, named };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const c of text) {
    if (c === "'") quoted = !quoted;
    if (c === separator && !quoted) {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out;
}

/** A literal in a key predicate: `'text'` (with `''`), a GUID, a number, `true`/`false`/`null`. */
export function parseKeyLiteral(text: string): KeyValue {
  if (/^'(?:[^']|'')*'$/s.test(text)) return text.slice(1, -1).replace(/''/g, "'");
  if (
    /^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$/.test(text)
  ) {
    return text.replace(/[{}]/g, "").toLowerCase();
  }
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text === "null") return null;
  throw new ResourcePathError(
    `Bad Request - Error in query syntax: '${text}' is not a valid key value.`,
  );
}

/** Formats a key value for a URL (`'text'` quoted with `''`, GUIDs and numbers bare). */
export function formatKeyLiteral(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null || value === undefined) return "null";
  const s = typeof value === "string" ? value : JSON.stringify(value);
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) return s;
  return `'${s.replace(/'/g, "''")}'`;
}
