/**
 * CompanyBootstrap's spec (`common/spec.ts`), from which its lifecycle is derived: stamps the
 * company lookup on existing Dataverse rows that have none, so that dual-write considers them
 * (DW/bootstrap-company-data.md: "Only rows that have company data are eligible"). Rows that
 * carry another company are never touched: every read and write is filtered on an empty company
 * lookup.
 *
 * What it covers and what it leaves alone is `eligibility.ts`: the selection (tables, business
 * unit, creation cutoff — rows a live org creates after the bootstrap ran are not drift unless
 * `stampNewRows`), and the rows of it that dual-write would reject (no customer group, a group of
 * another company, a group nobody stamps), which are reported in preview and left unstamped. Tables
 * are stamped in lookup order, and the preview says when a table's map runs (each stamp is then a
 * live write to F&O).
 *
 * Its object (what `find` finds) is the company's row in Dataverse and the selection's rows
 * without a company; the rows it stamps are business data, so a bootstrap never adopts anything
 * and its delete writes nothing.
 *
 * Requests are few and do not grow with the rows: `cdm_companies` and `businessunits` are read
 * once per operation for every bootstrap (shared reads); counts are Dataverse's `$count` (one
 * request, capped at 5,000 and then said as "at least 5,000"; only the rows left to stamp are
 * counted exactly, where create and refresh record them); a table without any row lacking a
 * company costs one request; the tables are read at once; a cutoff taken just now (first run)
 * needs no count of newer rows; the counts, samples, cutoff and lookup-target reads are shared
 * reads, so create asks nothing its check of the same operation asked (a write forgets them);
 * and stamping reads a page of keys, stamps it, and drops it (only the pages it stamps are read).
 *
 * | step   | HTTP calls                                                                                   |
 * |--------|-----------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET businessunits, GET cdm_companies (shared); per table at once GET <table>?$select=createdon&$orderby=createdon desc&$top=1 (the cutoff), GET <table>?$count=true&$filter=<no company> (any business unit: shared by every bootstrap; then of the declared business unit where some); where some rows have none: GET <table>?$count=true&$filter=<selection>, GET DWM/Environments, GET DWM/Entities, GET DWM/<pid>/FieldMappings (source filter), per report GET <table>?$count=true&$top=5&$filter=… (count and first keys), GET <lookup target>?$filter=<candidates> (and F&O GET CustomerGroups when there are any) |
 * | diff   | GET businessunits, GET cdm_companies (shared); per table GET <table>?$count=true&$filter=<no company> (as check), and the rest of check's reads only where that is not 0 (with the recorded cutoff; rows made after it are counted and said, not drift) |
 * | create | as diff; per table in lookup order, page by page: GET <table>?$select=<id>&$filter=<selection, rejected rows left out> (5,000), POST <table>/Microsoft.Dynamics.CRM.UpdateMultiple (≤ 1,000 rows each); then as read |
 * | read   | as diff; the rows left to stamp counted exactly (`$count` up to 5,000, keys paged above)     |
 * | update | as create                                                                                    |
 * | delete | nothing: a stamp is business data and stays                                                  |
 */
import { DualWriteError } from "../../errors";
import { describeRowCount, type RowCount } from "../../clients/dataverse";
import type { GatewayMap } from "../../clients/gateway";
import { containsUnknown, normalizeUrl, type CheckFailure } from "../common/check";
import { businessUnits, companyColumnOf, companyIds, logicalNameOf } from "../common/companies";
import {
  describeProblem,
  inspect,
  newestRowTime,
  selectionFilter,
  stampingOrder,
  type Inspection,
  type Selection,
} from "./eligibility";
import type { FailureList } from "../common/failures";
import type { Clients, HandlerContext, Lifecycle } from "../common/handler";
import {
  lifecycleOf,
  sameCode,
  sameEnvironment,
  type PlannedChange,
  type ResourceSpec,
} from "../common/spec";
import {
  companyBootstrapSchemas,
  DEFAULT_TABLES,
  type CompanyBootstrapInputs,
  type CompanyBootstrapOutputs,
} from "./companyBootstrap.schema";

const RESOURCE = "CompanyBootstrap";
const DECLARED = [
  "financeOperationsUrl",
  "dataverseUrl",
  "companyCode",
  "tables",
  "owningBusinessUnit",
  "createdBefore",
  "stampNewRows",
] as const satisfies readonly (keyof CompanyBootstrapInputs)[];

interface Desired {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly companyCode: string;
  readonly tables: readonly string[];
  readonly owningBusinessUnit: string | undefined;
  readonly createdBefore: string | undefined;
  readonly stampNewRows: boolean;
}

function desired(inputs: CompanyBootstrapInputs): Desired {
  return {
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    companyCode: inputs.companyCode.toUpperCase(),
    tables: inputs.tables ?? [...DEFAULT_TABLES],
    owningBusinessUnit: inputs.owningBusinessUnit,
    createdBefore: inputs.createdBefore,
    stampNewRows: inputs.stampNewRows ?? false,
  };
}

/**
 * The company code among the legal entities the connection declares — known in a preview that
 * creates the link, so that `ZZZZ` is refused before anything is written rather than at `up`.
 */
function crossCheck(values: Readonly<Record<string, unknown>>): CheckFailure[] {
  const declared = values.connectionLegalEntities;
  const code = values.companyCode;
  if (!Array.isArray(declared) || typeof code !== "string") return [];
  const codes = declared.map((c) => String(c).toUpperCase());
  if (codes.includes(code.toUpperCase())) return [];
  return [
    {
      property: "companyCode",
      reason: `${code.toUpperCase()} is not among the legal entities the connection declares (${codes.join(", ") || "none"}), so Dataverse would have no company ${code.toUpperCase()} to stamp rows with. Add it to the DualWriteConnection's legalEntities, or fix companyCode.`,
    },
  ];
}

/**
 * The business unit's id (undefined when none is declared). When Dataverse has none of that name:
 * undefined, and a failure in `failures` if given.
 */
async function businessUnitId(
  d: Desired,
  c: Clients,
  failures: FailureList | undefined,
  fresh: boolean,
): Promise<string | undefined> {
  if (d.owningBusinessUnit === undefined) return undefined;
  const units = await businessUnits(c, { fresh });
  const wanted = d.owningBusinessUnit.toLowerCase();
  const found = units.find((u) => u.name.toLowerCase() === wanted);
  if (!found) {
    const names = units
      .map((u) => u.name)
      .filter((n) => n !== "")
      .sort();
    failures?.add(
      "owningBusinessUnit",
      `Dataverse ${d.dataverseUrl} has no business unit named ${JSON.stringify(d.owningBusinessUnit)} (it has ${names.slice(0, 10).join(", ") || "none"}${names.length > 10 ? ", …" : ""}). Fix the name, or leave it out to stamp rows of every business unit.`,
    );
  }
  return found?.id;
}

/** Rows created no later than this are "existing" when nothing else says (no row at all: none). */
const NOTHING_YET = "1970-01-01T00:00:00Z";

/**
 * The cutoff of the selection: `createdBefore`; none with `stampNewRows`; else the one recorded
 * when the bootstrap first ran, or — first run, or its preview — the newest row's creation time now.
 */
async function cutoffOf(
  d: Desired,
  c: Clients,
  recorded: string | undefined,
): Promise<string | undefined> {
  if (d.createdBefore !== undefined) return d.createdBefore;
  if (d.stampNewRows) return undefined;
  return recorded ?? (await newestRowTime(c, d.tables)) ?? NOTHING_YET;
}

/** The link's maps, or undefined before the link exists. */
async function linkMaps(d: Desired, c: Clients): Promise<GatewayMap[] | undefined> {
  const env = await c.gateway.findEnvironment(d.financeOperationsUrl);
  return env ? c.gateway.listMaps(env.cid) : undefined;
}

/**
 * How the rows left to stamp are counted: capped at 5,000 (one request; a preview says "at least
 * 5,000") or exact (what create and refresh record; keys are paged only above 5,000).
 */
type Counting = "capped" | "exact";

/** What the bootstrap covers now, and what of it dual-write would reject. */
interface Survey {
  readonly selection: Selection;
  readonly inspection: Inspection;
  /** Per table: rows of the selection the bootstrap would stamp (rejected ones left out). */
  readonly pending: Readonly<Record<string, RowCount>>;
  /** Per table: rows without a company created after the cutoff (not covered). */
  readonly newer: Readonly<Record<string, RowCount>>;
}

const NONE: RowCount = { rows: 0, exact: true, requests: 0 };

/**
 * Surveys the selection of every table (reads only, the tables at once). A table is first asked
 * whether any of its rows (of the business unit) lacks a company — one request; only when some do
 * are the selection, the rows made after the cutoff and the rows dual-write would reject looked at.
 */
async function survey(
  d: Desired,
  c: Clients,
  businessUnit: string | undefined,
  companyId: string | undefined,
  recordedCutoff: string | undefined,
  counting: Counting,
): Promise<Survey> {
  const cutoff = await cutoffOf(d, c, recordedCutoff);
  const selection: Selection = { businessUnit, cutoff };
  const tracksNewer = cutoff !== undefined && d.createdBefore === undefined;
  // A cutoff taken just now is the newest row's creation time: no row is newer, so the rows
  // without a company are the selection, and counting the newer ones would only find none.
  const cutoffIsNow = tracksNewer && recordedCutoff === undefined;
  // Whether the selection holds any row needs no exact count: "at least 5,000" decides as well.
  const counted = await Promise.all(
    d.tables.map(async (table) => {
      const unstamped = selectionFilter(table, { businessUnit, cutoff: undefined });
      const covered = selectionFilter(table, selection);
      // Whether the table has any row without a company, of any business unit: one count that
      // every bootstrap of the environment shares (a steady preview asks nothing more); only
      // when some has none is the business unit's own share counted.
      const anyUnit = selectionFilter(table, { businessUnit: undefined, cutoff: undefined });
      const anyAtAll = await c.dataverse.countCapped(table, anyUnit);
      if (anyAtAll.rows === 0) return { selected: NONE, newer: NONE };
      const any =
        unstamped === anyUnit ? anyAtAll : await c.dataverse.countCapped(table, unstamped);
      if (any.rows === 0) return { selected: NONE, newer: NONE };
      if (covered === unstamped || cutoffIsNow) return { selected: any, newer: NONE };
      if (!tracksNewer)
        return { selected: await c.dataverse.countCapped(table, covered), newer: NONE };
      // Every row has a creation time: the covered rows are those not made after the cutoff.
      const newer = await c.dataverse.countCapped(table, `${unstamped} and createdon gt ${cutoff}`);
      const selected: RowCount =
        any.exact && newer.exact
          ? { rows: any.rows - newer.rows, exact: true, requests: 0 }
          : await c.dataverse.countCapped(table, covered);
      return { selected, newer };
    }),
  );
  const selected = new Map(d.tables.map((t, i) => [t, counted[i]?.selected ?? NONE]));
  const anySelected = [...selected.values()].some((n) => n.rows > 0);
  const inspection = await inspect(c, {
    tables: d.tables,
    selection,
    company: { code: d.companyCode, id: companyId },
    maps: anySelected ? await linkMaps(d, c) : undefined,
    selected,
  });
  // What is left to stamp is recorded (create, refresh) exactly; a preview says "at least".
  const pendingCounts = await Promise.all(
    d.tables.map(async (table): Promise<RowCount> => {
      const all = selected.get(table) ?? NONE;
      const refused = inspection.refused.get(table);
      if (all.rows === 0) return all;
      if (refused === undefined && (all.exact || counting === "capped")) return all;
      const filter = `${selectionFilter(table, selection)}${refused === undefined ? "" : ` and not (${refused})`}`;
      return await (counting === "exact"
        ? c.dataverse.countRows(table, filter, `${logicalNameOf(table)}id`)
        : c.dataverse.countCapped(table, filter));
    }),
  );
  const pending: Record<string, RowCount> = {};
  const newer: Record<string, RowCount> = {};
  d.tables.forEach((table, i) => {
    pending[table] = pendingCounts[i] ?? NONE;
    if (tracksNewer) newer[table] = counted[i]?.newer ?? NONE;
  });
  return { selection, inspection, pending, newer };
}

/** The OData filter of the rows of `table` a survey would stamp (rejected rows left out). */
function stampFilter(table: string, s: Survey): string {
  const covered = selectionFilter(table, s.selection);
  const refused = s.inspection.refused.get(table);
  return refused === undefined ? covered : `${covered} and not (${refused})`;
}

/** The lines a preview prints about a survey. */
function surveyLines(d: Desired, s: Survey): string[] {
  const lines = [...s.inspection.problems.map((p) => describeProblem(p)), ...s.inspection.liveSync];
  if (s.inspection.filterUnknown.length > 0)
    lines.push(
      `the source filters of the maps of ${s.inspection.filterUnknown.join(", ")} are not known until the maps are on the link: rows outside them are not reported yet`,
    );
  const newer = Object.entries(s.newer).filter(([, n]) => n.rows > 0);
  if (newer.length > 0)
    lines.push(
      `${describeCounts(Object.fromEntries(newer))} without a company were created after ${s.selection.cutoff ?? ""}, when this bootstrap first ran: not covered (set stampNewRows: true to stamp new rows too, or createdBefore)`,
    );
  return lines.map((l) => `CompanyBootstrap ${d.companyCode}: ${l}`);
}

function describeCounts(counts: Readonly<Record<string, RowCount>>): string {
  return Object.entries(counts)
    .map(([table, n]) => `${describeRowCount(n)} ${table}`)
    .join(" and ");
}

function total(counts: Readonly<Record<string, RowCount>>): number {
  return Object.values(counts).reduce((a, b) => a + b.rows, 0);
}

/**
 * What `find` finds: the company's row in Dataverse (and the declared business unit), with the
 * survey of the selection made on demand — once per cutoff, an exact survey serving a capped ask
 * too — so that `read`'s `observe` and `plan` share one.
 */
interface Found {
  readonly companyId: string;
  readonly businessUnit: string | undefined;
  survey(recordedCutoff: string | undefined, counting: Counting): Promise<Survey>;
}

/**
 * The company and business unit, or undefined when either is gone (reads only). Both come from
 * the reads shared by every bootstrap of the operation; with `fresh`, one that is missing there is
 * read again (the company of a legal entity linked a moment ago by the same `up` is new).
 */
async function locate(d: Desired, c: Clients, fresh: boolean): Promise<Found | undefined> {
  if (containsUnknown(d)) return undefined;
  const lookUp = (again: boolean) =>
    Promise.all([
      companyIds(c, [d.companyCode], { fresh: again }),
      businessUnitId(d, c, undefined, again),
    ]);
  let [ids, businessUnit] = await lookUp(false);
  const missing = () =>
    !ids.has(d.companyCode) || (d.owningBusinessUnit !== undefined && businessUnit === undefined);
  if (missing() && fresh) [ids, businessUnit] = await lookUp(true);
  const companyId = ids.get(d.companyCode);
  if (companyId === undefined || missing()) return undefined;
  const made = new Map<string, Promise<Survey>>();
  return {
    companyId,
    businessUnit,
    survey(recordedCutoff, counting) {
      const key = (k: Counting) => `${k} ${recordedCutoff ?? ""}`;
      const known = made.get(key("exact")) ?? made.get(key(counting));
      if (known) return known;
      const fresh = survey(d, c, businessUnit, companyId, recordedCutoff, counting);
      made.set(key(counting), fresh);
      return fresh;
    },
  };
}

/**
 * Stamps the covered rows of the declared tables, in lookup order, leaving out the rows dual-write
 * would reject, page by page: a page of keys is read, stamped (`UpdateMultiple` of ≤ 1,000) and
 * dropped, so memory does not grow with the rows; a table with nothing pending is not read.
 * Returns the rows stamped per table.
 */
async function stampRows(
  d: Desired,
  c: Clients,
  ctx: HandlerContext,
  companyId: string,
  s: Survey,
): Promise<Record<string, number>> {
  const stamped: Record<string, number> = {};
  for (const table of d.tables) stamped[table] = 0;
  for (const table of stampingOrder(d.tables)) {
    const pending = s.pending[table] ?? NONE;
    if (pending.rows === 0) continue;
    const column = companyColumnOf(table) ?? "msdyn_company";
    const logicalName = logicalNameOf(table);
    const key = `${logicalName}id`;
    ctx.log(`Stamping ${describeRowCount(pending)} ${table} with company ${d.companyCode}`);
    // The next page starts after the last key of this one (Dataverse's paging cookie), so rows
    // that leave the filter as they are stamped neither repeat nor push others out.
    const stamp = { [`${column}@odata.bind`]: `/cdm_companies(${companyId})` };
    for await (const ids of c.dataverse.keyPages(table, key, { filter: stampFilter(table, s) })) {
      await c.dataverse.updateEach(table, logicalName, ids, stamp, { primaryKey: key });
      stamped[table] = (stamped[table] ?? 0) + ids.length;
    }
  }
  return stamped;
}

/** The outputs of what was observed. */
function observedOutputs(
  s: Survey,
): Pick<CompanyBootstrapOutputs, "pendingRows" | "rowProblems" | "selectionCutoff"> {
  return {
    pendingRows: Object.fromEntries(Object.entries(s.pending).map(([t, n]) => [t, n.rows])),
    rowProblems: s.inspection.problems,
    ...(s.selection.cutoff !== undefined && { selectionCutoff: s.selection.cutoff }),
  };
}

/** The cutoff recorded in the state, unless the declaration's selection changed how it is made. */
function recordedCutoff(
  olds: Partial<CompanyBootstrapOutputs> | undefined,
  news: Desired,
): string | undefined {
  if (olds === undefined || news.createdBefore !== undefined || news.stampNewRows) return undefined;
  return olds.createdBefore === undefined && olds.stampNewRows !== true
    ? olds.selectionCutoff
    : undefined;
}

/** What `verify` passes on to `converge`. */
interface Prepared {
  /** The declared business unit's id (undefined: every business unit). */
  readonly businessUnit: string | undefined;
}

/** CompanyBootstrap, said once (`common/spec.ts`). */
export const companyBootstrapSpec: ResourceSpec<
  CompanyBootstrapInputs,
  CompanyBootstrapOutputs,
  Desired,
  Found,
  Prepared
> = {
  resource: RESOURCE,
  schemas: companyBootstrapSchemas,
  crossCheck,
  references: {
    connection: {
      target: "DualWriteConnection",
      inputs: ["financeOperationsUrl", "dataverseUrl", "connectionLegalEntities"],
    },
  },
  // From the connection's declaration; unknown only while the connection is updated, which says
  // nothing about this bootstrap.
  settled: ["connectionLegalEntities"],
  declared: DECLARED,
  resolved: [],
  identity: ["financeOperationsUrl", "dataverseUrl", "companyCode"],
  // Another company or environment is another bootstrap.
  replaceOnChange: {
    companyCode: sameCode,
    financeOperationsUrl: sameEnvironment,
    dataverseUrl: sameEnvironment,
  },
  deleteBeforeReplace: false,
  before: "before rows are stamped",
  cleanup: "forget",
  desired,
  describe: (d) =>
    `the rows of ${d.tables.join(", ")} without a company in Dataverse ${d.dataverseUrl} (company ${d.companyCode})`,
  claimKey: (d) => `bootstrap:${d.dataverseUrl.toLowerCase()}/${d.companyCode}`,

  async verify(d, ctx, failures, how) {
    // A preview with inputs not known yet reads nothing: `up` checks them.
    if (how.unknown.size > 0) return undefined;
    const c = ctx.clients(d);
    const businessUnit = await businessUnitId(d, c, failures, how.phase !== "check");
    if (!failures.empty) return undefined;
    if (how.phase === "check") {
      // The preview of a new (or changed) bootstrap shows what it would stamp, and what it would not.
      const companyId = (await companyIds(c, [d.companyCode])).get(d.companyCode);
      const s = await survey(d, c, businessUnit, companyId, undefined, "capped");
      ctx.log(
        `CompanyBootstrap ${d.companyCode}: ${total(s.pending) === 0 ? "no rows to stamp" : `would stamp ${describeCounts(s.pending)}`}`,
      );
      for (const line of surveyLines(d, s)) ctx.log(line);
    }
    return { businessUnit };
  },

  find: (d, ctx, fresh) => locate(d, ctx.clients(d), fresh),

  async absent(d, ctx) {
    const c = ctx.clients(d);
    return (await companyIds(c, [d.companyCode])).has(d.companyCode)
      ? `business unit ${JSON.stringify(d.owningBusinessUnit)} no longer exists in Dataverse ${d.dataverseUrl}`
      : `company ${d.companyCode} no longer exists in Dataverse`;
  },

  // Stamps are business data, made or not by whoever: a bootstrap never takes anything over.
  isLive: () => false,

  async plan(d, found, _ctx, previous): Promise<PlannedChange[]> {
    const s = await found.survey(recordedCutoff(previous, d), "capped");
    if (total(s.pending) === 0) return [];
    return [
      {
        property: "tables",
        effect: `${describeCounts(s.pending)} have no company and would be stamped with ${d.companyCode}`,
        disruptive: false,
      },
    ];
  },

  // What it would not take, and rows made after it ran: said, but no change of their own.
  async remarks(d, found, _ctx, previous) {
    return surveyLines(d, await found.survey(recordedCutoff(previous, d), "capped"));
  },

  async converge(d, _pre, ctx, how) {
    const c = ctx.clients(d);
    const found = how.found ?? (await locate(d, c, true));
    if (!found) {
      throw new DualWriteError(
        `Dataverse ${d.dataverseUrl} has no company ${d.companyCode} (cdm_company) yet. Add ${d.companyCode} to the DualWriteConnection's legalEntities (linking a legal entity creates its company in Dataverse) and make this resource depend on the connection.`,
        "CompanyNotFound",
      );
    }
    const before = await found.survey(recordedCutoff(how.previous, d), "capped");
    for (const line of surveyLines(d, before)) ctx.log(line);
    const stampedRows = await stampRows(d, c, ctx, found.companyId, before);
    const after = await survey(
      d,
      c,
      found.businessUnit,
      found.companyId,
      before.selection.cutoff,
      "exact",
    );
    return {
      id: found.companyId,
      outs: { companyId: found.companyId, stampedRows, ...observedOutputs(after) },
    };
  },

  async observe(d, found, _ctx, props) {
    const s = await found.survey(recordedCutoff(props, d), "exact");
    return { companyId: found.companyId, ...observedOutputs(s) };
  },

  release(d, _props, ctx) {
    // The stamp is part of the business rows and the lookup is read-only once saved; nothing to undo.
    ctx.log(`CompanyBootstrap ${d.companyCode}: forgotten; stamped rows keep their company`);
    return Promise.resolve();
  },
};

/** CompanyBootstrap's lifecycle, derived from its spec. */
export const companyBootstrapLifecycle: Lifecycle<CompanyBootstrapInputs, CompanyBootstrapOutputs> =
  lifecycleOf(companyBootstrapSpec);
