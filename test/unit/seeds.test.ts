/**
 * Seeds and the map catalog, in process: the six scenarios hold what their F&O and Dataverse
 * sides should hold, seeding is deterministic, bad input is refused with a clear error, bulk rows
 * are real rows (any number, deterministic, idempotent), and the catalog's maps have the versions,
 * solutions and prerequisites the gateway publishes.
 */
import { expect } from "chai";
import { ScaledClock } from "../../emulator/core/clock";
import type { EmulatorContext, EnvironmentPair } from "../../emulator/core/context";
import { HostPlan } from "../../emulator/core/hosts";
import { EmulatorHttpError } from "../../emulator/core/http";
import { defaultSettings } from "../../emulator/core/settings";
import { mapCatalog } from "../../emulator/runtime/catalogData";
import {
  defaultTemplate,
  mapSpec,
  mapSpecs,
  orchestrationSolutions,
  prerequisiteSequence,
  versionText,
} from "../../emulator/runtime/maps";
import { DualWriteRuntime } from "../../emulator/runtime/runtime";
import { setBulkRows } from "../../emulator/seeds/bulk";
import { maxSeedSize, scenarios, seedEnvironment } from "../../emulator/seeds/index";
import { dataverseTableDefinitions } from "../../emulator/store/schema";
import type { Row } from "../../emulator/store/tables";

function newContext(): { ctx: EmulatorContext; runtime: DualWriteRuntime; clock: ScaledClock } {
  const clock = new ScaledClock(1, Date.UTC(2026, 0, 1));
  const environments = new Map<string, EnvironmentPair>();
  const ctx: EmulatorContext = {
    baseUrl: "https://127.0.0.1:1",
    hosts: new HostPlan(1, environments),
    clock,
    settings: defaultSettings(),
    environments,
    dataverse: new Map(),
    fno: new Map(),
    persist: () => Promise.resolve(),
  };
  return { ctx, runtime: new DualWriteRuntime(ctx), clock };
}

function rows(ctx: EmulatorContext, side: "fno" | "dataverse", name: string, table: string): Row[] {
  const set = (side === "fno" ? ctx.fno : ctx.dataverse).get(name);
  if (!set) throw new Error(`no ${side} ${name}`);
  return set.all(table).map((s) => s.row);
}

function codeOf(e: unknown): string | undefined {
  return e instanceof EmulatorHttpError ? `${e.status} ${e.code}` : undefined;
}

describe("seeds", () => {
  let env: ReturnType<typeof newContext>;
  beforeEach(() => (env = newContext()));
  afterEach(() => {
    env.runtime.close();
    env.clock.dispose();
  });

  it("seeds a new F&O environment with DAT only, and a new Dataverse org without business rows or companies", () => {
    const pair = seedEnvironment(env.ctx, env.runtime, { scenario: "new-new", name: "nn" });
    expect(pair).to.include({ name: "nn", scenario: "new-new", defaultCompany: "DAT" });
    expect(pair.cid).to.match(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(rows(env.ctx, "fno", "nn", "LegalEntities").map((r) => r.LegalEntityId)).to.deep.equal([
      "DAT",
    ]);
    expect(rows(env.ctx, "fno", "nn", "CustomersV3")).to.deep.equal([]);
    expect(rows(env.ctx, "fno", "nn", "CustomerGroups")).to.deep.equal([]);
    expect(rows(env.ctx, "fno", "nn", "Currencies").length).to.be.greaterThan(5);
    for (const table of ["accounts", "contacts", "msdyn_customergroups", "cdm_companies"]) {
      expect(rows(env.ctx, "dataverse", "nn", table), table).to.deep.equal([]);
    }
    expect(
      rows(env.ctx, "dataverse", "nn", "transactioncurrencies").map((r) => r.isocurrencycode),
    ).to.deep.equal(["USD"]);
    const installed = rows(env.ctx, "dataverse", "nn", "solutions").map((r) => r.uniquename);
    expect(installed).to.include.members([
      "DualWriteCore",
      "Dynamics365Company",
      "msdyn_DualWriteAppCoreMaps",
    ]);
    expect(installed).to.not.include("msdyn_Dynamics365SupplyChainExtendedMaps");
    expect(env.ctx.environments.get("nn")).to.equal(pair);
    expect(env.runtime.linksView(), "no seed links anything").to.deep.equal([]);
  });

  it("puts `size` customers and their groups in DAT for new-data scenarios", () => {
    seedEnvironment(env.ctx, env.runtime, { scenario: "new-data-new", name: "nd", size: 30 });
    const customers = rows(env.ctx, "fno", "nd", "CustomersV3");
    expect(customers).to.have.length(30);
    expect(new Set(customers.map((c) => c.dataAreaId))).to.deep.equal(new Set(["dat"]));
    const groups = rows(env.ctx, "fno", "nd", "CustomerGroups").map((g) => g.CustomerGroupId);
    expect(groups).to.deep.equal(["10", "20", "30"]);
    for (const c of customers)
      expect(groups, String(c.CustomerAccount)).to.include(c.CustomerGroupId);
    expect(customers.some((c) => c.PartyType === "Person")).to.equal(true);
    expect(customers.some((c) => c.PartyType === "Organization")).to.equal(true);
  });

  it("seeds an existing F&O environment with the Contoso companies, and an existing org with unstamped data", () => {
    const pair = seedEnvironment(env.ctx, env.runtime, {
      scenario: "existing-existing",
      name: "ee",
      size: 12,
    });
    expect(pair.defaultCompany).to.equal("USMF");
    const legalEntities = rows(env.ctx, "fno", "ee", "LegalEntities");
    expect(legalEntities.map((r) => [r.LegalEntityId, r.Name])).to.deep.equal([
      ["DAT", "Company accounts data"],
      ["USMF", "Contoso Entertainment System USA"],
      ["USRT", "Contoso Retail USA"],
      ["DEMF", "Contoso Entertainment System Germany"],
    ]);
    const customers = rows(env.ctx, "fno", "ee", "CustomersV3");
    for (const area of ["usmf", "usrt", "demf"])
      expect(
        customers.filter((c) => c.dataAreaId === area),
        area,
      ).to.have.length(12);
    expect(customers.filter((c) => c.dataAreaId === "dat")).to.deep.equal([]);

    const units = rows(env.ctx, "dataverse", "ee", "businessunits");
    const us = units.find((u) => u.name === "Contoso US");
    expect(us?._parentbusinessunitid_value).to.equal(
      units.find((u) => !u._parentbusinessunitid_value)?.businessunitid,
    );
    const accounts = rows(env.ctx, "dataverse", "ee", "accounts");
    const contacts = rows(env.ctx, "dataverse", "ee", "contacts");
    expect(accounts.length + contacts.length).to.equal(24);
    expect(accounts.some((a) => a._owningbusinessunit_value === us?.businessunitid)).to.equal(true);
    const companies = rows(env.ctx, "dataverse", "ee", "cdm_companies");
    expect(companies.map((c) => [c.cdm_companycode, c.cdm_isenabledfordualwrite])).to.deep.equal([
      ["USMF", false],
    ]);
    const stamped = [...accounts, ...contacts].filter((r) => r._msdyn_company_value);
    expect(stamped).to.have.length(3);
    expect(stamped.every((r) => r._msdyn_company_value === companies[0]?.cdm_companyid)).to.equal(
      true,
    );
    // Half of the Dataverse rows share a number with an F&O customer (the same customer on both sides).
    const shared = accounts.filter((a) =>
      customers.some((c) => c.CustomerAccount === a.accountnumber),
    );
    expect(shared.length).to.be.greaterThan(0);
    expect(
      rows(env.ctx, "dataverse", "ee", "msdyn_customergroups").every(
        (g) => g._msdyn_company_value === null,
      ),
    ).to.equal(true);
    const installed = rows(env.ctx, "dataverse", "ee", "solutions").map((r) => r.uniquename);
    expect(installed).to.include("msdyn_Dynamics365SupplyChainExtendedMaps");
  });

  it("seeds all six scenarios, each with its own F&O and Dataverse kind", () => {
    for (const scenario of scenarios)
      seedEnvironment(env.ctx, env.runtime, { scenario, name: scenario, size: 4 });
    const les = (name: string): number => rows(env.ctx, "fno", name, "LegalEntities").length;
    const accounts = (name: string): number => rows(env.ctx, "dataverse", name, "accounts").length;
    const customers = (name: string): number => rows(env.ctx, "fno", name, "CustomersV3").length;
    expect(scenarios.map((s) => [s, les(s), customers(s), accounts(s) > 0])).to.deep.equal([
      ["new-new", 1, 0, false],
      ["new-existing", 1, 0, true],
      ["new-data-new", 1, 4, false],
      ["new-data-existing", 1, 4, true],
      ["existing-new", 4, 12, false],
      ["existing-existing", 4, 12, true],
    ]);
  });

  it("is deterministic: the same scenario, name and size give the same rows (timestamps aside)", () => {
    const withoutTimes = (rowsOf: Row[]): Row[] =>
      rowsOf.map((r) =>
        Object.fromEntries(
          Object.entries(r).filter(
            ([k]) => !["createdon", "modifiedon", "installedon"].includes(k),
          ),
        ),
      );
    const other = newContext();
    try {
      seedEnvironment(env.ctx, env.runtime, {
        scenario: "existing-existing",
        name: "same",
        size: 25,
      });
      seedEnvironment(other.ctx, other.runtime, {
        scenario: "existing-existing",
        name: "same",
        size: 25,
      });
      for (const side of ["fno", "dataverse"] as const) {
        const a = (side === "fno" ? env.ctx.fno : env.ctx.dataverse).get("same");
        const b = (side === "fno" ? other.ctx.fno : other.ctx.dataverse).get("same");
        expect(a?.tableNames()).to.deep.equal(b?.tableNames());
        for (const table of a?.tableNames() ?? []) {
          expect(withoutTimes(rows(env.ctx, side, "same", table)), table).to.deep.equal(
            withoutTimes(rows(other.ctx, side, "same", table)),
          );
        }
      }
    } finally {
      other.runtime.close();
      other.clock.dispose();
    }
  });

  it("defaults to 100 rows per table per company", () => {
    seedEnvironment(env.ctx, env.runtime, { scenario: "existing-new", name: "dflt" });
    expect(
      rows(env.ctx, "fno", "dflt", "CustomersV3").filter((c) => c.dataAreaId === "usmf"),
    ).to.have.length(100);
    expect(
      rows(env.ctx, "fno", "dflt", "CustomerGroups").filter((c) => c.dataAreaId === "usmf"),
    ).to.have.length(10);
  });

  it("adds the generated rows given at seeding, as real rows", () => {
    seedEnvironment(env.ctx, env.runtime, {
      scenario: "existing-new",
      name: "big",
      size: 1,
      bulkRows: [{ side: "fno", table: "CustomersV3", company: "usmf", count: 20_000 }],
    });
    const fno = env.ctx.fno.get("big");
    if (!fno) throw new Error("no fno");
    const usmf = rows(env.ctx, "fno", "big", "CustomersV3").filter((r) => r.dataAreaId === "usmf");
    expect(usmf).to.have.length(20_001);
    const first = fno.get(
      "CustomersV3",
      fno.keyOf("CustomersV3", { dataAreaId: "usmf", CustomerAccount: "BULK-USMF-0000001" }),
    );
    expect(first?.row).to.include({
      dataAreaId: "usmf",
      CustomerAccount: "BULK-USMF-0000001",
      PartyType: "Organization",
      OrganizationName: "Bulk customer USMF 1",
    });
    // The seeded customers' group: generated customers point at a group their company has.
    const groups = rows(env.ctx, "fno", "big", "CustomerGroups").filter(
      (g) => g.dataAreaId === "usmf",
    );
    expect(groups.map((g) => g.CustomerGroupId)).to.include(first?.row.CustomerGroupId);
    expect(
      rows(env.ctx, "fno", "big", "CustomersV3").filter((r) => r.dataAreaId === "usrt"),
    ).to.have.length(1);
  });

  it("bulk rows: exactly `count` per table and company, deterministic and idempotent", () => {
    seedEnvironment(env.ctx, env.runtime, { scenario: "existing-existing", name: "vol", size: 2 });
    const dv = env.ctx.dataverse.get("vol");
    if (!dv) throw new Error("no dataverse");
    const bulk = (count: number) =>
      setBulkRows(env.ctx, { env: "vol", side: "dataverse", table: "accounts", count });
    const before = dv.count("accounts");
    expect(bulk(3_000)).to.include({ inserted: 3_000, deleted: 0, count: 3_000 });
    const ids = dv
      .all("accounts")
      .slice(before)
      .map((s) => s.row.accountid as string);
    expect(bulk(3_000)).to.include({ inserted: 0, deleted: 0 });
    expect(bulk(1_000)).to.include({ inserted: 0, deleted: 2_000 });
    expect(dv.count("accounts")).to.equal(before + 1_000);
    // A row deleted by hand comes back, with the same id and values.
    const gone = ids[10] as string;
    const saved = dv.get("accounts", gone)?.row;
    dv.delete("accounts", gone, "client");
    expect(bulk(1_000)).to.include({ inserted: 1, deleted: 0 });
    expect(dv.get("accounts", gone)?.row).to.deep.equal(saved);
    // Generated ids share a prefix per table and company, so they are one range of the keys.
    expect(new Set(ids.map((id) => id.slice(0, 24))).size).to.equal(1);
    expect(saved).to.include({ customertypecode: 3, _msdyn_company_value: null });
    expect(String(saved?.accountnumber)).to.match(/^BULK-\d{7}$/);
    expect(bulk(0)).to.include({ deleted: 1_000 });
    expect(dv.count("accounts")).to.equal(before);
  });

  it("bulk rows: refuses what cannot be generated", () => {
    seedEnvironment(env.ctx, env.runtime, { scenario: "existing-existing", name: "vol", size: 1 });
    const attempt = (request: Parameters<typeof setBulkRows>[1]): string | undefined => {
      try {
        setBulkRows(env.ctx, request);
        return undefined;
      } catch (e) {
        return codeOf(e);
      }
    };
    const base = { env: "vol", count: 1 } as const;
    expect(attempt({ ...base, side: "fno", table: "CustomersV3" })).to.equal("400 BadRequest");
    expect(attempt({ ...base, side: "fno", table: "CustomersV3", company: "NOPE" })).to.equal(
      "400 BadRequest",
    );
    // DEMF has no cdm_companies row yet (only USMF is seeded, disabled).
    expect(attempt({ ...base, side: "dataverse", table: "accounts", company: "DEMF" })).to.equal(
      "400 BadRequest",
    );
    expect(attempt({ ...base, side: "dataverse", table: "accounts", company: "USMF" })).to.equal(
      undefined,
    );
    expect(attempt({ ...base, side: "fno", table: "Nope" })).to.equal("404 TableNotFound");
    expect(attempt({ ...base, env: "nope", side: "fno", table: "CustomersV3" })).to.equal(
      "404 EnvironmentNotFound",
    );
  });

  it("refuses an unknown scenario, a bad size or name, and a name in use", () => {
    const attempt = (options: {
      scenario: string;
      name: string;
      size?: number;
    }): string | undefined => {
      try {
        seedEnvironment(env.ctx, env.runtime, options);
        return undefined;
      } catch (e) {
        return codeOf(e);
      }
    };
    expect(attempt({ scenario: "old-old", name: "a" })).to.equal("400 UnknownScenario");
    expect(attempt({ scenario: "new-new", name: "b", size: -1 })).to.equal("400 InvalidSize");
    expect(attempt({ scenario: "new-new", name: "c", size: maxSeedSize + 1 })).to.equal(
      "400 InvalidSize",
    );
    expect(attempt({ scenario: "new-new", name: "has space" })).to.equal("400 InvalidName");
    expect(attempt({ scenario: "new-new", name: "d" })).to.equal(undefined);
    expect(attempt({ scenario: "new-new", name: "d" })).to.equal("409 EnvironmentExists");
  });
});

describe("map catalog", () => {
  it("publishes every catalog map, each in an orchestration solution, with a Dataverse table", () => {
    expect(mapSpecs.map((s) => s.name)).to.deep.equal(mapCatalog.map((m) => m.name));
    const tables = new Set(dataverseTableDefinitions().map((d) => d.name));
    for (const spec of mapSpecs) {
      expect(orchestrationSolutions, spec.name).to.include(spec.solution);
      expect(tables.has(spec.dataverseEntitySet), spec.dataverseEntitySet).to.equal(true);
      expect(spec.templates.length, spec.name).to.be.greaterThan(0);
    }
    for (const name of [
      "cdm_companies - Legal entities",
      "transactioncurrencies - Currencies",
      "msdyn_customergroups - Customer groups",
      "accounts - Customers V3",
      "contacts - Customers V3",
    ]) {
      expect(mapSpec(name)?.solution, name).to.equal("msdyn_DualWriteAppCoreMaps");
      expect(mapSpec(name)?.movesRows, name).to.equal(true);
    }
  });

  it("has real prerequisites, in start order", () => {
    expect(prerequisiteSequence("accounts - Customers V3")).to.deep.equal([
      "cdm_companies - Legal entities",
      "transactioncurrencies - Currencies",
      "msdyn_customergroups - Customer groups",
    ]);
    expect(prerequisiteSequence("msdyn_customergroups - Customer groups")).to.deep.equal([
      "cdm_companies - Legal entities",
    ]);
    expect(prerequisiteSequence("uoms - Units")).to.deep.equal([]);
    expect(prerequisiteSequence("msdyn_salutations - Salutations")).to.deep.equal([
      "cdm_companies - Legal entities",
    ]);
  });

  it("has several versions for some maps, a second author for some, and Microsoft's newest active", () => {
    const accounts = mapSpec("accounts - Customers V3");
    expect(accounts?.templates.map((t) => `${t.author} ${versionText(t.version)}`)).to.deep.equal([
      "Contoso 1.0.0.1",
      "Microsoft 1.0.0.4",
      "Microsoft 1.0.0.5",
    ]);
    expect(accounts && versionText(defaultTemplate(accounts).version)).to.equal("1.0.0.5");
    expect(
      mapSpecs.filter((s) => s.templates.some((t) => t.author !== "Microsoft")).length,
    ).to.be.greaterThan(2);
    expect(mapSpecs.filter((s) => s.templates.length > 1).length).to.be.greaterThan(20);
  });

  it("counts lookups from the field mappings; a few header maps have ten or more", () => {
    expect(mapSpec("accounts - Customers V3")?.lookupCount).to.equal(3);
    const heavy = mapSpecs.filter((s) => s.lookupCount >= 10).map((s) => s.name);
    expect(heavy).to.include("msdyn_vendors - Vendors V2");
    expect(heavy.length).to.be.lessThan(10);
    for (const s of mapSpecs) {
      expect(
        s.fieldMappings.filter((f) => f.destinationField.includes(".")).length,
        s.name,
      ).to.equal(s.lookupCount);
    }
  });
});
