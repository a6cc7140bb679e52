/**
 * Which rows a CompanyBootstrap covers, and which of them dual-write would reject — found in the
 * preview, not mid-way through an `UpdateMultiple` at `up`.
 *
 * **The selection.** A bootstrap covers the rows of its tables that have no company, of its
 * business unit when one is declared, and created no later than its cutoff: `createdBefore` when
 * declared, else the creation time of the newest row of its tables when it first ran (recorded as
 * `selectionCutoff`) — so rows that a live org keeps creating afterwards are not drift on every
 * preview. `stampNewRows: true` drops the cutoff (every row without a company, whenever made).
 *
 * **What dual-write would reject.** Stamping a row makes it eligible for dual-write; when its map
 * runs, each stamp is a live write to F&O, and F&O refuses — failing the whole batch — a row that
 * lacks a value it requires or looks up a row it does not have. Per table, the preview counts (with
 * the first few keys) the rows of the selection that are:
 *
 * | reason                | what                                                                                 | stamped? |
 * |-----------------------|--------------------------------------------------------------------------------------|----------|
 * | `outsideSourceFilter` | not matched by the map's Dataverse filter (the gateway's `reversedSourceFilter`): the map never syncs them | yes (harmless) |
 * | `missingValue`        | a lookup F&O requires is empty ("Field 'Customer group' must be filled in.")          | no       |
 * | `otherCompany`        | a lookup points at a row of another company whose key F&O does not have in this one ("The value '210' in field 'Customer group' is not found in the related table") | no |
 * | `notStamped`          | a lookup points at a row without a company, whose key F&O does not have in this company, and that this bootstrap does not stamp first | no |
 *
 * F&O resolves a lookup by its natural key within the row's company (a customer's `CustomerGroupId`
 * among the company's customer groups), so a lookup is fine when F&O has the key in the company —
 * read from F&O — or when the row it points at is stamped by this bootstrap first.
 *
 * Rows that would be refused are left without a company (so dual-write ignores them, and neither
 * live sync nor an initial sync fails on them) and reported in `rowProblems`. A lookup target that
 * the same bootstrap stamps is stamped first: tables go in lookup order (customer groups before
 * the accounts and contacts that use them), whatever order they are declared in.
 *
 * The lookups and which of them F&O requires are the provider's knowledge of Microsoft's maps
 * (below); the source filter is read from the gateway once the map exists on the link (before
 * that it is not known, and the preview says so).
 */
import { describeRowCount, type RowCount } from "../../clients/dataverse";
import type { GatewayMap } from "../../clients/gateway";
import { columnText, companyColumnOf, logicalNameOf } from "../common/companies";
import type { Clients } from "../common/handler";
import { findMap, stateName } from "../common/maps";
import { MapState } from "../../clients/gateway";

/** A lookup of a table's rows that its map carries to F&O. */
interface LookupRule {
  /** The lookup's navigation property; its value column is `_<nav>_value`. */
  readonly nav: string;
  /** The entity set it points into. */
  readonly target: string;
  /** F&O's label of the field it becomes, as F&O's messages name it. */
  readonly label: string;
  /** Whether F&O refuses a row without it. */
  readonly required: boolean;
  /** Whether the row it points at belongs to a company (must be the same company). */
  readonly companyScoped: boolean;
  /** The column of the target row that holds the natural key F&O resolves (`msdyn_groupid`). */
  readonly targetKeyColumn: string;
  /** The F&O entity set of the target, and its key field. */
  readonly fnoEntitySet: string;
  readonly fnoKeyField: string;
}

/** What the provider knows of the map of a table. */
interface TableRule {
  /** The map that syncs the table to F&O. */
  readonly map: string;
  /** The column that names a row in messages (its integration key). */
  readonly keyColumn: string;
  readonly lookups: readonly LookupRule[];
}

// Customers V3 (accounts and contacts) carry the customer group as
// `msdyn_customergroupid.msdyn_groupid` ↔ `CustomerGroupId` (the map's field mapping), and F&O
// requires a customer group on every customer: a customer without one is refused with the infolog
// "Field 'Customer group' must be filled in." (issue 10); a group F&O does not have in the
// customer's company with "The value '<id>' in field 'Customer group' is not found in the related
// table 'Customer groups'." Customer groups are per company.
const customerGroup: LookupRule = {
  nav: "msdyn_customergroupid",
  target: "msdyn_customergroups",
  label: "Customer group",
  required: true,
  companyScoped: true,
  targetKeyColumn: "msdyn_groupid",
  fnoEntitySet: "CustomerGroups",
  fnoKeyField: "CustomerGroupId",
};

const RULES: Readonly<Record<string, TableRule>> = {
  msdyn_customergroups: {
    map: "msdyn_customergroups - Customer groups",
    keyColumn: "msdyn_groupid",
    lookups: [],
  },
  accounts: {
    map: "accounts - Customers V3",
    keyColumn: "accountnumber",
    lookups: [customerGroup],
  },
  contacts: {
    map: "contacts - Customers V3",
    keyColumn: "msdyn_contactpersonid",
    lookups: [customerGroup],
  },
};

/** Why rows are reported. */
export type ProblemReason = "outsideSourceFilter" | "missingValue" | "otherCompany" | "notStamped";

/** Rows of the selection that dual-write would not take, as reported and recorded. */
export interface RowProblem {
  readonly table: string;
  readonly reason: ProblemReason;
  /** A sentence naming the lookup or filter, e.g. "Customer group is empty; F&O requires it". */
  readonly detail: string;
  readonly count: number;
  /**
   * Set when `count` is a lower bound: Dataverse counts up to 5,000 rows in one request, and
   * whether 5,000 or 200,000 rows would be rejected decides nothing that "at least 5,000" does not.
   */
  readonly atLeast?: boolean;
  /** The first few rows' keys (their integration key, else their id). */
  readonly firstKeys: string[];
  /** Whether the bootstrap stamps them anyway (rows its map never syncs). */
  readonly stamped: boolean;
}

/** How many keys a problem lists. */
const FIRST_KEYS = 5;
/** Ids per `or` filter of a lookup check (keeps URLs short). */
const IDS_PER_FILTER = 25;

/** What a bootstrap covers. */
export interface Selection {
  /** The id of the business unit whose rows are covered; undefined: every business unit. */
  readonly businessUnit: string | undefined;
  /** Rows created after this (ISO 8601) are not covered; undefined: no cutoff. */
  readonly cutoff: string | undefined;
}

/** The OData filter of the rows of `table` that a bootstrap with `selection` covers. */
export function selectionFilter(table: string, selection: Selection): string {
  const column = companyColumnOf(table) ?? "msdyn_company";
  return [
    `_${column}_value eq null`,
    ...(selection.businessUnit ? [`_owningbusinessunit_value eq ${selection.businessUnit}`] : []),
    ...(selection.cutoff ? [`createdon le ${selection.cutoff}`] : []),
  ].join(" and ");
}

/**
 * The declared tables in stamping order: a table whose rows others look up comes before them
 * (customer groups before accounts and contacts); otherwise as declared.
 */
export function stampingOrder(tables: readonly string[]): string[] {
  const ordered: string[] = [];
  const visit = (table: string, path: readonly string[]): void => {
    if (ordered.includes(table) || path.includes(table)) return;
    for (const lookup of RULES[table]?.lookups ?? [])
      if (tables.includes(lookup.target)) visit(lookup.target, [...path, table]);
    ordered.push(table);
  };
  for (const table of tables) visit(table, []);
  return ordered;
}

/**
 * The creation time of the newest row of `tables` (ISO 8601), or undefined when they are empty:
 * the cutoff of a bootstrap that runs now, in the service's own clock.
 */
export async function newestRowTime(
  c: Clients,
  tables: readonly string[],
): Promise<string | undefined> {
  // One request per table, all at once.
  const times = await Promise.all(
    tables.map(async (table) => {
      // Shared: check and create of one operation ask the same (a write forgets it).
      const [row] = await c.dataverse.listShared(table, {
        select: ["createdon"],
        orderby: "createdon desc",
        top: 1,
        pageSize: 1,
      });
      return row ? columnText(row, "createdon") : "";
    }),
  );
  let newest: string | undefined;
  for (const at of times)
    if (at !== "" && (newest === undefined || Date.parse(at) > Date.parse(newest))) newest = at;
  return newest;
}

/** What {@link inspect} found for one table of a bootstrap. */
export interface TableInspection {
  /**
   * The rows of the selection that would be refused (never stamped), as an OData filter to
   * leave out of the stamp (`<selection> and not (<refused>)`); undefined when none are.
   */
  readonly refused: string | undefined;
  readonly problems: RowProblem[];
  /** Set when the table's map runs and rows are selected: stamping live-syncs each of them. */
  readonly liveSync: string | undefined;
  /** Whether the table's map's source filter is not known yet (no map on the link). */
  readonly filterUnknown: boolean;
}

/** What {@link inspect} found for one bootstrap. */
export interface Inspection {
  /** Per table, the OData filter of the rows of the selection that would be refused. */
  readonly refused: ReadonlyMap<string, string>;
  readonly problems: RowProblem[];
  /** One line per table whose map runs: stamping its rows live-syncs each of them. */
  readonly liveSync: string[];
  /** Tables whose map's source filter is not known yet (no map on the link). */
  readonly filterUnknown: string[];
}

/** What {@link inspect} needs besides the client. */
export interface InspectionInput {
  readonly tables: readonly string[];
  readonly selection: Selection;
  readonly company: { readonly code: string; readonly id: string | undefined };
  /** The link's maps; undefined before the link exists. */
  readonly maps: readonly GatewayMap[] | undefined;
  /** Per table, how many rows the selection holds; a table with none is not read. */
  readonly selected: ReadonlyMap<string, RowCount>;
}

/**
 * Finds the rows of the selection that dual-write would reject (reads only), table by table and
 * concurrently; a table whose selection is empty costs nothing. Rows are never read to be
 * counted: each report is one request for its count (up to 5,000, else "at least 5,000") and
 * first keys (`sample`), and the rows to leave out of the stamp are kept as a filter, not as ids,
 * so that memory does not grow with them.
 */
export async function inspect(c: Clients, input: InspectionInput): Promise<Inspection> {
  const targets = new Map<string, Promise<LookupTargets>>();
  // Tables share the targets of a lookup (accounts and contacts both look up customer groups).
  const targetsOf = (lookup: LookupRule, companyId: string): Promise<LookupTargets> => {
    let found = targets.get(lookup.target);
    if (!found) {
      found = lookupTargets(c, lookup, input, companyId);
      targets.set(lookup.target, found);
    }
    return found;
  };
  const tables = await Promise.all(
    input.tables.map((table) => inspectTable(c, table, input, targetsOf)),
  );
  const refused = new Map<string, string>();
  input.tables.forEach((table, i) => {
    const r = tables[i]?.refused;
    if (r !== undefined) refused.set(table, r);
  });
  return {
    refused,
    problems: merge(tables.flatMap((t) => t.problems)),
    liveSync: tables.flatMap((t) => (t.liveSync ? [t.liveSync] : [])),
    filterUnknown: input.tables.filter((_, i) => tables[i]?.filterUnknown),
  };
}

async function inspectTable(
  c: Clients,
  table: string,
  input: InspectionInput,
  targetsOf: (lookup: LookupRule, companyId: string) => Promise<LookupTargets>,
): Promise<TableInspection> {
  const rule = RULES[table];
  const map = rule && input.maps ? findMap(input.maps, rule.map) : undefined;
  const selected = input.selected.get(table);
  // Nothing selected: nothing to report, and nothing unknown worth saying.
  const none: TableInspection = {
    refused: undefined,
    problems: [],
    liveSync: undefined,
    filterUnknown: false,
  };
  if (!rule || selected === undefined || selected.rows === 0) return none;
  const S = selectionFilter(table, input.selection);
  const id = `${logicalNameOf(table)}id`;
  const key = rule.keyColumn;
  const liveSync =
    map && map.state === MapState.Running
      ? `${rule.map} is ${stateName(map.state)}: stamping ${describeRowCount(selected)} ${table} live-syncs each of them to F&O as it is stamped`
      : undefined;
  // The map's Dataverse filter, from the gateway once the map has a project.
  let sourceFilter: string | undefined;
  if (map?.pid) {
    const legs = (await c.gateway.fieldMappings(map.pid)).legs;
    sourceFilter = legs.map((l) => l.reversedSourceFilter).find((f) => f !== "") ?? "";
  }
  /** `clause` limited to the rows the map syncs. */
  const synced = (clause: string): string =>
    sourceFilter ? `(${sourceFilter}) and ${clause}` : clause;
  /** The rows of the selection that match `clause`, as a problem (or nothing when none do). */
  const report = async (
    clause: string,
    reason: ProblemReason,
    detail: string,
    stamped: boolean,
  ): Promise<{ problem: RowProblem; clause: string } | undefined> => {
    const filter = `${S} and ${clause}`;
    const sample = await c.dataverse.sample(table, { select: [id, key], filter, top: FIRST_KEYS });
    if (sample.count.rows === 0) return undefined;
    const count = sample.count;
    return {
      clause,
      problem: {
        table,
        reason,
        detail,
        count: count.rows,
        ...(!count.exact && { atLeast: true }),
        firstKeys: sample.rows.map((r) => columnText(r, key) || columnText(r, id)),
        stamped,
      },
    };
  };
  const reports: Promise<{ problem: RowProblem; clause: string } | undefined>[] = [];
  if (sourceFilter)
    reports.push(
      report(
        `not (${sourceFilter})`,
        "outsideSourceFilter",
        `outside the map's source filter (${sourceFilter}): ${rule.map} never syncs them`,
        true,
      ),
    );
  const companyId = input.company.id;
  const companyCode = input.company.code;
  for (const lookup of rule.lookups) {
    if (lookup.required)
      reports.push(
        report(
          synced(`_${lookup.nav}_value eq null`),
          "missingValue",
          `${lookup.label} is empty; F&O requires it ("Field '${lookup.label}' must be filled in.")`,
          false,
        ),
      );
    if (!lookup.companyScoped || companyId === undefined) continue;
    const found = await targetsOf(lookup, companyId);
    for (const [reason, ids, detail] of [
      [
        "otherCompany",
        found.otherCompany,
        `${lookup.label} is a row of another company, and F&O has no ${lookup.label.toLowerCase()} of that key in ${companyCode} ("The value … in field '${lookup.label}' is not found in the related table")`,
      ],
      [
        "notStamped",
        found.notStamped,
        `${lookup.label} is a row without a company that F&O does not have in ${companyCode} and that this bootstrap does not stamp (add ${lookup.target} to tables, or bootstrap it first)`,
      ],
    ] as const) {
      for (let i = 0; i < ids.length; i += IDS_PER_FILTER) {
        const chunk = ids.slice(i, i + IDS_PER_FILTER);
        reports.push(
          report(
            synced(`(${chunk.map((v) => `_${lookup.nav}_value eq ${v}`).join(" or ")})`),
            reason,
            detail,
            false,
          ),
        );
      }
    }
  }
  const found = (await Promise.all(reports)).filter((r) => r !== undefined);
  const refused = found.filter((r) => !r.problem.stamped).map((r) => `(${r.clause})`);
  return {
    refused: refused.length > 0 ? refused.join(" or ") : undefined,
    problems: found.map((r) => r.problem),
    liveSync,
    filterUnknown: !map?.pid,
  };
}

/** The rows a lookup may point at that F&O would not resolve for the company, by whose they are. */
interface LookupTargets {
  readonly otherCompany: string[];
  readonly notStamped: string[];
}

/**
 * The rows a lookup may point at that F&O would not resolve for the company: their key is not
 * among F&O's rows of the company, and this bootstrap does not stamp them first. Only rows that
 * may be such are read — of another company or of none, and outside what this bootstrap stamps
 * — and F&O is asked only when there are any.
 */
async function lookupTargets(
  c: Clients,
  lookup: LookupRule,
  input: InspectionInput,
  companyId: string,
): Promise<LookupTargets> {
  const id = `${logicalNameOf(lookup.target)}id`;
  const column = `_${companyColumnOf(lookup.target) ?? "msdyn_company"}_value`;
  // Dataverse's `ne` leaves out rows whose value is null: those are asked for by name.
  const candidates = [`(${column} eq null or ${column} ne ${companyId})`];
  // Targets without a company that this bootstrap stamps (first) become this company's.
  if (input.tables.includes(lookup.target))
    candidates.push(`not (${selectionFilter(lookup.target, input.selection)})`);
  // Shared by check and create of one operation (a write through the client forgets it).
  const rows = await c.dataverse.listShared(lookup.target, {
    select: [id, lookup.targetKeyColumn, column],
    filter: candidates.join(" and "),
  });
  const otherCompany: string[] = [];
  const notStamped: string[] = [];
  if (rows.length === 0) return { otherCompany, notStamped };
  const inFno = new Set(
    (
      await c.fno.list(lookup.fnoEntitySet, {
        dataAreaId: input.company.code,
        select: [lookup.fnoKeyField],
      })
    ).map((r) => columnText(r, lookup.fnoKeyField).toUpperCase()),
  );
  for (const r of rows) {
    const company = columnText(r, column).toLowerCase();
    if (company === companyId.toLowerCase()) continue;
    if (inFno.has(columnText(r, lookup.targetKeyColumn).toUpperCase())) continue;
    (company === "" ? notStamped : otherCompany).push(columnText(r, id));
  }
  return { otherCompany, notStamped };
}

/** Problems of the same table and reason (from several chunks) as one. */
function merge(problems: readonly RowProblem[]): RowProblem[] {
  const out: RowProblem[] = [];
  for (const p of problems) {
    const same = out.findIndex((o) => o.table === p.table && o.reason === p.reason);
    const prior = out[same];
    if (same < 0 || !prior) out.push(p);
    else
      out[same] = {
        ...prior,
        count: prior.count + p.count,
        ...((prior.atLeast || p.atLeast) && { atLeast: true }),
        firstKeys: [...prior.firstKeys, ...p.firstKeys].slice(0, FIRST_KEYS),
      };
  }
  return out;
}

/** "2 accounts: Customer group is empty; … (first: US-900, US-901)" */
export function describeProblem(p: RowProblem): string {
  return `${p.atLeast ? "at least " : ""}${p.count.toLocaleString("en-US")} ${p.table} ${p.stamped ? "will be stamped but not synced" : "would be rejected by dual-write and are left without a company"}: ${p.detail} (first: ${p.firstKeys.join(", ")})`;
}
