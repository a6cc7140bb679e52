/**
 * Company striping in Dataverse: which lookup column ties a table's rows to a company
 * (`cdm_company`), and how to find a company's row by its code.
 */
import { MAP_CATALOG } from "../../scenario/catalog";
import type { Clients } from "./handler";

// Tables the bootstrap knows best (DW/bootstrap-company-data.md: account.msdyn_company,
// contact.msdyn_company, product.msdyn_companyid); the rest come from the catalog's keys.
const KNOWN_COMPANY_COLUMNS: Readonly<Record<string, string>> = {
  accounts: "msdyn_company",
  contacts: "msdyn_company",
  msdyn_customergroups: "msdyn_company",
  products: "msdyn_companyid",
};

/**
 * The lookup column that stripes `entitySet` by company, or undefined when the table is not
 * company-specific as far as the provider knows. For catalog tables it is the lookup of the
 * integration key that ends in `.cdm_companycode` (e.g. `msdyn_company.cdm_companycode`).
 */
export function companyColumnOf(entitySet: string): string | undefined {
  const known = KNOWN_COMPANY_COLUMNS[entitySet];
  if (known) return known;
  const entry = MAP_CATALOG.find((m) => m.dataverseEntitySet === entitySet && m.companySpecific);
  const key = entry?.integrationKeys.find((k) => /^[a-z_]+\.cdm_companycode$/i.test(k));
  return key?.split(".")[0];
}

/** Every table whose company column the provider knows, for messages. */
export function companyTables(): string[] {
  const sets = new Set(Object.keys(KNOWN_COMPANY_COLUMNS));
  for (const m of MAP_CATALOG)
    if (companyColumnOf(m.dataverseEntitySet)) sets.add(m.dataverseEntitySet);
  return [...sets].sort();
}

/**
 * The table's logical name from its entity set (`accounts` → `account`,
 * `msdyn_termsofdeliveries` → `msdyn_termsofdelivery`, `msdyn_postaladdresses` →
 * `msdyn_postaladdress`); its primary key is the logical name + `id`.
 */
export function logicalNameOf(entitySet: string): string {
  if (entitySet.endsWith("ies")) return `${entitySet.slice(0, -3)}y`;
  if (entitySet.endsWith("sses")) return entitySet.slice(0, -2);
  if (entitySet.endsWith("s")) return entitySet.slice(0, -1);
  return entitySet;
}

/**
 * A company's `cdm_company` row ids by code (upper case); codes without a row are absent. Every
 * company row is read once and shared with the other resources of the operation (a Dataverse
 * environment has one row per linked legal entity); `fresh` reads them now.
 */
export async function companyIds(
  c: Clients,
  codes: readonly string[],
  how: { fresh?: boolean } = {},
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  if (codes.length === 0) return ids;
  const wanted = new Set(codes.map((code) => code.toUpperCase()));
  const rows = await c.dataverse.listShared(
    "cdm_companies",
    { select: ["cdm_companyid", "cdm_companycode"] },
    how,
  );
  for (const row of rows) {
    const code = columnText(row, "cdm_companycode").toUpperCase();
    const id = row.cdm_companyid;
    if (wanted.has(code) && typeof id === "string") ids.set(code, id);
  }
  return ids;
}

/** A business unit of Dataverse: its id and name. */
export interface BusinessUnit {
  readonly id: string;
  readonly name: string;
}

/**
 * The business units of Dataverse, read once and shared with the other resources of the
 * operation; `fresh` reads them now.
 */
export async function businessUnits(
  c: Clients,
  how: { fresh?: boolean } = {},
): Promise<BusinessUnit[]> {
  const rows = await c.dataverse.listShared(
    "businessunits",
    { select: ["businessunitid", "name"] },
    how,
  );
  return rows.flatMap((r) =>
    typeof r.businessunitid === "string"
      ? [{ id: r.businessunitid, name: columnText(r, "name") }]
      : [],
  );
}

/** A column of a row as text (`""` when absent or not a string or number). */
export function columnText(row: Readonly<Record<string, unknown>>, column: string): string {
  const value = row[column];
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : "";
}

/** An OData string literal. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
