/**
 * Which surface a URL path belongs to, the path below its prefix, and the prefix captures.
 *
 * | path                                         | surface     | `path` given to routes | params        |
 * |----------------------------------------------|-------------|------------------------|---------------|
 * | `/_emulator/<rest>`                          | control     | `<rest>`               | —             |
 * | `/gateway/<rest>`                            | gateway     | `<rest>`               | —             |
 * | `/dataverse/<org>/api/data/v9.{0,1,2}/<rest>`| dataverse   | `<rest>`               | `org`, `version` |
 * | `/fno/<env>/data/<rest>`                     | fno         | `<rest>`               | `env`         |
 * | `/<tenant>/<rest>`                           | identity    | `<rest>`               | `tenant`      |
 *
 * A path under `/dataverse/` or `/fno/` that misses the API part (e.g. `/dataverse/x/foo`) still
 * belongs to that surface, so its 404 has the surface's shape; it has no routable path.
 */
import type { Surface } from "./http";

/** The result of prefix matching. */
export interface SurfaceMatch {
  readonly surface: Surface;
  /** The still-encoded path below the prefix; undefined when no route of the surface can match. */
  readonly rest?: string;
  /** Prefix captures, decoded. */
  readonly params: Readonly<Record<string, string>>;
}

const PREFIXES: ReadonlyArray<{ surface: Surface; pattern: RegExp; names: readonly string[] }> = [
  { surface: "control", pattern: /^\/_emulator(?:\/(.*))?$/s, names: [] },
  { surface: "gateway", pattern: /^\/gateway(?:\/(.*))?$/s, names: [] },
  {
    surface: "dataverse",
    pattern: /^\/dataverse\/([^/]+)\/api\/data\/v(9\.[012])(?:\/(.*))?$/s,
    names: ["org", "version"],
  },
  { surface: "fno", pattern: /^\/fno\/([^/]+)\/data(?:\/(.*))?$/s, names: ["env"] },
];

/** Matches a URL path (still percent-encoded, without query) to its surface. */
export function matchSurface(pathname: string): SurfaceMatch {
  for (const { surface, pattern, names } of PREFIXES) {
    const m = pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    names.forEach((name, i) => (params[name] = safeDecode(m[i + 1] ?? "")));
    return { surface, rest: m[names.length + 1] ?? "", params };
  }
  if (/^\/dataverse(\/|$)/.test(pathname)) return { surface: "dataverse", params: {} };
  if (/^\/fno(\/|$)/.test(pathname)) return { surface: "fno", params: {} };
  // Everything else is Entra's: it serves `/<tenant>/…` at the root of its host.
  const identity = /^\/([^/]+)\/(.*)$/s.exec(pathname);
  if (identity)
    return {
      surface: "identity",
      rest: identity[2]!,
      params: { tenant: safeDecode(identity[1]!) },
    };
  return { surface: "identity", params: {} };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
