/**
 * What `pulumi-dualwrite compare` finds between two environment pairs, point by point, and how it
 * is shown (a table, or JSON). Pure: two snapshots in, one report out.
 *
 * Points compared, in this order: whether each side is linked; the legal entities of the link;
 * the solutions applied; then, map by map (sorted by name), whether the map is on the link, and,
 * when it is on both, its active version, the version's author, its state and the integration
 * keys of its Dataverse table (in order: the order of keys matters to dual-write).
 */
import type { PairSnapshot } from "./snapshot";
import { compareText } from "./snapshot";

/** What a difference is about. */
export type Aspect =
  "link" | "legalEntity" | "solution" | "map" | "version" | "author" | "state" | "integrationKeys";

/** A value on one side: text, a list (keys), or `null` when there is none. */
export type SideValue = string | readonly string[] | null;

/** One point on which the two sides differ. */
export interface Difference {
  readonly aspect: Aspect;
  /** What it is about: a legal entity code, a solution or map name; the F&O URL for `link`. */
  readonly subject: string;
  /**
   * `present`/`absent` for `link`, `legalEntity`, `solution` and `map`; the value otherwise
   * (`null`: none, e.g. a version the gateway does not name).
   */
  readonly left: SideValue;
  readonly right: SideValue;
}

/** One side as the report names it. */
export interface SideSummary {
  /** The label given (`--left-name`), e.g. `dev`. */
  readonly name: string;
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string | null;
  readonly linked: boolean;
}

/** The comparison. */
export interface CompareReport {
  /** True when there is no difference (exit code 0). */
  readonly same: boolean;
  readonly left: SideSummary;
  readonly right: SideSummary;
  readonly differences: readonly Difference[];
}

const PRESENT = "present";
const ABSENT = "absent";

/** Compares two snapshots (see the file comment). */
export function compareSnapshots(
  left: { readonly name: string; readonly snapshot: PairSnapshot },
  right: { readonly name: string; readonly snapshot: PairSnapshot },
): CompareReport {
  const l = left.snapshot.link;
  const r = right.snapshot.link;
  const differences: Difference[] = [];
  if ((l === undefined) !== (r === undefined)) {
    differences.push({
      aspect: "link",
      subject: "dual-write link",
      left: l ? PRESENT : ABSENT,
      right: r ? PRESENT : ABSENT,
    });
  }
  if (l && r) {
    differences.push(
      ...presence("legalEntity", l.legalEntities, r.legalEntities),
      ...presence("solution", l.solutions, r.solutions),
    );
    const leftMaps = new Map(l.maps.map((m) => [m.name, m]));
    const rightMaps = new Map(r.maps.map((m) => [m.name, m]));
    const names = [...new Set([...leftMaps.keys(), ...rightMaps.keys()])].sort(compareText);
    for (const name of names) {
      const lm = leftMaps.get(name);
      const rm = rightMaps.get(name);
      if (!lm || !rm) {
        differences.push({
          aspect: "map",
          subject: name,
          left: lm ? PRESENT : ABSENT,
          right: rm ? PRESENT : ABSENT,
        });
        continue;
      }
      const points: ReadonlyArray<readonly [Aspect, SideValue, SideValue]> = [
        ["version", lm.version ?? null, rm.version ?? null],
        ["author", lm.author ?? null, rm.author ?? null],
        ["state", lm.state, rm.state],
        ["integrationKeys", lm.integrationKeys, rm.integrationKeys],
      ];
      for (const [aspect, a, b] of points)
        if (!sameValue(a, b)) differences.push({ aspect, subject: name, left: a, right: b });
    }
  }
  return {
    same: differences.length === 0,
    left: summary(left.name, left.snapshot),
    right: summary(right.name, right.snapshot),
    differences,
  };
}

/** The items of either list that the other lacks, sorted. */
function presence(aspect: Aspect, left: readonly string[], right: readonly string[]): Difference[] {
  const all = [...new Set([...left, ...right])].sort(compareText);
  return all
    .filter((x) => left.includes(x) !== right.includes(x))
    .map((x) => ({
      aspect,
      subject: x,
      left: left.includes(x) ? PRESENT : ABSENT,
      right: right.includes(x) ? PRESENT : ABSENT,
    }));
}

function sameValue(a: SideValue, b: SideValue): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => x === b[i]);
  return a === b;
}

function summary(name: string, snapshot: PairSnapshot): SideSummary {
  return {
    name,
    financeOperationsUrl: snapshot.financeOperationsUrl,
    dataverseUrl: snapshot.dataverseUrl ?? null,
    linked: snapshot.link !== undefined,
  };
}

/** The words of each aspect in the table. */
const ASPECT_WORDS: Readonly<Record<Aspect, string>> = {
  link: "link",
  legalEntity: "legal entity",
  solution: "solution",
  map: "map",
  version: "map version",
  author: "map author",
  state: "map state",
  integrationKeys: "integration keys",
};

/** A side's value in the table. */
function cell(value: SideValue): string {
  if (value === null) return "(none)";
  if (typeof value === "string") return value;
  return value.length === 0 ? "(none)" : value.join(", ");
}

/**
 * The report as text: which environments, a table of the differences (one row each), and a last
 * line with the count and the exit code.
 */
export function renderCompare(report: CompareReport): string {
  const { left, right } = report;
  const width = Math.max(left.name.length, right.name.length);
  const side = (s: SideSummary): string =>
    `  ${`${s.name}:`.padEnd(width + 1)} F&O ${s.financeOperationsUrl}, Dataverse ${s.dataverseUrl ?? "(unknown)"}${s.linked ? "" : " (not linked)"}`;
  const lines = ["pulumi-dualwrite compare (read-only)", side(left), side(right), ""];
  if (report.same) {
    lines.push(
      left.linked
        ? "No differences: same legal entities, solutions, maps, versions, authors, states and keys (exit 0)."
        : "No differences: neither environment is linked (exit 0).",
    );
    return `${lines.join("\n")}\n`;
  }
  const rows = [
    ["what", "subject", left.name, right.name],
    ...report.differences.map((d) => [
      ASPECT_WORDS[d.aspect],
      d.subject,
      cell(d.left),
      cell(d.right),
    ]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  for (const row of rows)
    lines.push(
      row
        .map((c, i) => (i < 3 ? c.padEnd(widths[i] ?? 0) : c))
        .join("  ")
        .trimEnd(),
    );
  const n = report.differences.length;
  lines.push("", `${n} ${n === 1 ? "difference" : "differences"} (exit 1).`);
  return `${lines.join("\n")}\n`;
}
