/**
 * Reading the names callers give the gateway (legal entity codes) and the text of stored cells.
 * (Environment URLs and hosts are read by the address plan, `core/hosts.ts`.)
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
