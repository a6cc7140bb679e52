/**
 * What dual-write did in one emulated environment pair, read through the emulator's control API
 * (`/_emulator/…`, never used by the provider): the link and its legal entities, the companies in
 * Dataverse with their business unit and owner team, the maps with state and version, and the
 * customers and customer groups of each company on both sides. The demo prints it; the end-to-end
 * tests assert on it.
 */
import type { EmulatorControl } from "../emulator/index";

/** A row as the control API returns it. */
type Row = Record<string, unknown>;

/** The link of a pair, as the runtime holds it. */
export interface LinkReport {
  readonly legalEntities: readonly string[];
  readonly appliedSolutions: readonly string[];
}

/** A `cdm_companies` row of the Dataverse side, with what enabling it created. */
export interface CompanyReport {
  readonly code: string;
  readonly name: string;
  readonly enabled: boolean;
  /** Name of the business unit of its default owning team. */
  readonly businessUnit?: string;
  /** Name of its default owning team ("<code> DW"). */
  readonly team?: string;
}

/** One map of the link. */
export interface MapReport {
  readonly name: string;
  /** `Running`, `Stopped`, … */
  readonly state: string;
  /** Active version, e.g. `1.0.0.5`. */
  readonly version: string;
  readonly author: string;
}

/** The business keys of one company on both sides, for the synced tables. */
export interface CompanyRows {
  readonly company: string;
  /** F&O `CustomersV3` of PartyType Organization ↔ Dataverse `accounts` (by account number). */
  readonly fnoAccounts: readonly string[];
  readonly dataverseAccounts: readonly string[];
  /** F&O `CustomersV3` of PartyType Person ↔ Dataverse `contacts` (by contact person id). */
  readonly fnoContacts: readonly string[];
  readonly dataverseContacts: readonly string[];
  /** F&O `CustomerGroups` ↔ Dataverse `msdyn_customergroups` (by group id). */
  readonly fnoGroups: readonly string[];
  readonly dataverseGroups: readonly string[];
}

/** Dataverse rows without a company, per table and owning business unit name. */
export type UnstampedRows = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Everything the report reads about one pair. */
export interface PairReport {
  readonly name: string;
  /** Undefined when the pair is not linked. */
  readonly link?: LinkReport;
  readonly companies: readonly CompanyReport[];
  /** Empty when not linked. */
  readonly maps: readonly MapReport[];
  /** Per legal entity of F&O (and per company known to Dataverse). */
  readonly rows: readonly CompanyRows[];
  readonly unstamped: UnstampedRows;
}

/** Reads the whole report of pair `name`. */
export async function readPairReport(control: EmulatorControl, name: string): Promise<PairReport> {
  const rows = (store: "dataverse" | "fno", table: string): Promise<Row[]> =>
    control.rows(store, name, table);
  const [
    links,
    companies,
    units,
    teams,
    accounts,
    contacts,
    groups,
    legalEntities,
    customers,
    fnoGroups,
  ] = await Promise.all([
    control.call<Array<Row>>("GET", "links"),
    rows("dataverse", "cdm_companies"),
    rows("dataverse", "businessunits"),
    rows("dataverse", "teams"),
    rows("dataverse", "accounts"),
    rows("dataverse", "contacts"),
    rows("dataverse", "msdyn_customergroups"),
    rows("fno", "LegalEntities"),
    rows("fno", "CustomersV3"),
    rows("fno", "CustomerGroups"),
  ]);

  const link = links.find((l) => l.fnoEnv === name);
  const maps = link ? await readMaps(control, name) : [];

  const unitName = new Map(units.map((u) => [String(u.businessunitid), String(u.name)]));
  const teamById = new Map(teams.map((t) => [String(t.teamid), t]));
  const companyReports: CompanyReport[] = companies.map((c) => {
    const team = teamById.get(String(c._cdm_defaultowningteam_value));
    const unit = team ? unitName.get(String(team._businessunitid_value)) : undefined;
    return {
      code: String(c.cdm_companycode),
      name: text(c.cdm_name),
      enabled: c.cdm_isenabledfordualwrite === true,
      ...(unit !== undefined && { businessUnit: unit }),
      ...(team !== undefined && { team: String(team.name) }),
    };
  });

  const codeById = new Map(
    companies.map((c) => [String(c.cdm_companyid), String(c.cdm_companycode).toUpperCase()]),
  );
  const codes = new Set<string>([
    ...legalEntities.map((l) => String(l.LegalEntityId).toUpperCase()),
    ...codeById.values(),
  ]);
  const ofCompany = (list: Row[], code: string, key: string): string[] =>
    list
      .filter((r) => codeById.get(String(r._msdyn_company_value)) === code)
      .map((r) => String(r[key]))
      .sort();
  const inArea = (list: Row[], code: string): Row[] =>
    list.filter((r) => String(r.dataAreaId).toUpperCase() === code);
  const rowReports: CompanyRows[] = [...codes].sort().map((code) => ({
    company: code,
    fnoAccounts: inArea(customers, code)
      .filter((c) => c.PartyType === "Organization")
      .map((c) => String(c.CustomerAccount))
      .sort(),
    dataverseAccounts: ofCompany(accounts, code, "accountnumber"),
    fnoContacts: inArea(customers, code)
      .filter((c) => c.PartyType === "Person")
      .map((c) => String(c.CustomerAccount))
      .sort(),
    dataverseContacts: ofCompany(contacts, code, "msdyn_contactpersonid"),
    fnoGroups: inArea(fnoGroups, code)
      .map((g) => String(g.CustomerGroupId))
      .sort(),
    dataverseGroups: ofCompany(groups, code, "msdyn_groupid"),
  }));

  const unstamped: Record<string, Record<string, number>> = {};
  for (const [table, list] of [
    ["accounts", accounts],
    ["contacts", contacts],
    ["msdyn_customergroups", groups],
  ] as const) {
    const perUnit: Record<string, number> = {};
    for (const r of list) {
      if (r._msdyn_company_value !== null && r._msdyn_company_value !== undefined) continue;
      const unit = unitName.get(String(r._owningbusinessunit_value)) ?? "(no business unit)";
      perUnit[unit] = (perUnit[unit] ?? 0) + 1;
    }
    unstamped[table] = perUnit;
  }

  return {
    name,
    ...(link && {
      link: {
        legalEntities: (link.legalEntities as string[] | undefined) ?? [],
        appliedSolutions: (link.appliedSolutions as string[] | undefined) ?? [],
      },
    }),
    companies: companyReports,
    maps,
    rows: rowReports,
    unstamped,
  };
}

/** The maps of a linked pair, in start order. */
export async function readMaps(control: EmulatorControl, name: string): Promise<MapReport[]> {
  const maps = await control.call<Array<Row>>("GET", `maps?env=${encodeURIComponent(name)}`);
  return maps.map((m) => {
    const active = (m.activeTemplate ?? {}) as Row;
    return {
      name: String(m.name),
      state: String(m.stateName ?? m.state),
      version: text(active.version),
      author: text(active.author),
    };
  });
}

/** A column value as text ("" when absent or not a scalar). */
function text(value: unknown): string {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : "";
}

/** Rows of a company that exist on one side only, per table (empty lists = parity). */
export function rowDifferences(
  rows: CompanyRows,
): Record<
  "accounts" | "contacts" | "customerGroups",
  { onlyInFinanceOperations: string[]; onlyInDataverse: string[] }
> {
  const diff = (
    fno: readonly string[],
    dv: readonly string[],
  ): { onlyInFinanceOperations: string[]; onlyInDataverse: string[] } => {
    const inDv = new Set(dv);
    const inFno = new Set(fno);
    return {
      onlyInFinanceOperations: fno.filter((k) => !inDv.has(k)),
      onlyInDataverse: dv.filter((k) => !inFno.has(k)),
    };
  };
  return {
    accounts: diff(rows.fnoAccounts, rows.dataverseAccounts),
    contacts: diff(rows.fnoContacts, rows.dataverseContacts),
    customerGroups: diff(rows.fnoGroups, rows.dataverseGroups),
  };
}

/** A plain-text summary of a report for people (the demo prints it). */
export function formatPairReport(report: PairReport): string {
  const lines: string[] = [];
  const pad = (text: string, width: number): string => text.padEnd(width);
  if (!report.link) {
    lines.push(`Environment pair "${report.name}" is not linked.`);
    return lines.join("\n");
  }
  lines.push(`Link: F&O "${report.name}" ↔ Dataverse "${report.name}"`);
  lines.push(`  legal entities: ${report.link.legalEntities.join(", ") || "(none)"}`);
  lines.push(`  solutions applied: ${report.link.appliedSolutions.join(", ") || "(none)"}`);
  lines.push("");
  lines.push("Companies enabled for dual-write in Dataverse:");
  const enabled = report.companies
    .filter((x) => x.enabled)
    .sort((a, b) => a.code.localeCompare(b.code));
  const nameWidth = Math.max(0, ...enabled.map((c) => c.name.length)) + 2;
  for (const c of enabled) {
    lines.push(
      `  ${pad(c.code, 6)}${pad(c.name, nameWidth)}business unit "${c.businessUnit ?? "?"}", owner team "${c.team ?? "?"}"`,
    );
  }
  lines.push("");
  // The applied solutions publish many maps; the ones nobody started stay Stopped and are summed up.
  const idle = new Set(["Stopped", "NotRunning", "None"]);
  const active = report.maps.filter((m) => !idle.has(m.state));
  const width = Math.max(0, ...active.map((m) => m.name.length)) + 2;
  lines.push("Maps:");
  for (const m of active) {
    lines.push(`  ${pad(m.name, width)}${pad(m.state, 10)} version ${m.version} (${m.author})`);
  }
  const others = report.maps.length - active.length;
  if (others > 0) lines.push(`  (${others} more maps of the applied solutions, not started)`);
  lines.push("");
  lines.push("Rows per company (F&O / Dataverse):");
  lines.push(
    `  ${pad("company", 8)} ${pad("accounts", 12)} ${pad("contacts", 12)} customer groups`,
  );
  const linked = new Set(report.link.legalEntities);
  for (const r of report.rows.filter((x) => linked.has(x.company))) {
    const pair = (a: readonly string[], b: readonly string[]): string =>
      `${a.length} / ${b.length}`;
    lines.push(
      `  ${pad(r.company, 8)} ${pad(pair(r.fnoAccounts, r.dataverseAccounts), 12)} ${pad(pair(r.fnoContacts, r.dataverseContacts), 12)} ${pair(r.fnoGroups, r.dataverseGroups)}`,
    );
  }
  const leftovers = Object.entries(report.unstamped).flatMap(([table, perUnit]) =>
    Object.entries(perUnit).map(([unit, n]) => `${n} ${table} of "${unit}"`),
  );
  lines.push("");
  lines.push(
    leftovers.length === 0
      ? "Dataverse rows without a company: none"
      : `Dataverse rows without a company (not bootstrapped, so not synchronized): ${leftovers.join(", ")}`,
  );
  return lines.join("\n");
}
