/**
 * Seeds: one environment pair (an F&O environment and a Dataverse org of the same name) per call,
 * shaped after one of the six setup scenarios (DW/connection-setup.md):
 *
 * | F&O side        | what it holds                                                            |
 * |-----------------|--------------------------------------------------------------------------|
 * | `new`           | legal entity DAT only, standard currencies, no customers or groups       |
 * | `new-data`      | as `new`, plus `size` customers and their groups in DAT                  |
 * | `existing`      | DAT (empty) plus USMF, USRT and DEMF with `size` customers and groups each |
 *
 * | Dataverse side  | what it holds                                                            |
 * |-----------------|--------------------------------------------------------------------------|
 * | `new`           | root business unit, base currency USD, the core and party/HR dual-write solutions installed; no business rows, no `cdm_companies` |
 * | `existing`      | as `new` plus the finance and supply-chain solutions, currencies EUR/GBP, business units "Contoso US" and "Contoso Germany" owning accounts and contacts without a company stamp (half of them share numbers with USMF/DEMF customers), unstamped customer groups, and a disabled `cdm_companies` row USMF that three accounts already carry |
 *
 * No seed links anything. Everything is deterministic: the same scenario, name and size give the
 * same rows and ids. Writes have origin "seed", so the runtime never syncs them.
 */
import { EmulatorHttpError } from "../core/http";
import type { EmulatorContext, EnvironmentPair } from "../core/context";
import { guidFrom } from "../runtime/ids";
import { mapSpecs, requiredSolutionVersions, versionText, type MapSpec } from "../runtime/maps";
import type { DualWriteRuntime } from "../runtime/runtime";
import type { Row } from "../store/tables";
import { TableSet } from "../store/tables";
import {
  DataverseTables,
  FinanceOperationsTables,
  defineDataverseSchema,
  defineFinanceOperationsSchema,
} from "../store/schema";
import {
  contosoLegalEntities,
  datLegalEntity,
  fnoCurrencies,
  seedCustomers,
  seedGroups,
  type SeedCustomer,
  type SeedLegalEntity,
} from "./data";
import { SCENARIOS, type Scenario } from "../../facts/scenarios";
import { setBulkRows } from "./bulk";

/**
 * The six setup scenarios: the shared list in `facts/` (one definition, so a seed exists for
 * every scenario the provider accepts).
 */
export const scenarios = SCENARIOS;
export type { Scenario };

/** Rows per table per company when a seed gives no size. */
export const defaultSeedSize = 100;

/**
 * Largest `size` a seed accepts: a million customers per company, so that the data-volume rules
 * (500,000 rows per legal entity, a million rows per side) are reached with real rows.
 */
export const maxSeedSize = 1_000_000;

/** Generated rows to add while seeding (see `seeds/bulk.ts`). */
export interface SeedBulkRows {
  readonly side: "fno" | "dataverse";
  readonly table: string;
  /** Company code; omit for a global table. */
  readonly company?: string;
  readonly count: number;
}

/** Options of `seedEnvironment`. */
export interface SeedOptions {
  readonly scenario: string;
  /** Name of the pair (control API, request log). */
  readonly name: string;
  /**
   * Its slot in the address plan (`core/hosts.ts`), which gives its URLs.
   * @default the lowest free slot
   */
  readonly slot?: number;
  /** Customers per company (F&O) and per business unit (Dataverse). @default 100 */
  readonly size?: number;
  /** Generated rows per table and company, for data-volume cases (`seeds/bulk.ts`). */
  readonly bulkRows?: readonly SeedBulkRows[];
}

/** Dataverse solutions installed in a new org (the core package plus party and HR maps). */
const newOrgSolutions = [
  "DualWriteCore",
  "Dynamics365Company",
  "Dynamics365FinanceAndOperationsCommon",
  "CurrencyExchangeRates",
  "msdyn_DualWriteAppCoreAnchor",
  "msdyn_DualWriteAppCoreMaps",
  "Dynamics365FinanceAndOperationsDualWriteMaps",
  "Dynamics365GABDualWriteEntityMaps",
];

/** An existing org also has the finance and supply-chain packages. */
const existingOrgSolutions = [
  ...newOrgSolutions,
  "Dynamics365FinanceExtended",
  "msdyn_Dynamics365FinanceExtendedMaps",
  "Dynamics365SupplyChainExtended",
  "msdyn_Dynamics365SupplyChainExtendedMaps",
];

/**
 * Seeds one environment pair, registers it in the context and attaches the runtime to it.
 * Throws a 400 `EmulatorHttpError` for a bad scenario or size, 409 when the name exists.
 */
export function seedEnvironment(
  ctx: EmulatorContext,
  runtime: DualWriteRuntime,
  options: SeedOptions,
): EnvironmentPair {
  const { name } = options;
  const scenario = options.scenario as Scenario;
  if (!scenarios.includes(scenario)) {
    throw new EmulatorHttpError(
      400,
      "UnknownScenario",
      `scenario '${options.scenario}' is not one of ${scenarios.join(", ")}.`,
    );
  }
  const size = options.size ?? defaultSeedSize;
  if (!Number.isInteger(size) || size < 0 || size > maxSeedSize) {
    throw new EmulatorHttpError(
      400,
      "InvalidSize",
      `size must be an integer from 0 to ${maxSeedSize} (rows per table per company); for more rows in one table use PUT /_emulator/bulk-rows.`,
    );
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(name)) {
    throw new EmulatorHttpError(
      400,
      "InvalidName",
      `name '${name}' must be letters, digits, '-' or '_' (it becomes part of URLs).`,
    );
  }
  if (ctx.environments.has(name) || ctx.fno.has(name) || ctx.dataverse.has(name)) {
    throw new EmulatorHttpError(
      409,
      "EnvironmentExists",
      `An environment pair named '${name}' exists already; choose another name.`,
    );
  }

  const fnoKind = scenario.startsWith("existing")
    ? "existing"
    : scenario.startsWith("new-data")
      ? "new-data"
      : "new";
  const dvKind = scenario.endsWith("-existing") ? "existing" : "new";
  const now = new Date(ctx.clock.now()).toISOString();

  const fno = new TableSet("fno", name);
  defineFinanceOperationsSchema(fno);
  seedFinanceOperations(fno, fnoKind, size);

  const dv = new TableSet("dataverse", name);
  defineDataverseSchema(dv);
  seedDataverse(dv, name, dvKind, size, now);

  const pair: EnvironmentPair = {
    name,
    slot: options.slot ?? ctx.hosts.nextSlot(),
    scenario,
    cid: guidFrom("fno-environment", name),
    defaultCompany: fnoKind === "existing" ? "USMF" : "DAT",
  };
  ctx.fno.set(name, fno);
  ctx.dataverse.set(name, dv);
  ctx.environments.set(name, pair);
  runtime.attach(pair);
  for (const b of options.bulkRows ?? []) {
    setBulkRows(ctx, {
      env: name,
      side: b.side,
      table: b.table,
      ...(b.company !== undefined ? { company: b.company } : {}),
      count: b.count,
    });
  }
  return pair;
}

// ---------------------------------------------------------------- F&O

function seedFinanceOperations(
  fno: TableSet,
  kind: "new" | "new-data" | "existing",
  size: number,
): void {
  const companies =
    kind === "existing" ? [datLegalEntity, ...contosoLegalEntities] : [datLegalEntity];
  for (const le of companies) {
    fno.insert(
      FinanceOperationsTables.legalEntities,
      { LegalEntityId: le.code, Name: le.name, AddressCountryRegionId: le.country },
      "seed",
    );
  }
  for (const [code, currencyName, symbol] of fnoCurrencies) {
    fno.insert(
      FinanceOperationsTables.currencies,
      { CurrencyCode: code, Name: currencyName, Symbol: symbol },
      "seed",
    );
  }
  const withData =
    kind === "existing" ? contosoLegalEntities : kind === "new-data" ? [datLegalEntity] : [];
  for (const le of withData) {
    const area = le.code.toLowerCase();
    for (const g of seedGroups(size)) {
      fno.insert(
        FinanceOperationsTables.customerGroups,
        { dataAreaId: area, CustomerGroupId: g.id, Description: g.description },
        "seed",
      );
    }
    for (const c of seedCustomers(le, size))
      fno.insert(FinanceOperationsTables.customers, fnoCustomer(area, c), "seed", { adopt: true });
  }
}

function fnoCustomer(area: string, c: SeedCustomer): Row {
  return {
    dataAreaId: area,
    CustomerAccount: c.account,
    PartyType: c.partyType,
    OrganizationName: c.organizationName,
    PersonFirstName: c.firstName,
    PersonLastName: c.lastName,
    CustomerGroupId: c.groupId,
    SalesCurrencyCode: c.currency,
    PrimaryContactEmail: c.email,
    AddressCity: c.city,
  };
}

// ---------------------------------------------------------------- Dataverse

function seedDataverse(
  dv: TableSet,
  org: string,
  kind: "new" | "existing",
  size: number,
  now: string,
): void {
  const id = (...parts: Array<string | number>): string => guidFrom("seed", org, ...parts);
  const stamps = { statecode: 0, statuscode: 1, createdon: now, modifiedon: now };

  // Business units, each with its default team.
  const units: Array<{ key: string; name: string; parent: string | null }> = [
    { key: "root", name: org, parent: null },
  ];
  if (kind === "existing") {
    units.push({ key: "us", name: "Contoso US", parent: id("businessunit", "root") });
    units.push({ key: "de", name: "Contoso Germany", parent: id("businessunit", "root") });
  }
  for (const u of units) {
    dv.insert(
      DataverseTables.businessUnits,
      {
        businessunitid: id("businessunit", u.key),
        name: u.name,
        _parentbusinessunitid_value: u.parent,
        isdisabled: false,
        createdon: now,
        modifiedon: now,
      },
      "seed",
    );
    dv.insert(
      DataverseTables.teams,
      {
        teamid: id("team", u.key),
        name: u.name,
        teamtype: 0,
        isdefault: true,
        _businessunitid_value: id("businessunit", u.key),
        createdon: now,
        modifiedon: now,
      },
      "seed",
    );
  }

  // Currencies: the base currency, plus two more in an existing org.
  const currencies: Array<[string, string, string]> = [["USD", "US Dollar", "$"]];
  if (kind === "existing") currencies.push(["EUR", "Euro", "€"], ["GBP", "Pound Sterling", "£"]);
  for (const [code, currencyName, symbol] of currencies) {
    dv.insert(
      DataverseTables.currencies,
      {
        transactioncurrencyid: id("currency", code),
        isocurrencycode: code,
        currencyname: currencyName,
        currencysymbol: symbol,
        exchangerate: code === "USD" ? 1 : code === "EUR" ? 0.92 : 0.79,
        currencyprecision: 2,
        ...stamps,
      },
      "seed",
    );
  }

  // Solutions: platform ones and the installed dual-write packages, with their table maps.
  const platform: Array<[string, string, string]> = [
    ["System", "System Solution", "9.2.24031.1"],
    ["Default", "Default Solution", "1.0"],
  ];
  for (const [unique, friendly, version] of platform) {
    dv.insert(
      DataverseTables.solutions,
      {
        solutionid: id("solution", unique),
        uniquename: unique,
        friendlyname: friendly,
        version,
        ismanaged: unique === "System",
        isvisible: unique === "Default",
        installedon: now,
      },
      "seed",
    );
  }
  for (const unique of kind === "existing" ? existingOrgSolutions : newOrgSolutions) {
    dv.insert(
      DataverseTables.solutions,
      {
        solutionid: id("solution", unique),
        uniquename: unique,
        friendlyname: unique.replace(/^msdyn_/, "").replace(/([a-z])([A-Z])/g, "$1 $2"),
        version: requiredSolutionVersions[unique] ?? "1.0.0.0",
        ismanaged: true,
        isvisible: true,
        installedon: now,
      },
      "seed",
    );
    for (const spec of mapSpecs.filter((s) => s.solution === unique))
      seedEntityMaps(dv, org, spec, id("solution", unique), now);
  }

  if (kind === "existing") seedExistingBusinessData(dv, size, now, id);
}

/** One `msdyn_dualwriteentitymaps` row per version of a map (maps are solution components). */
function seedEntityMaps(
  dv: TableSet,
  org: string,
  spec: MapSpec,
  solutionId: string,
  now: string,
): void {
  for (const t of spec.templates) {
    const version = versionText(t.version);
    dv.insert(
      DataverseTables.entityMaps,
      {
        msdyn_dualwriteentitymapid: guidFrom(
          "seed",
          org,
          "entitymap",
          spec.name,
          t.author,
          version,
        ),
        msdyn_name: spec.name,
        msdyn_displayname: `${spec.financeOperationsEntity} (${spec.dataverseEntitySet})`,
        msdyn_version: version,
        msdyn_author: t.author,
        msdyn_mapping: JSON.stringify({
          name: `[${spec.financeOperationsEntity}] - [${spec.dataverseEntitySet}]`,
          leftEnvironmentType: "AX",
          centerEnvironmentType: "CRM",
          legs: [
            {
              sourceSchema: spec.financeOperationsEntitySet,
              destinationSchema: spec.dataverseEntitySet,
              sourceFilter: spec.sourceFilter,
              fieldMappings: spec.fieldMappings,
            },
          ],
        }),
        solutionid: solutionId,
        statecode: 0,
        statuscode: 1,
        createdon: now,
        modifiedon: now,
      },
      "seed",
    );
  }
}

/**
 * Accounts, contacts and customer groups of an existing org, without a company stamp. Odd
 * customers of the mirrored company share the F&O number (every fourth with a different name, so
 * the initial-sync master matters); even ones exist only in Dataverse. Three accounts of
 * "Contoso US" already carry the (not enabled) company USMF.
 */
function seedExistingBusinessData(
  dv: TableSet,
  size: number,
  now: string,
  id: (...parts: Array<string | number>) => string,
): void {
  const stamps = { statecode: 0, statuscode: 1, createdon: now, modifiedon: now };
  const usmf = contosoLegalEntities[0] as SeedLegalEntity;
  const demf = contosoLegalEntities[2] as SeedLegalEntity;
  const usmfCompanyId = id("company", "USMF");
  dv.insert(
    DataverseTables.companies,
    {
      cdm_companyid: usmfCompanyId,
      cdm_companycode: "USMF",
      cdm_name: usmf.name,
      cdm_isenabledfordualwrite: false,
      _cdm_defaultowningteam_value: null,
      ...stamps,
    },
    "seed",
  );

  const groups = seedGroups(size);
  for (const g of groups) {
    dv.insert(
      DataverseTables.customerGroups,
      {
        msdyn_customergroupid: id("customergroup", g.id),
        msdyn_groupid: g.id,
        msdyn_description: g.description,
        _msdyn_company_value: null,
        _ownerid_value: id("team", "root"),
        _owningbusinessunit_value: id("businessunit", "root"),
        ...stamps,
      },
      "seed",
    );
  }
  const knownCurrencies = new Set(["USD", "EUR", "GBP"]);

  const mirrors: Array<[key: string, company: SeedLegalEntity]> = [
    ["us", usmf],
    ["de", demf],
  ];
  for (const [unit, company] of mirrors) {
    const owner = {
      _ownerid_value: id("team", unit),
      _owningbusinessunit_value: id("businessunit", unit),
    };
    let stamped = 0;
    let n = 0;
    for (const c of seedCustomers(company, size)) {
      n++;
      const shared = n % 2 === 1;
      const number = shared ? c.account : `CRM-${company.code}-${String(n).padStart(5, "0")}`;
      const common: Row = {
        _msdyn_customergroupid_value: c.groupId ? id("customergroup", c.groupId) : null,
        _transactioncurrencyid_value: id(
          "currency",
          knownCurrencies.has(c.currency) ? c.currency : "USD",
        ),
        _msdyn_company_value: null,
        emailaddress1: c.email,
        address1_city: c.city,
        ...owner,
        ...stamps,
      };
      if (c.partyType === "Organization") {
        const accountName =
          shared && n % 4 === 1
            ? (c.organizationName ?? "").replace(/ \S+$/, "")
            : (c.organizationName ?? "");
        if (unit === "us" && stamped < 3) {
          common._msdyn_company_value = usmfCompanyId;
          stamped++;
        }
        dv.insert(
          DataverseTables.accounts,
          {
            accountid: id("account", number),
            name: accountName,
            accountnumber: number,
            customertypecode: 3,
            ...common,
          },
          "seed",
          { adopt: true },
        );
      } else {
        dv.insert(
          DataverseTables.contacts,
          {
            contactid: id("contact", number),
            firstname: c.firstName,
            lastname: c.lastName,
            fullname: `${c.firstName ?? ""} ${c.lastName ?? ""}`.trim(),
            msdyn_contactpersonid: number,
            msdyn_sellable: true,
            ...common,
          },
          "seed",
          { adopt: true },
        );
      }
    }
  }
}
