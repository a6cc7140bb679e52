/**
 * CompanyBootstrap's lifecycle: stamps the company lookup on existing Dataverse rows that have
 * none, so that dual-write considers them (DW/bootstrap-company-data.md: "Only rows that have
 * company data are eligible"). Rows that carry another company are never touched: every read
 * and write is filtered on an empty company lookup.
 *
 * What it covers and what it leaves alone is `eligibility.ts`: the selection (tables, business
 * unit, creation cutoff — rows a live org creates after the bootstrap ran are not drift unless
 * `stampNewRows`), and the rows of it that dual-write would reject (no customer group, a group of
 * another company, a group nobody stamps), which are reported in preview and left unstamped. Tables
 * are stamped in lookup order, and the preview says when a table's map runs (each stamp is then a
 * live write to F&O).
 *
 * | step   | HTTP calls                                                                                   |
 * |--------|-----------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET Dataverse businessunits (owningBusinessUnit); GET <table>?$select=createdon&$orderby=createdon desc&$top=1 (the cutoff); GET cdm_companies; linked: GET DWM/Environments, GET DWM/Entities, GET DWM/<pid>/FieldMappings (source filter); per table the selection's rows and lookup targets (GET <table>?$filter=…); `$count` of rows to stamp (printed with the problems) |
 * | diff   | as check, with the recorded cutoff; rows without a company created after it are counted (printed, not drift) |
 * | create | the check's reads; per table in lookup order GET <table>?$select=<id>&$filter=… (pages); POST <table>/Microsoft.Dynamics.CRM.UpdateMultiple (≤ 1,000 rows each) |
 * | read   | as diff                                                                                        |
 * | update | as create                                                                                      |
 * | delete | nothing: a stamp is business data and stays                                                  |
 */
import { DualWriteError } from "../../errors";
import type { GatewayMap } from "../../clients/gateway";
import { normalizeUrl, type CheckFailure } from "../common/check";
import { columnText, companyColumnOf, companyIds, logicalNameOf } from "../common/companies";
import {
  describeProblem,
  inspect,
  newestRowTime,
  selectionFilter,
  stampingOrder,
  type Inspection,
  type Selection,
} from "./eligibility";
import { deepEqual, diffDeclared } from "../common/diff";
import {
  collectPropertyFailures,
  FailureList,
  InvalidInputError,
  throwUnlessValid,
} from "../common/failures";
import type {
  Clients,
  DiffOutcome,
  HandlerContext,
  Lifecycle,
  ReadOutcome,
} from "../common/handler";
import {
  missingReferences,
  replacedProperties,
  sameCode,
  sameEnvironment,
  type Comparator,
} from "../common/spec";
import {
  companyBootstrapSchemas,
  DEFAULT_TABLES,
  type CompanyBootstrapInputs,
  type CompanyBootstrapOutputs,
} from "./companyBootstrap.schema";

const RESOURCE = "CompanyBootstrap";
/** Inputs whose change stamps another company or environment: the bootstrap is replaced. */
const REPLACE_ON_CHANGE = {
  companyCode: sameCode,
  financeOperationsUrl: sameEnvironment,
  dataverseUrl: sameEnvironment,
} as const satisfies Partial<Record<keyof CompanyBootstrapInputs, Comparator>>;
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

/** The resource this one belongs to, with the lifecycle inputs it gives (`common/spec.ts`). */
const REFERENCES = {
  connection: {
    target: "DualWriteConnection",
    inputs: ["financeOperationsUrl", "dataverseUrl", "connectionLegalEntities"],
  },
} as const;

/**
 * The rules that need no environment: a missing `connection` named, each property's schema, and
 * the company code among the legal entities the connection declares — known in a preview that
 * creates the link, so that `ZZZZ` is refused before anything is written rather than at `up`.
 */
function pureCheck(news: Readonly<Record<string, unknown>>): {
  list: FailureList;
  unknown: ReadonlySet<string>;
} {
  const refs = missingReferences(RESOURCE, REFERENCES, news);
  const schemas = Object.fromEntries(
    Object.entries(companyBootstrapSchemas).filter(([k]) => !refs.derived.has(k)),
  );
  const { list, unknown, values } = collectPropertyFailures(RESOURCE, schemas, news);
  list.addAll(refs.failures);
  const declared = values.connectionLegalEntities;
  const code = values.companyCode;
  if (Array.isArray(declared) && typeof code === "string" && !list.has("companyCode")) {
    const codes = declared.map((c) => String(c).toUpperCase());
    if (!codes.includes(code.toUpperCase()))
      list.add(
        "companyCode",
        `${code.toUpperCase()} is not among the legal entities the connection declares (${codes.join(", ") || "none"}), so Dataverse would have no company ${code.toUpperCase()} to stamp rows with. Add it to the DualWriteConnection's legalEntities, or fix companyCode.`,
      );
  }
  return { list, unknown };
}

function validInputs(inputs: CompanyBootstrapInputs): Desired {
  const { list, unknown } = pureCheck(inputs as unknown as Record<string, unknown>);
  throwUnlessValid(RESOURCE, list, unknown, "before rows are stamped");
  return desired(inputs);
}

/** The business unit's id, or undefined (and a failure) when Dataverse has none of that name. */
async function businessUnitId(
  d: Desired,
  c: Clients,
  failures: FailureList,
): Promise<string | undefined> {
  if (d.owningBusinessUnit === undefined) return undefined;
  const rows = await c.dataverse.list("businessunits", { select: ["businessunitid", "name"] });
  const found = rows.find(
    (r) => columnText(r, "name").toLowerCase() === d.owningBusinessUnit?.toLowerCase(),
  );
  if (!found || typeof found.businessunitid !== "string") {
    const names = rows
      .map((r) => columnText(r, "name"))
      .filter((n) => n !== "")
      .sort();
    failures.add(
      "owningBusinessUnit",
      `Dataverse ${d.dataverseUrl} has no business unit named ${JSON.stringify(d.owningBusinessUnit)} (it has ${names.slice(0, 10).join(", ") || "none"}${names.length > 10 ? ", …" : ""}). Fix the name, or leave it out to stamp rows of every business unit.`,
    );
    return undefined;
  }
  return found.businessunitid;
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

/** What the bootstrap covers now, and what of it dual-write would reject. */
interface Survey {
  readonly selection: Selection;
  readonly companyId: string | undefined;
  readonly inspection: Inspection;
  /** Per table: rows of the selection the bootstrap would stamp (rejected ones left out). */
  readonly pending: Record<string, number>;
  /** Per table: rows without a company created after the cutoff (not covered). */
  readonly newer: Record<string, number>;
}

/** Reads the selection of every table and inspects it (reads only). */
async function survey(
  d: Desired,
  c: Clients,
  businessUnit: string | undefined,
  recordedCutoff: string | undefined,
): Promise<Survey> {
  const cutoff = await cutoffOf(d, c, recordedCutoff);
  const selection: Selection = { businessUnit, cutoff };
  const companyId = (await companyIds(c, [d.companyCode])).get(d.companyCode);
  const inspection = await inspect(
    c,
    d.tables,
    selection,
    { code: d.companyCode, id: companyId },
    await linkMaps(d, c),
  );
  const pending: Record<string, number> = {};
  const newer: Record<string, number> = {};
  for (const table of d.tables) {
    const refused = inspection.refused.get(table)?.size ?? 0;
    pending[table] = Math.max(
      0,
      (await c.dataverse.count(table, selectionFilter(table, selection))) - refused,
    );
    if (cutoff !== undefined && d.createdBefore === undefined) {
      const later = selectionFilter(table, { businessUnit, cutoff: undefined });
      newer[table] = await c.dataverse.count(table, `${later} and createdon gt ${cutoff}`);
    }
  }
  return { selection, companyId, inspection, pending, newer };
}

/** The lines a preview prints about a survey. */
function surveyLines(d: Desired, s: Survey): string[] {
  const lines = [...s.inspection.problems.map((p) => describeProblem(p)), ...s.inspection.liveSync];
  if (s.inspection.filterUnknown.length > 0)
    lines.push(
      `the source filters of the maps of ${s.inspection.filterUnknown.join(", ")} are not known until the maps are on the link: rows outside them are not reported yet`,
    );
  const newer = Object.entries(s.newer).filter(([, n]) => n > 0);
  if (newer.length > 0)
    lines.push(
      `${describeCounts(Object.fromEntries(newer))} without a company were created after ${s.selection.cutoff ?? ""}, when this bootstrap first ran: not covered (set stampNewRows: true to stamp new rows too, or createdBefore)`,
    );
  return lines.map((l) => `CompanyBootstrap ${d.companyCode}: ${l}`);
}

function describeCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .map(([table, n]) => `${n.toLocaleString("en-US")} ${table}`)
    .join(" and ");
}

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/**
 * Stamps the covered rows of the declared tables, in lookup order, leaving out the rows dual-write
 * would reject; returns the rows stamped per table and the survey made first.
 */
async function stamp(
  d: Desired,
  c: Clients,
  ctx: HandlerContext,
  recordedCutoff: string | undefined,
): Promise<{ companyId: string; stamped: Record<string, number>; before: Survey }> {
  const failures = new FailureList();
  const businessUnit = await businessUnitId(d, c, failures);
  if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
  const before = await survey(d, c, businessUnit, recordedCutoff);
  const companyId = before.companyId;
  if (!companyId) {
    throw new DualWriteError(
      `Dataverse ${d.dataverseUrl} has no company ${d.companyCode} (cdm_company) yet. Add ${d.companyCode} to the DualWriteConnection's legalEntities (linking a legal entity creates its company in Dataverse) and make this resource depend on the connection.`,
      "CompanyNotFound",
    );
  }
  for (const line of surveyLines(d, before)) ctx.log(line);
  const stamped: Record<string, number> = {};
  for (const table of d.tables) stamped[table] = 0;
  for (const table of stampingOrder(d.tables)) {
    const column = companyColumnOf(table) ?? "msdyn_company";
    const logicalName = logicalNameOf(table);
    const key = `${logicalName}id`;
    const refused = before.inspection.refused.get(table);
    const rows = await c.dataverse.list(table, {
      select: [key],
      filter: selectionFilter(table, before.selection),
    });
    const ids = rows
      .map((r) => r[key])
      .filter((id): id is string => typeof id === "string" && !refused?.has(id.toLowerCase()));
    stamped[table] = ids.length;
    if (ids.length === 0) continue;
    ctx.log(
      `Stamping ${ids.length.toLocaleString("en-US")} ${table} with company ${d.companyCode}`,
    );
    await c.dataverse.updateMultiple(
      table,
      logicalName,
      ids.map((id) => ({ [key]: id, [`${column}@odata.bind`]: `/cdm_companies(${companyId})` })),
    );
  }
  return { companyId, stamped, before };
}

/** The bootstrap as observed: its company, what is left to stamp, and the rows it will not take. */
async function observe(
  d: Desired,
  c: Clients,
  recordedCutoff: string | undefined,
): Promise<Survey | undefined> {
  const companyId = (await companyIds(c, [d.companyCode])).get(d.companyCode);
  if (!companyId) return undefined;
  const failures = new FailureList();
  const businessUnit = await businessUnitId(d, c, failures);
  if (!failures.empty) return undefined;
  return survey(d, c, businessUnit, recordedCutoff);
}

/** The outputs of what was observed. */
function observedOutputs(
  s: Survey,
): Pick<CompanyBootstrapOutputs, "pendingRows" | "rowProblems" | "selectionCutoff"> {
  return {
    pendingRows: s.pending,
    rowProblems: s.inspection.problems,
    ...(s.selection.cutoff !== undefined && { selectionCutoff: s.selection.cutoff }),
  };
}

async function run(
  inputs: CompanyBootstrapInputs,
  ctx: HandlerContext,
  recordedCutoff: string | undefined,
): Promise<CompanyBootstrapOutputs> {
  const d = validInputs(inputs);
  const c = ctx.clients(d);
  const { companyId, stamped, before } = await stamp(d, c, ctx, recordedCutoff);
  const after = await observe(d, c, before.selection.cutoff);
  return {
    ...inputs,
    companyId,
    stampedRows: stamped,
    ...(after ? observedOutputs(after) : { pendingRows: {}, rowProblems: [] }),
  };
}

/** The cutoff recorded in the state, unless the declaration's selection changed how it is made. */
function recordedCutoff(olds: CompanyBootstrapOutputs, news: Desired): string | undefined {
  if (news.createdBefore !== undefined || news.stampNewRows) return undefined;
  return olds.createdBefore === undefined && olds.stampNewRows !== true
    ? olds.selectionCutoff
    : undefined;
}

/** CompanyBootstrap's lifecycle. */
export const companyBootstrapLifecycle: Lifecycle<CompanyBootstrapInputs, CompanyBootstrapOutputs> =
  {
    resource: RESOURCE,

    async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
      const olds = oldInputs as Readonly<Record<string, unknown>>;
      const news = newInputs as Readonly<Record<string, unknown>>;
      const { list, unknown } = pureCheck(news);
      if (!list.empty || unknown.size > 0) return list.toArray();
      const inputs = news as unknown as CompanyBootstrapInputs;
      const previous = olds as Partial<CompanyBootstrapInputs>;
      if (
        previous.companyCode !== undefined &&
        DECLARED.every((k) => deepEqual(previous[k], inputs[k]))
      )
        return [];
      const d = desired(inputs);
      const c = ctx.clients(d);
      const businessUnit = await businessUnitId(d, c, list);
      if (list.empty) {
        // The preview of a new (or changed) bootstrap shows what it would stamp, and what it would not.
        const s = await survey(d, c, businessUnit, undefined);
        ctx.log(
          `CompanyBootstrap ${d.companyCode}: ${total(s.pending) === 0 ? "no rows to stamp" : `would stamp ${describeCounts(s.pending)} (exact counts)`}`,
        );
        for (const line of surveyLines(d, s)) ctx.log(line);
      }
      return list.toArray();
    },

    async diff(_id, olds, news, ctx): Promise<DiffOutcome> {
      const replaces = replacedProperties(REPLACE_ON_CHANGE, olds, news);
      if (replaces.length > 0)
        return {
          changes: true,
          replaces,
          reasons: replaces.map((k) => `${k} changes`),
        };
      const reasons = diffDeclared<CompanyBootstrapInputs>(olds, news, DECLARED, []).changed.map(
        (k) => `${k} changes`,
      );
      const d = desired(news);
      const observed = await observe(d, ctx.clients(d), recordedCutoff(olds, d));
      if (!observed) {
        reasons.push(`company ${d.companyCode} no longer exists in Dataverse`);
        return { changes: true, replaces: [], reasons };
      }
      if (total(observed.pending) > 0) {
        reasons.push(
          `${describeCounts(observed.pending)} have no company and would be stamped with ${d.companyCode} (exact counts)`,
        );
      }
      const changes = reasons.length > 0;
      // What it would not take, and rows made after it ran: said, but no change of their own.
      return { changes, replaces: [], reasons: [...reasons, ...surveyLines(d, observed)] };
    },

    async create(inputs, ctx) {
      const outs = await run(inputs, ctx, undefined);
      return { id: outs.companyId, outs };
    },

    async read(id, props, ctx): Promise<ReadOutcome<CompanyBootstrapOutputs>> {
      const d = desired(props);
      const observed = await observe(d, ctx.clients(d), recordedCutoff(props, d));
      return observed
        ? {
            id,
            props: {
              ...props,
              companyId: observed.companyId ?? props.companyId,
              ...observedOutputs(observed),
            },
          }
        : undefined;
    },

    async update(_id, olds, news, ctx) {
      return run(news, ctx, recordedCutoff(olds, desired(news)));
    },

    delete(_id, props, ctx) {
      // The stamp is part of the business rows and the lookup is read-only once saved; nothing to undo.
      ctx.log(`CompanyBootstrap ${props.companyCode}: forgotten; stamped rows keep their company`);
      return Promise.resolve();
    },
  };
