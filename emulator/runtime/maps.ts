/**
 * The emulator's table maps: the catalog (names, keys, export order) plus what the catalog does
 * not say and the emulator has to choose — which orchestration solution ships a map, its versions
 * and authors, its prerequisites, its field mappings and how many lookups it has.
 *
 * Five maps move real rows (see `adapters.ts`); the others exist for scale and move none. Every
 * choice here is deterministic, so two emulators publish the same maps with the same versions.
 */
import { createHash } from "node:crypto";
import { mapCatalog, orchestrationSolutionNames, type CatalogEntry } from "./catalogData";

/** A map version as published by a solution: author and four-part version. */
export interface TemplateSpec {
  readonly author: string;
  readonly version: readonly [number, number, number, number];
}

/** One field mapping of a map (F&O field ↔ Dataverse column; dotted columns are lookups). */
export interface FieldMappingSpec {
  readonly sourceField: string;
  readonly destinationField: string;
  /** 1 = F&O → Dataverse, 2 = Dataverse → F&O, 3 = both. */
  readonly syncDirection: 1 | 2 | 3;
}

/** Everything the emulator knows about one map. */
export interface MapSpec extends CatalogEntry {
  /** Orchestration solution that publishes it. */
  readonly solution: string;
  /** Direct prerequisites, by map name. */
  readonly prerequisites: readonly string[];
  /** Published versions, oldest first. */
  readonly templates: readonly TemplateSpec[];
  /** F&O OData entity set of the F&O side (for `sourceSchema`). */
  readonly financeOperationsEntitySet: string;
  readonly sourceFilter: string;
  readonly reversedSourceFilter: string;
  readonly fieldMappings: readonly FieldMappingSpec[];
  /** Number of lookup field mappings; 10 or more cannot initial-sync from Dataverse. */
  readonly lookupCount: number;
  /** True for the five maps that move rows. */
  readonly movesRows: boolean;
}

/** Names of the maps that move real rows. */
export const MapNames = {
  legalEntities: "cdm_companies - Legal entities",
  currencies: "transactioncurrencies - Currencies",
  customerGroups: "msdyn_customergroups - Customer groups",
  accounts: "accounts - Customers V3",
  contacts: "contacts - Customers V3",
} as const;

/** The core orchestration solution, which ships the maps with real data movement. */
export const coreMapsSolution = "msdyn_DualWriteAppCoreMaps";

/** Dataverse solutions every orchestration solution needs installed, with the required versions. */
export const requiredDataverseSolutions: Readonly<Record<string, readonly string[]>> = {
  msdyn_DualWriteAppCoreMaps: [
    "DualWriteCore",
    "Dynamics365Company",
    "Dynamics365FinanceAndOperationsCommon",
    "CurrencyExchangeRates",
    "msdyn_DualWriteAppCoreAnchor",
  ],
  Dynamics365FinanceAndOperationsDualWriteMaps: ["DualWriteCore", "Dynamics365Company"],
  Dynamics365GABDualWriteEntityMaps: ["DualWriteCore", "Dynamics365Company"],
  msdyn_Dynamics365FinanceExtendedMaps: [
    "DualWriteCore",
    "Dynamics365Company",
    "Dynamics365FinanceExtended",
  ],
  msdyn_Dynamics365SupplyChainExtendedMaps: [
    "DualWriteCore",
    "Dynamics365Company",
    "Dynamics365SupplyChainExtended",
  ],
};

/**
 * Minimum versions the emulator's gateway requires of installed Dataverse solutions. The
 * `Dynamics365Company` value is the one in Microsoft's troubleshooting text; the others are chosen.
 */
export const requiredSolutionVersions: Readonly<Record<string, string>> = {
  DualWriteCore: "1.0.24031.1",
  Dynamics365Company: "2.0.133",
  Dynamics365FinanceAndOperationsCommon: "2.2.3.8",
  CurrencyExchangeRates: "1.0.0.4",
  msdyn_DualWriteAppCoreAnchor: "1.0.24031.1",
  msdyn_DualWriteAppCoreMaps: "1.0.24031.1",
  Dynamics365FinanceAndOperationsDualWriteMaps: "1.0.24031.1",
  Dynamics365GABDualWriteEntityMaps: "1.0.24031.1",
  Dynamics365FinanceExtended: "1.0.24031.1",
  msdyn_Dynamics365FinanceExtendedMaps: "1.0.24031.1",
  Dynamics365SupplyChainExtended: "1.0.24031.1",
  msdyn_Dynamics365SupplyChainExtendedMaps: "1.0.24031.1",
};

// Which orchestration solution ships which Dataverse set (chosen from the package table of
// DW/separated-solutions.md: core, finance, supply chain, HR, party/GAB).
const coreSets = [
  "cdm_companies",
  "transactioncurrencies",
  "msdyn_customergroups",
  "accounts",
  "contacts",
  "uoms",
  "msdyn_paymentterms",
  "msdyn_vendorgroups",
  "msdyn_vendors",
  "msdyn_shipvias",
  "msdyn_termsofdeliveries",
  "msdyn_pricecustomergroups",
  "msdyn_salesorderorigins",
];
const gabSets = [
  "msdyn_parties",
  "msdyn_postaladdresscollections",
  "msdyn_personalcharactertypes",
  "msdyn_salutations",
  "msdyn_decisionmakingroles",
  "msdyn_complimentaryclosings",
  "msdyn_loyaltylevels",
  "msdyn_addressroles",
  "msdyn_salescontactpersontitles",
  "msdyn_partyelectronicaddresses",
  "msdyn_postaladdresses",
  "msdyn_partypostaladdresses",
  "msdyn_contactforparties",
];
const financeSets = [
  "msdyn_withholdingtaxgroups",
  "msdyn_paymentdays",
  "msdyn_paymentdaylines",
  "msdyn_paymentschedules",
  "msdyn_paymentschedulelines",
  "msdyn_dimensionattributes",
  "msdyn_vendorpaymentmethods",
  "msdyn_customerpaymentmethods",
  "msdyn_taxgroups",
  "msdyn_taxitemgroups",
];
const hrSets = [
  "cdm_workers",
  "cdm_jobtypes",
  "cdm_positiontypes",
  "cdm_languages",
  "cdm_jobfunctions",
  "cdm_jobs",
  "cdm_jobpositions",
];

function solutionOf(entry: CatalogEntry): string {
  const set = entry.dataverseEntitySet;
  if (coreSets.includes(set)) return "msdyn_DualWriteAppCoreMaps";
  if (gabSets.includes(set)) return "Dynamics365GABDualWriteEntityMaps";
  if (financeSets.includes(set)) return "msdyn_Dynamics365FinanceExtendedMaps";
  if (hrSets.includes(set)) return "Dynamics365FinanceAndOperationsDualWriteMaps";
  return "msdyn_Dynamics365SupplyChainExtendedMaps";
}

/** Maps with 10 or more lookups (header-like tables), and how many they have. */
const heavyLookupMaps: Readonly<Record<string, number>> = {
  "msdyn_vendors - Vendors V2": 12,
  "msdyn_sharedproductdetails - Released products V2": 11,
  "msdyn_productspecificdefaultordersettings - Product default order settings V2": 10,
  "msdyn_purchaseorders - Purchase order headers V2": 13,
  "salesorders - CDS sales order headers": 14,
  "invoices - Sales invoice headers V2": 12,
  "quotes - CDS sales quotation header": 13,
};

// Plausible extra lookups for the scale maps: [F&O field, Dataverse lookup path].
const lookupPool: ReadonlyArray<readonly [string, string]> = [
  ["PAYMENTTERMSNAME", "msdyn_paymentterm.msdyn_name"],
  ["CURRENCYCODE", "transactioncurrencyid.isocurrencycode"],
  ["DELIVERYMODE", "msdyn_shipvia.msdyn_name"],
  ["DELIVERYTERMS", "msdyn_termsofdelivery.msdyn_termscode"],
  ["SALESTAXGROUP", "msdyn_taxgroup.msdyn_name"],
  ["CUSTOMERGROUPID", "msdyn_customergroupid.msdyn_groupid"],
  ["VENDORGROUPID", "msdyn_vendorgroup.msdyn_vendorgroup"],
  ["SITEID", "msdyn_operationalsite.msdyn_siteid"],
  ["WAREHOUSEID", "msdyn_warehouse.msdyn_warehouseidentifier"],
  ["SALESORIGINID", "msdyn_salesorderorigin.msdyn_origincode"],
  ["PAYMENTSCHEDULE", "msdyn_paymentschedule.msdyn_name"],
  ["PAYMENTMETHOD", "msdyn_customerpaymentmethod.msdyn_name"],
  ["LANGUAGEID", "cdm_languageid.cdm_name"],
  ["UNITSYMBOL", "uomid.msdyn_symbol"],
];

function hashNumber(text: string): number {
  return parseInt(createHash("sha256").update(text).digest("hex").slice(0, 8), 16);
}

/** The versions of a map: explicit for the data maps, derived from the name for the others. */
function templatesOf(entry: CatalogEntry): TemplateSpec[] {
  const explicit: Record<string, TemplateSpec[]> = {
    [MapNames.accounts]: [
      { author: "Contoso", version: [1, 0, 0, 1] },
      { author: "Microsoft", version: [1, 0, 0, 4] },
      { author: "Microsoft", version: [1, 0, 0, 5] },
    ],
    [MapNames.contacts]: [
      { author: "Microsoft", version: [1, 0, 0, 3] },
      { author: "Microsoft", version: [1, 0, 0, 4] },
      { author: "Fabrikam", version: [1, 0, 0, 2] },
    ],
    [MapNames.customerGroups]: [
      { author: "Microsoft", version: [1, 0, 0, 1] },
      { author: "Microsoft", version: [1, 0, 0, 2] },
    ],
    [MapNames.currencies]: [{ author: "Microsoft", version: [1, 0, 0, 2] }],
    [MapNames.legalEntities]: [
      { author: "Microsoft", version: [1, 0, 0, 0] },
      { author: "Microsoft", version: [1, 0, 0, 1] },
    ],
  };
  const known = explicit[entry.name];
  if (known) return known;
  const h = hashNumber(entry.name);
  const count = 1 + (h % 3);
  const first = 1 + ((h >>> 4) % 4);
  const out: TemplateSpec[] = [];
  for (let i = 0; i < count; i++) out.push({ author: "Microsoft", version: [1, 0, 0, first + i] });
  // Every seventh map or so also has a partner's version, older than Microsoft's newest.
  if ((h >>> 8) % 7 === 0) out.unshift({ author: "Contoso", version: [1, 0, 0, first] });
  return out;
}

/** F&O field name for a Dataverse key column of a scale map (`msdyn_termscode` → `TERMSCODE`). */
function fnoFieldFor(column: string): string {
  if (column.endsWith(".cdm_companycode")) return "dataAreaId";
  const last = column.split(".").pop() ?? column;
  return last.replace(/^(msdyn|cdm)_/, "").toUpperCase();
}

function scaleFieldMappings(entry: CatalogEntry, lookupCount: number): FieldMappingSpec[] {
  const out: FieldMappingSpec[] = entry.integrationKeys.map((k) => ({
    sourceField: fnoFieldFor(k),
    destinationField: k,
    syncDirection: 3 as const,
  }));
  let lookups = out.filter((f) => f.destinationField.includes(".")).length;
  for (const [source, destination] of lookupPool) {
    if (lookups >= lookupCount) break;
    if (out.some((f) => f.destinationField === destination)) continue;
    out.push({ sourceField: source, destinationField: destination, syncDirection: 3 });
    lookups++;
  }
  out.push({ sourceField: "DESCRIPTION", destinationField: "msdyn_description", syncDirection: 3 });
  return out;
}

// The field mappings accounts and contacts share after their own name fields (both ride on CustomersV3).
const customerPartyMappings: readonly FieldMappingSpec[] = [
  {
    sourceField: "CustomerGroupId",
    destinationField: "msdyn_customergroupid.msdyn_groupid",
    syncDirection: 3,
  },
  {
    sourceField: "SalesCurrencyCode",
    destinationField: "transactioncurrencyid.isocurrencycode",
    syncDirection: 3,
  },
  {
    sourceField: "dataAreaId",
    destinationField: "msdyn_company.cdm_companycode",
    syncDirection: 3,
  },
  { sourceField: "PrimaryContactEmail", destinationField: "emailaddress1", syncDirection: 3 },
  { sourceField: "AddressCity", destinationField: "address1_city", syncDirection: 3 },
];

const dataMapDetails: Record<
  string,
  Pick<
    MapSpec,
    "financeOperationsEntitySet" | "sourceFilter" | "reversedSourceFilter" | "fieldMappings"
  >
> = {
  [MapNames.legalEntities]: {
    financeOperationsEntitySet: "LegalEntities",
    sourceFilter: "",
    reversedSourceFilter: "",
    fieldMappings: [
      { sourceField: "LegalEntityId", destinationField: "cdm_companycode", syncDirection: 3 },
      { sourceField: "Name", destinationField: "cdm_name", syncDirection: 3 },
    ],
  },
  [MapNames.currencies]: {
    financeOperationsEntitySet: "Currencies",
    sourceFilter: "",
    reversedSourceFilter: "",
    fieldMappings: [
      { sourceField: "CurrencyCode", destinationField: "isocurrencycode", syncDirection: 3 },
      { sourceField: "Name", destinationField: "currencyname", syncDirection: 3 },
      { sourceField: "Symbol", destinationField: "currencysymbol", syncDirection: 3 },
    ],
  },
  [MapNames.customerGroups]: {
    financeOperationsEntitySet: "CustomerGroups",
    sourceFilter: "",
    reversedSourceFilter: "",
    fieldMappings: [
      { sourceField: "CustomerGroupId", destinationField: "msdyn_groupid", syncDirection: 3 },
      { sourceField: "Description", destinationField: "msdyn_description", syncDirection: 3 },
      {
        sourceField: "dataAreaId",
        destinationField: "msdyn_company.cdm_companycode",
        syncDirection: 3,
      },
    ],
  },
  [MapNames.accounts]: {
    financeOperationsEntitySet: "CustomersV3",
    sourceFilter: '((PartyType == "Organization"))',
    reversedSourceFilter: "customertypecode eq 3",
    fieldMappings: [
      { sourceField: "CustomerAccount", destinationField: "accountnumber", syncDirection: 3 },
      { sourceField: "OrganizationName", destinationField: "name", syncDirection: 3 },
      ...customerPartyMappings,
    ],
  },
  [MapNames.contacts]: {
    financeOperationsEntitySet: "CustomersV3",
    sourceFilter: '((PartyType == "Person"))',
    reversedSourceFilter: "msdyn_sellable eq true and msdyn_contactpersonid ne ''",
    fieldMappings: [
      {
        sourceField: "CustomerAccount",
        destinationField: "msdyn_contactpersonid",
        syncDirection: 3,
      },
      { sourceField: "PersonFirstName", destinationField: "firstname", syncDirection: 3 },
      { sourceField: "PersonLastName", destinationField: "lastname", syncDirection: 3 },
      ...customerPartyMappings,
    ],
  },
};

const dataMapPrerequisites: Record<string, string[]> = {
  [MapNames.legalEntities]: [],
  [MapNames.currencies]: [],
  [MapNames.customerGroups]: [MapNames.legalEntities],
  [MapNames.accounts]: [MapNames.legalEntities, MapNames.customerGroups, MapNames.currencies],
  [MapNames.contacts]: [MapNames.legalEntities, MapNames.customerGroups, MapNames.currencies],
};

function buildSpec(entry: CatalogEntry): MapSpec {
  const details = dataMapDetails[entry.name];
  if (details) {
    return {
      ...entry,
      ...details,
      solution: solutionOf(entry),
      prerequisites: dataMapPrerequisites[entry.name] ?? [],
      templates: templatesOf(entry),
      lookupCount: details.fieldMappings.filter((f) => f.destinationField.includes(".")).length,
      movesRows: true,
    };
  }
  const companyKeyed = entry.integrationKeys.some((k) => k.includes("."));
  const wanted =
    heavyLookupMaps[entry.name] ??
    (companyKeyed ? 1 + (hashNumber(entry.name) % 4) : hashNumber(entry.name) % 3);
  const fieldMappings = scaleFieldMappings(entry, wanted);
  return {
    ...entry,
    solution: solutionOf(entry),
    prerequisites: entry.companySpecific ? [MapNames.legalEntities] : [],
    templates: templatesOf(entry),
    financeOperationsEntitySet: entry.financeOperationsEntity.replace(/[^A-Za-z0-9]/g, ""),
    sourceFilter: "",
    reversedSourceFilter: "",
    fieldMappings,
    lookupCount: fieldMappings.filter((f) => f.destinationField.includes(".")).length,
    movesRows: false,
  };
}

/** Every map the emulator publishes, in export order. */
export const mapSpecs: readonly MapSpec[] = mapCatalog.map(buildSpec);

const specsByName = new Map(mapSpecs.map((s) => [s.name, s]));

/** The spec of a map by gateway name, or undefined. */
export function mapSpec(name: string): MapSpec | undefined {
  return specsByName.get(name);
}

/** The maps an orchestration solution ships, in export order. */
export function mapsOfSolution(solution: string): MapSpec[] {
  return mapSpecs.filter((s) => s.solution === solution);
}

/** The orchestration solutions the gateway knows (those of the catalog). */
export const orchestrationSolutions: readonly string[] = orchestrationSolutionNames;

/**
 * Transitive prerequisites of a map in start order (each after its own prerequisites, ties by
 * export order), the map itself excluded.
 */
export function prerequisiteSequence(name: string): string[] {
  const out: string[] = [];
  const visit = (n: string, trail: Set<string>): void => {
    const spec = specsByName.get(n);
    if (!spec) return;
    const direct = [...spec.prerequisites].sort(
      (a, b) => (specsByName.get(a)?.exportOrder ?? 0) - (specsByName.get(b)?.exportOrder ?? 0),
    );
    for (const p of direct) {
      if (trail.has(p) || out.includes(p)) continue;
      visit(p, new Set([...trail, p]));
      out.push(p);
    }
  };
  visit(name, new Set([name]));
  return out;
}

/** Text of a four-part version. */
export function versionText(v: readonly [number, number, number, number]): string {
  return v.join(".");
}

/** Compares dotted version texts numerically (`2.0.133` > `2.0.2.10`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The version a map starts with: the newest one. Partner versions in the catalog are always
 * older than Microsoft's newest, so "newest" and "Microsoft's newest" agree.
 */
export function defaultTemplate(spec: MapSpec): TemplateSpec {
  const byVersion = (a: TemplateSpec, b: TemplateSpec): number =>
    compareVersions(versionText(b.version), versionText(a.version));
  const microsoft = spec.templates.filter((t) => t.author === "Microsoft").sort(byVersion);
  const chosen = microsoft[0] ?? [...spec.templates].sort(byVersion)[0];
  if (!chosen) throw new Error(`Map '${spec.name}' has no template.`);
  return chosen;
}
