/**
 * CompanyBootstrap's lifecycle: stamps the company lookup on existing Dataverse rows that have
 * none, so that dual-write considers them (DW/bootstrap-company-data.md: "Only rows that have
 * company data are eligible"). Rows that carry another company are never touched: every read
 * and write is filtered on an empty company lookup.
 *
 * | step   | HTTP calls                                                                                   |
 * |--------|-----------------------------------------------------------------------------------------------|
 * | check  | (new or changed only) GET Dataverse businessunits (owningBusinessUnit); `$count` of unstamped rows per table (printed) |
 * | diff   | GET businessunits (when declared); GET <table>/$count?$filter=_<lookup>_value eq null per table |
 * | create | GET cdm_companies; GET businessunits; GET <table>?$select=<id>&$filter=… (pages); POST <table>/Microsoft.Dynamics.CRM.UpdateMultiple (≤ 1,000 rows each) |
 * | read   | GET cdm_companies; `$count` per table                                                           |
 * | update | as create                                                                                      |
 * | delete | nothing: a stamp is business data and stays                                                  |
 */
import { DualWriteError } from "../../errors";
import { normalizeUrl, UNKNOWN, type CheckFailure } from "../common/check";
import { columnText, companyColumnOf, companyIds, logicalNameOf } from "../common/companies";
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
import { sameUrl } from "../dualWriteConnection/dualWriteConnection.schema";
import {
  companyBootstrapSchemas,
  DEFAULT_TABLES,
  type CompanyBootstrapInputs,
  type CompanyBootstrapOutputs,
} from "./companyBootstrap.schema";

const RESOURCE = "CompanyBootstrap";
const REPLACE_ON_CHANGE = ["companyCode", "financeOperationsUrl", "dataverseUrl"] as const;
const DECLARED = [
  "financeOperationsUrl",
  "dataverseUrl",
  "companyCode",
  "tables",
  "owningBusinessUnit",
] as const satisfies readonly (keyof CompanyBootstrapInputs)[];

interface Desired {
  readonly financeOperationsUrl: string;
  readonly dataverseUrl: string;
  readonly companyCode: string;
  readonly tables: readonly string[];
  readonly owningBusinessUnit: string | undefined;
}

function desired(inputs: CompanyBootstrapInputs): Desired {
  return {
    financeOperationsUrl: normalizeUrl(inputs.financeOperationsUrl),
    dataverseUrl: normalizeUrl(inputs.dataverseUrl),
    companyCode: inputs.companyCode.toUpperCase(),
    tables: inputs.tables ?? [...DEFAULT_TABLES],
    owningBusinessUnit: inputs.owningBusinessUnit,
  };
}

function validInputs(inputs: CompanyBootstrapInputs): Desired {
  const { list, unknown } = collectPropertyFailures(
    RESOURCE,
    companyBootstrapSchemas,
    inputs as unknown as Record<string, unknown>,
  );
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

/** The filter of rows this bootstrap would stamp in `table`. */
function unstampedFilter(table: string, businessUnit: string | undefined): string {
  const column = companyColumnOf(table) ?? "msdyn_company";
  return [
    `_${column}_value eq null`,
    ...(businessUnit ? [`_owningbusinessunit_value eq ${businessUnit}`] : []),
  ].join(" and ");
}

/** Unstamped rows per table. */
async function pendingRows(
  d: Desired,
  c: Clients,
  businessUnit: string | undefined,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of d.tables)
    counts[table] = await c.dataverse.count(table, unstampedFilter(table, businessUnit));
  return counts;
}

function describeCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .map(([table, n]) => `${n.toLocaleString("en-US")} ${table}`)
    .join(" and ");
}

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** Stamps every unstamped row of the declared tables; returns the rows stamped per table. */
async function stamp(
  d: Desired,
  c: Clients,
  ctx: HandlerContext,
): Promise<{ companyId: string; stamped: Record<string, number> }> {
  const failures = new FailureList();
  const businessUnit = await businessUnitId(d, c, failures);
  if (!failures.empty) throw new InvalidInputError(RESOURCE, failures.toArray());
  const companyId = (await companyIds(c, [d.companyCode])).get(d.companyCode);
  if (!companyId) {
    throw new DualWriteError(
      `Dataverse ${d.dataverseUrl} has no company ${d.companyCode} (cdm_company) yet. Add ${d.companyCode} to the DualWriteConnection's legalEntities (linking a legal entity creates its company in Dataverse) and make this resource depend on the connection.`,
      "CompanyNotFound",
    );
  }
  const stamped: Record<string, number> = {};
  for (const table of d.tables) {
    const column = companyColumnOf(table) ?? "msdyn_company";
    const logicalName = logicalNameOf(table);
    const key = `${logicalName}id`;
    const rows = await c.dataverse.list(table, {
      select: [key],
      filter: unstampedFilter(table, businessUnit),
    });
    const ids = rows.map((r) => r[key]).filter((id): id is string => typeof id === "string");
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
  return { companyId, stamped };
}

async function observe(
  d: Desired,
  c: Clients,
): Promise<{ companyId: string; pendingRows: Record<string, number> } | undefined> {
  const companyId = (await companyIds(c, [d.companyCode])).get(d.companyCode);
  if (!companyId) return undefined;
  const failures = new FailureList();
  const businessUnit = await businessUnitId(d, c, failures);
  if (!failures.empty) return { companyId, pendingRows: {} };
  return { companyId, pendingRows: await pendingRows(d, c, businessUnit) };
}

async function run(
  inputs: CompanyBootstrapInputs,
  ctx: HandlerContext,
): Promise<CompanyBootstrapOutputs> {
  const d = validInputs(inputs);
  const c = ctx.clients(d);
  const { companyId, stamped } = await stamp(d, c, ctx);
  const observed = await observe(d, c);
  return { ...inputs, companyId, stampedRows: stamped, pendingRows: observed?.pendingRows ?? {} };
}

/** CompanyBootstrap's lifecycle. */
export const companyBootstrapLifecycle: Lifecycle<CompanyBootstrapInputs, CompanyBootstrapOutputs> =
  {
    resource: RESOURCE,

    async check(oldInputs, newInputs, ctx): Promise<CheckFailure[]> {
      const olds = oldInputs as Readonly<Record<string, unknown>>;
      const news = newInputs as Readonly<Record<string, unknown>>;
      const { list, unknown } = collectPropertyFailures(RESOURCE, companyBootstrapSchemas, news);
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
        // The preview of a new bootstrap shows how many rows it would stamp.
        const pending = await pendingRows(d, c, businessUnit);
        ctx.log(
          `CompanyBootstrap ${d.companyCode}: ${total(pending) === 0 ? "no rows without a company" : `would stamp ${describeCounts(pending)}`}`,
        );
      }
      return list.toArray();
    },

    async diff(_id, olds, news, ctx): Promise<DiffOutcome> {
      const replaces = REPLACE_ON_CHANGE.filter((k) => {
        if (news[k] === UNKNOWN) return true;
        return k === "companyCode"
          ? String(olds[k]).toUpperCase() !== String(news[k]).toUpperCase()
          : !sameUrl(String(olds[k]), String(news[k]));
      });
      if (replaces.length > 0)
        return {
          changes: true,
          replaces: [...replaces],
          reasons: replaces.map((k) => `${k} changes`),
        };
      const reasons = diffDeclared<CompanyBootstrapInputs>(olds, news, DECLARED, []).changed.map(
        (k) => `${k} changes`,
      );
      const d = desired(news);
      const observed = await observe(d, ctx.clients(d));
      if (!observed) {
        reasons.push(`company ${d.companyCode} no longer exists in Dataverse`);
      } else if (total(observed.pendingRows) > 0) {
        reasons.push(
          `${describeCounts(observed.pendingRows)} have no company and would be stamped with ${d.companyCode}`,
        );
      }
      return { changes: reasons.length > 0, replaces: [], reasons };
    },

    async create(inputs, ctx) {
      const outs = await run(inputs, ctx);
      return { id: outs.companyId, outs };
    },

    async read(id, props, ctx): Promise<ReadOutcome<CompanyBootstrapOutputs>> {
      const d = desired(props);
      const observed = await observe(d, ctx.clients(d));
      return observed ? { id, props: { ...props, ...observed } } : undefined;
    },

    async update(_id, _olds, news, ctx) {
      return run(news, ctx);
    },

    delete(_id, props, ctx) {
      // The stamp is part of the business rows and the lookup is read-only once saved; nothing to undo.
      ctx.log(`CompanyBootstrap ${props.companyCode}: forgotten; stamped rows keep their company`);
      return Promise.resolve();
    },
  };
