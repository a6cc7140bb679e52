/**
 * What the provider knows about maps before it can ask the gateway: names (from the shipped
 * catalog), the prerequisite maps of the core maps, and where each map's rows live in both
 * environments (for the initial-sync volume rules).
 *
 * The gateway's `GetTemplatePrerequisiteSequences` is the authority on prerequisites once a link
 * exists; this module only lets a {@link DualWriteScenario} order its resources at construction
 * time (a component cannot read remote state then) and lets `check` reject a misspelt map name in
 * the very first preview.
 */
import { MAP_CATALOG, type CatalogEntry } from "./mapCatalog";

export { MAP_CATALOG, CATALOG_SOLUTIONS, type CatalogEntry } from "./mapCatalog";

/** The map that every company-specific map needs first: it creates the `cdm_company` rows. */
export const LEGAL_ENTITIES_MAP = "cdm_companies - Legal entities";

// Prerequisites of the maps that move business data, as the gateway reports them (wire contract,
// "Map catalog in the emulator"; DW/enable-entity-map.md: "Customers V3–Contacts depends on
// customer groups and currencies"). Every other company-specific map needs the legal entities.
const DIRECT_PREREQUISITES: Readonly<Record<string, readonly string[]>> = {
  [LEGAL_ENTITIES_MAP]: [],
  "transactioncurrencies - Currencies": [],
  "msdyn_customergroups - Customer groups": [LEGAL_ENTITIES_MAP],
  "accounts - Customers V3": [
    LEGAL_ENTITIES_MAP,
    "transactioncurrencies - Currencies",
    "msdyn_customergroups - Customer groups",
  ],
  "contacts - Customers V3": [
    LEGAL_ENTITIES_MAP,
    "transactioncurrencies - Currencies",
    "msdyn_customergroups - Customer groups",
  ],
};

/** Where a map's rows live in both environments, for counting them before an initial sync. */
export interface MapDataLocation {
  /** F&O OData entity set, e.g. `CustomersV3`. */
  readonly financeOperationsEntitySet: string;
  /** Whether the F&O entity is per company (`dataAreaId`); global entities are counted once. */
  readonly financeOperationsPerCompany: boolean;
  /** Dataverse entity set, e.g. `accounts`. */
  readonly dataverseEntitySet: string;
  /**
   * The Dataverse lookup to `cdm_company` that stripes rows by company (read as
   * `_<column>_value`); absent for global tables.
   */
  readonly dataverseCompanyColumn?: string;
  /** Extra Dataverse filter for this map's rows, if any. */
  readonly dataverseFilter?: string;
}

// Only maps whose F&O public entity set is known are listed; for the rest the provider cannot
// count rows and says so instead of guessing an entity set name.
const DATA_LOCATIONS: Readonly<Record<string, MapDataLocation>> = {
  [LEGAL_ENTITIES_MAP]: {
    financeOperationsEntitySet: "LegalEntities",
    financeOperationsPerCompany: false,
    dataverseEntitySet: "cdm_companies",
  },
  "transactioncurrencies - Currencies": {
    financeOperationsEntitySet: "Currencies",
    financeOperationsPerCompany: false,
    dataverseEntitySet: "transactioncurrencies",
  },
  "msdyn_customergroups - Customer groups": {
    financeOperationsEntitySet: "CustomerGroups",
    financeOperationsPerCompany: true,
    dataverseEntitySet: "msdyn_customergroups",
    dataverseCompanyColumn: "msdyn_company",
  },
  "accounts - Customers V3": {
    financeOperationsEntitySet: "CustomersV3",
    financeOperationsPerCompany: true,
    dataverseEntitySet: "accounts",
    dataverseCompanyColumn: "msdyn_company",
  },
  "contacts - Customers V3": {
    financeOperationsEntitySet: "CustomersV3",
    financeOperationsPerCompany: true,
    dataverseEntitySet: "contacts",
    dataverseCompanyColumn: "msdyn_company",
  },
};

/** The catalog entry of a map name, compared exactly (gateway names are case-sensitive). */
export function findCatalogMap(name: string): CatalogEntry | undefined {
  return MAP_CATALOG.find((m) => m.name === name);
}

/**
 * The prerequisite maps of `name`, transitively, in start order (each map after the maps it
 * needs), itself excluded. Unknown maps have none.
 */
export function knownPrerequisites(name: string): string[] {
  const ordered: string[] = [];
  const visit = (map: string, path: readonly string[]): void => {
    for (const pre of directPrerequisites(map)) {
      if (path.includes(pre)) continue; // a cycle in our own table would be a bug; never loop
      visit(pre, [...path, pre]);
      if (!ordered.includes(pre)) ordered.push(pre);
    }
  };
  visit(name, [name]);
  return ordered.filter((m) => m !== name);
}

/** The maps `name` needs directly, from the table above or the company rule. */
export function directPrerequisites(name: string): readonly string[] {
  const listed = DIRECT_PREREQUISITES[name];
  if (listed) return listed;
  return findCatalogMap(name)?.companySpecific ? [LEGAL_ENTITIES_MAP] : [];
}

/** Where the rows of `name` live, when the provider knows it. */
export function mapDataLocation(name: string): MapDataLocation | undefined {
  return DATA_LOCATIONS[name];
}

/**
 * Up to three catalog names closest to `name` (by edit distance, case-insensitive), for
 * "did you mean" hints.
 */
export function closestMapNames(
  name: string,
  candidates: readonly string[] = MAP_CATALOG.map((m) => m.name),
): string[] {
  const target = name.toLowerCase();
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(target, c.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .slice(0, 3)
    .map((x) => x.c);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
