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
import type { Row } from "../../clients/dataverse";
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
  let newest: string | undefined;
  for (const table of tables) {
    const [row] = await c.dataverse.list(table, {
      select: ["createdon"],
      orderby: "createdon desc",
      top: 1,
      pageSize: 1,
    });
    const at = row ? columnText(row, "createdon") : "";
    if (at !== "" && (newest === undefined || Date.parse(at) > Date.parse(newest))) newest = at;
  }
  return newest;
}

/** What {@link inspect} found for one bootstrap. */
export interface Inspection {
  /** Per table, the rows of the selection that would be refused (never stamped), by id. */
  readonly refused: ReadonlyMap<string, ReadonlySet<string>>;
  readonly problems: RowProblem[];
  /** One line per table whose map runs: stamping its rows live-syncs each of them. */
  readonly liveSync: string[];
  /** Tables whose map's source filter is not known yet (no map on the link). */
  readonly filterUnknown: string[];
}

/**
 * Reads the selection of every declared table and finds the rows dual-write would reject
 * (reads only). `companyId` is the bootstrap's company; `maps` the link's maps (undefined before
 * the link exists).
 */
export async function inspect(
  c: Clients,
  tables: readonly string[],
  selection: Selection,
  company: { readonly code: string; readonly id: string | undefined },
  maps: readonly GatewayMap[] | undefined,
): Promise<Inspection> {
  const companyId = company.id;
  const companyCode = company.code;
  const refused = new Map<string, Set<string>>();
  const problems: RowProblem[] = [];
  const liveSync: string[] = [];
  const filterUnknown: string[] = [];
  for (const table of tables) {
    const rule = RULES[table];
    const S = selectionFilter(table, selection);
    const id = `${logicalNameOf(table)}id`;
    const key = rule?.keyColumn;
    const map = rule && maps ? findMap(maps, rule.map) : undefined;
    if (map && map.state === MapState.Running) {
      const n = await c.dataverse.count(table, S);
      if (n > 0)
        liveSync.push(
          `${rule?.map} is ${stateName(map.state)}: stamping ${n.toLocaleString("en-US")} ${table} live-syncs each of them to F&O as it is stamped`,
        );
    }
    if (!rule) continue;
    // The map's Dataverse filter, from the gateway once the map has a project.
    let sourceFilter: string | undefined;
    if (map?.pid) {
      const legs = (await c.gateway.fieldMappings(map.pid)).legs;
      sourceFilter = legs.map((l) => l.reversedSourceFilter).find((f) => f !== "") ?? "";
    } else filterUnknown.push(table);
    const synced = sourceFilter ? `${S} and (${sourceFilter})` : S;
    const report = async (
      filter: string,
      reason: ProblemReason,
      detail: string,
      stamped: boolean,
    ): Promise<void> => {
      const rows: Row[] = await c.dataverse.list(table, {
        select: [id, ...(key ? [key] : [])],
        filter,
      });
      if (rows.length === 0) return;
      if (!stamped) {
        const set = refused.get(table) ?? new Set<string>();
        for (const r of rows) set.add(columnText(r, id).toLowerCase());
        refused.set(table, set);
      }
      problems.push({
        table,
        reason,
        detail,
        count: rows.length,
        firstKeys: rows
          .slice(0, FIRST_KEYS)
          .map((r) => (key && columnText(r, key)) || columnText(r, id)),
        stamped,
      });
    };
    if (sourceFilter)
      await report(
        `${S} and not (${sourceFilter})`,
        "outsideSourceFilter",
        `outside the map's source filter (${sourceFilter}): ${rule.map} never syncs them`,
        true,
      );
    for (const lookup of rule.lookups) {
      if (lookup.required)
        await report(
          `${synced} and _${lookup.nav}_value eq null`,
          "missingValue",
          `${lookup.label} is empty; F&O requires it ("Field '${lookup.label}' must be filled in.")`,
          false,
        );
      if (!lookup.companyScoped || companyId === undefined) continue;
      const targets = await lookupTargets(c, lookup, tables, selection, companyId, companyCode);
      for (const [reason, ids, detail] of [
        [
          "otherCompany",
          targets.otherCompany,
          `${lookup.label} is a row of another company, and F&O has no ${lookup.label.toLowerCase()} of that key in ${companyCode} ("The value … in field '${lookup.label}' is not found in the related table")`,
        ],
        [
          "notStamped",
          targets.notStamped,
          `${lookup.label} is a row without a company that F&O does not have in ${companyCode} and that this bootstrap does not stamp (add ${lookup.target} to tables, or bootstrap it first)`,
        ],
      ] as const) {
        for (let i = 0; i < ids.length; i += IDS_PER_FILTER) {
          const chunk = ids.slice(i, i + IDS_PER_FILTER);
          await report(
            `${synced} and (${chunk.map((v) => `_${lookup.nav}_value eq ${v}`).join(" or ")})`,
            reason,
            detail,
            false,
          );
        }
      }
    }
  }
  return { refused, problems: merge(problems), liveSync, filterUnknown };
}

/**
 * The rows a lookup may point at that F&O would not resolve for the company: their key is not
 * among F&O's rows of the company, and this bootstrap does not stamp them first. Sorted by whose
 * they are: another company's, or nobody's.
 */
async function lookupTargets(
  c: Clients,
  lookup: LookupRule,
  tables: readonly string[],
  selection: Selection,
  companyId: string,
  companyCode: string,
): Promise<{ otherCompany: string[]; notStamped: string[] }> {
  const id = `${logicalNameOf(lookup.target)}id`;
  const column = companyColumnOf(lookup.target) ?? "msdyn_company";
  const rows = await c.dataverse.list(lookup.target, {
    select: [id, lookup.targetKeyColumn, `_${column}_value`],
  });
  const inFno = new Set(
    (
      await c.fno.list(lookup.fnoEntitySet, {
        dataAreaId: companyCode,
        select: [lookup.fnoKeyField],
      })
    ).map((r) => columnText(r, lookup.fnoKeyField).toUpperCase()),
  );
  // Targets without a company that this bootstrap stamps (first) become this company's.
  const stampedHere = tables.includes(lookup.target)
    ? new Set(
        (
          await c.dataverse.list(lookup.target, {
            select: [id],
            filter: selectionFilter(lookup.target, selection),
          })
        ).map((r) => columnText(r, id).toLowerCase()),
      )
    : new Set<string>();
  const otherCompany: string[] = [];
  const notStamped: string[] = [];
  for (const r of rows) {
    const rowId = columnText(r, id);
    const company = columnText(r, `_${column}_value`).toLowerCase();
    if (company === companyId.toLowerCase() || stampedHere.has(rowId.toLowerCase())) continue;
    if (inFno.has(columnText(r, lookup.targetKeyColumn).toUpperCase())) continue;
    (company === "" ? notStamped : otherCompany).push(rowId);
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
        firstKeys: [...prior.firstKeys, ...p.firstKeys].slice(0, FIRST_KEYS),
      };
  }
  return out;
}

/** "2 accounts: Customer group is empty; … (first: US-900, US-901)" */
export function describeProblem(p: RowProblem): string {
  return `${p.count.toLocaleString("en-US")} ${p.table} ${p.stamped ? "will be stamped but not synced" : "would be rejected by dual-write and are left without a company"}: ${p.detail} (first: ${p.firstKeys.join(", ")})`;
}
