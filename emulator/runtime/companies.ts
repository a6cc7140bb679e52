/**
 * Enabling a company for dual-write (DW/company-data.md): linking a legal entity, or adding it to
 * a link, creates or re-enables its `cdm_companies` row (code = LegalEntityId, name = F&O name),
 * a business unit with the company's name, an owner team "<code> DW" in that unit, and sets the
 * company's default owning team. Every write here has origin "runtime", so no map echoes it.
 */
import type { Row, TableSet } from "../store/tables";
import { DataverseTables, FinanceOperationsTables } from "../store/schema";
import { companyRow } from "./adapters";
import { gatewayErrors } from "./errors";
import { guidFrom } from "./ids";
import { cellText } from "./names";

/** A legal entity as F&O has it. */
export interface LegalEntityInfo {
  readonly code: string;
  readonly name: string;
}

/** Legal entities of an F&O environment, by upper-case code. */
export function legalEntitiesOf(fno: TableSet): Map<string, LegalEntityInfo> {
  const out = new Map<string, LegalEntityInfo>();
  for (const { row } of fno.all(FinanceOperationsTables.legalEntities)) {
    const code = cellText(row.LegalEntityId).toUpperCase();
    if (code) out.set(code, { code, name: typeof row.Name === "string" ? row.Name : "" });
  }
  return out;
}

/**
 * Checks that `codes` can be enabled: every code exists in F&O, and no company name is blank or
 * used twice (among the enabled set and the other companies already in Dataverse). Throws the
 * gateway error the real service answers.
 */
export function checkCompanies(
  codes: readonly string[],
  fno: TableSet,
  dv: TableSet,
  fnoEnv: string,
): void {
  const known = legalEntitiesOf(fno);
  const missing = codes.filter((c) => !known.has(c));
  if (missing.length > 0) throw gatewayErrors.unknownLegalEntity(missing, fnoEnv);
  const names = new Map<string, string>();
  for (const { row } of dv.all(DataverseTables.companies)) {
    const code = cellText(row.cdm_companycode).toUpperCase();
    if (!codes.includes(code) && typeof row.cdm_name === "string" && row.cdm_name.trim() !== "") {
      names.set(row.cdm_name.trim().toLowerCase(), code);
    }
  }
  for (const code of codes) {
    const name = (known.get(code)?.name ?? "").trim();
    if (name === "")
      throw gatewayErrors.saveConnectionSetFailed(`Legal entity '${code}' has a blank name.`);
    const other = names.get(name.toLowerCase());
    if (other !== undefined) {
      throw gatewayErrors.saveConnectionSetFailed(
        `Legal entities '${other}' and '${code}' have the same name '${name}'; company names must be unique.`,
      );
    }
    names.set(name.toLowerCase(), code);
  }
}

/** The root business unit of an org (the one without a parent), if any. An index lookup. */
export function rootBusinessUnit(dv: TableSet): Row | undefined {
  return dv.findFirst(DataverseTables.businessUnits, { _parentbusinessunitid_value: null })?.stored
    .row;
}

/**
 * The row of `table` whose `name` is exactly `name`. Names are indexed (without case); only the
 * rows of that index entry are read.
 */
function rowNamed(dv: TableSet, table: string, name: string): Row | undefined {
  const access = dv.access(table, new Map([["name", name]]));
  for (const [, stored] of dv.walk(table, access.keys))
    if (stored.row.name === name) return stored.row;
  return undefined;
}

/** The legal entity of a code, read by key (not by listing the entity). */
function legalEntityOf(fno: TableSet, code: string): LegalEntityInfo | undefined {
  const table = FinanceOperationsTables.legalEntities;
  const row = fno.get(table, fno.keyOf(table, { LegalEntityId: code }))?.row;
  if (!row) return undefined;
  return { code: code.toUpperCase(), name: typeof row.Name === "string" ? row.Name : "" };
}

/** Enables one company (see the module comment). Idempotent. */
export function enableCompany(
  code: string,
  fno: TableSet,
  dv: TableSet,
  org: string,
  now: number,
): void {
  const info = legalEntityOf(fno, code);
  const name = (info?.name ?? code).trim();
  const stamp = new Date(now).toISOString();

  const existing = companyRow(dv, code);
  let companyId: string;
  if (existing) {
    companyId = String(existing.row.cdm_companyid);
    if (existing.row.cdm_isenabledfordualwrite !== true) {
      dv.update(
        DataverseTables.companies,
        dv.keyOf(DataverseTables.companies, existing.row),
        { cdm_isenabledfordualwrite: true, modifiedon: stamp },
        "runtime",
      );
    }
  } else {
    companyId = guidFrom("company", org, code);
    dv.insert(
      DataverseTables.companies,
      {
        cdm_companyid: companyId,
        cdm_companycode: code,
        cdm_name: name,
        cdm_isenabledfordualwrite: true,
        _cdm_defaultowningteam_value: null,
        statecode: 0,
        statuscode: 1,
        createdon: stamp,
        modifiedon: stamp,
      },
      "runtime",
    );
  }

  // The plug-in's business unit carries the company's name.
  let bu = rowNamed(dv, DataverseTables.businessUnits, name);
  if (!bu) {
    bu = {
      businessunitid: guidFrom("businessunit", org, code),
      name,
      _parentbusinessunitid_value: rootBusinessUnit(dv)?.businessunitid ?? null,
      isdisabled: false,
      createdon: stamp,
      modifiedon: stamp,
    };
    dv.insert(DataverseTables.businessUnits, bu, "runtime");
  }

  const teamName = `${code} DW`;
  let team = rowNamed(dv, DataverseTables.teams, teamName);
  if (!team) {
    team = {
      teamid: guidFrom("team", org, code),
      name: teamName,
      teamtype: 0,
      isdefault: false,
      _businessunitid_value: bu.businessunitid,
      createdon: stamp,
      modifiedon: stamp,
    };
    dv.insert(DataverseTables.teams, team, "runtime");
  }

  // Admins may have chosen another default owning team; only fill it when empty.
  const current = dv.get(DataverseTables.companies, companyId.toLowerCase())?.row;
  if (current && !current._cdm_defaultowningteam_value) {
    dv.update(
      DataverseTables.companies,
      companyId.toLowerCase(),
      { _cdm_defaultowningteam_value: team.teamid, modifiedon: stamp },
      "runtime",
    );
  }
}

/** Marks a company as no longer enabled (its rows, unit and team stay). */
export function disableCompany(code: string, dv: TableSet, now: number): void {
  const existing = companyRow(dv, code);
  if (existing && existing.row.cdm_isenabledfordualwrite !== false) {
    dv.update(
      DataverseTables.companies,
      dv.keyOf(DataverseTables.companies, existing.row),
      { cdm_isenabledfordualwrite: false, modifiedon: new Date(now).toISOString() },
      "runtime",
    );
  }
}
