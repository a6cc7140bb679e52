/**
 * Reading the names callers give the gateway (environment URLs, legal entity codes) and the text
 * of stored cells.
 */

/** The text of a stored cell: "" for null or undefined, JSON for objects. */
export function cellText(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return value.toString();
  return JSON.stringify(value) ?? "";
}

/** Upper-cased, trimmed, de-duplicated legal entity codes, in the given order. */
export function normalizeCodes(codes: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of codes) {
    const code = c.trim().toUpperCase();
    if (code !== "" && !out.includes(code)) out.push(code);
  }
  return out;
}

/**
 * The environment name in an emulator URL (`https://127.0.0.1:port/fno/<env>` or
 * `…/dataverse/<org>`), or the text itself when it is a bare name; undefined when it is a URL of
 * the other kind.
 */
export function parseInstance(identifier: string, kind: "fno" | "dataverse"): string | undefined {
  const text = identifier.trim();
  if (!/^[a-z]+:\/\//i.test(text) && !text.includes("/")) return text === "" ? undefined : text;
  let path = text;
  try {
    path = new URL(text).pathname;
  } catch {
    // Not a full URL: read it as a path.
  }
  const match = new RegExp(`/${kind}/([^/?#]+)`).exec(path.startsWith("/") ? path : `/${path}`);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
