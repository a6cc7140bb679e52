/**
 * Diff helpers: a declared replace-on-change list plus deep equality, instead of a chain of
 * `!==` comparisons (STYLE §7).
 */

/** Structural equality of JSON-like values; `undefined` members count as absent. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) =>
      deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    );
  }
  return false;
}

/** Which declared properties changed, and which of those force a replacement. */
export interface PropertyDiff {
  readonly changed: string[];
  readonly replaces: string[];
}

/**
 * Compares the declared properties `keys` of the old and new declarations. A property in
 * `replaceOnChange` that changed is listed in `replaces`.
 */
export function diffDeclared<T extends object>(
  olds: Partial<T>,
  news: Partial<T>,
  keys: readonly (keyof T & string)[],
  replaceOnChange: readonly (keyof T & string)[],
): PropertyDiff {
  const changed = keys.filter((k) => !deepEqual(olds[k], news[k]));
  return { changed, replaces: changed.filter((k) => replaceOnChange.includes(k)) };
}

/** The same set of strings, whatever the order and case. */
export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const na = new Set(a.map((x) => x.toLowerCase()));
  const nb = new Set(b.map((x) => x.toLowerCase()));
  return na.size === nb.size && [...na].every((x) => nb.has(x));
}
