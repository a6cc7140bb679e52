/**
 * DualWriteScenario: the plan (which resources, in which order) for each of the six scenarios,
 * the declaration errors it refuses, and the component's wiring under Pulumi's mocks.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { knownPrerequisites } from "../../provider/scenario/catalog";
import {
  DualWriteScenario,
  DUALWRITE_SCENARIO_TYPE,
} from "../../provider/scenario/dualWriteScenario";
import {
  planScenario,
  validateDeclaration,
  type ScenarioDeclaration,
} from "../../provider/scenario/plan";
import { SCENARIOS } from "../../provider/scenario/scenarios";

const ACCOUNTS = "accounts - Customers V3";
const CONTACTS = "contacts - Customers V3";
const LEGAL_ENTITIES = "cdm_companies - Legal entities";
const CURRENCIES = "transactioncurrencies - Currencies";
const GROUPS = "msdyn_customergroups - Customer groups";

describe("DualWriteScenario", () => {
  describe("catalog prerequisites", () => {
    it("orders each map after the maps it looks up", () => {
      expect(knownPrerequisites(ACCOUNTS)).to.deep.equal([LEGAL_ENTITIES, CURRENCIES, GROUPS]);
      expect(knownPrerequisites(GROUPS)).to.deep.equal([LEGAL_ENTITIES]);
      expect(knownPrerequisites("msdyn_salutations - Salutations")).to.deep.equal([LEGAL_ENTITIES]);
      expect(knownPrerequisites("uoms - Units")).to.deep.equal([]);
    });
  });

  describe("plans", () => {
    it("existing-existing: prerequisites first, their data synced first, bootstrap given", () => {
      const plan = planScenario({
        scenario: "existing-existing",
        legalEntities: ["USMF", "USRT"],
        bootstrapCompanies: ["USMF"],
        maps: [
          { name: ACCOUNTS, initialSync: { master: "FinanceOperations" } },
          { name: CONTACTS, initialSync: "skip" },
        ],
      });
      expect(plan.maps.map((m) => m.name)).to.deep.equal([
        LEGAL_ENTITIES,
        CURRENCIES,
        GROUPS,
        ACCOUNTS,
        CONTACTS,
      ]);
      expect(plan.maps.map((m) => m.declared)).to.deep.equal([false, false, false, true, true]);
      const byName = Object.fromEntries(plan.maps.map((m) => [m.name, m]));
      expect(byName[ACCOUNTS]!.prerequisites).to.deep.equal([LEGAL_ENTITIES, CURRENCIES, GROUPS]);
      expect(byName[ACCOUNTS]!.initialSync).to.deep.equal({ master: "FinanceOperations" });
      expect(byName[CONTACTS]!.initialSync).to.equal(undefined);
      // The added prerequisites are synced too (same master), so the accounts' lookups resolve.
      expect(byName[GROUPS]!.initialSync).to.deep.equal({ master: "FinanceOperations" });
      expect(byName[LEGAL_ENTITIES]!.initialSync).to.deep.equal({ master: "FinanceOperations" });
      expect(byName[CURRENCIES]!.initialSync).to.deep.equal({ master: "FinanceOperations" });
      // Each map's binding comes after the bindings of the maps it needs (and a binding's start
      // is its initial sync), so their data is there first.
      expect(byName[GROUPS]!.prerequisites).to.deep.equal([LEGAL_ENTITIES]);
      expect(byName[CONTACTS]!.prerequisites).to.deep.equal([LEGAL_ENTITIES, CURRENCIES, GROUPS]);
      expect(plan.bootstraps).to.deep.equal([{ code: "USMF" }]);
      expect(plan.legalEntities).to.deep.equal(["USMF", "USRT"]);
    });

    it("new-existing: the companies to bootstrap are created in F&O and linked beside DAT", () => {
      const plan = planScenario({
        scenario: "new-existing",
        bootstrapCompanies: ["abc"],
        maps: [{ name: ACCOUNTS }],
      });
      expect(plan.legalEntities).to.deep.equal(["DAT", { code: "ABC", createIfMissing: true }]);
      expect(plan.bootstraps).to.deep.equal([{ code: "ABC" }]);
      // new-existing pulls Dataverse's data: master Dataverse by default.
      expect(plan.maps.find((m) => m.name === ACCOUNTS)!.initialSync).to.deep.equal({
        master: "Dataverse",
      });
    });

    it("new-new: nothing to copy, live sync only; no bootstrap", () => {
      const plan = planScenario({
        scenario: "new-new",
        maps: [{ name: ACCOUNTS }, { name: CONTACTS }],
      });
      expect(plan.maps.every((m) => m.initialSync === undefined)).to.equal(true);
      expect(plan.bootstraps).to.deep.equal([]);
      expect(plan.legalEntities).to.equal(undefined); // the connection's default: DAT
    });

    for (const scenario of ["new-data-new", "new-data-existing", "existing-new"] as const) {
      it(`${scenario}: F&O data is copied (master FinanceOperations by default)`, () => {
        const plan = planScenario({ scenario, maps: [{ name: CONTACTS }] });
        expect(plan.maps.find((m) => m.name === CONTACTS)!.initialSync).to.deep.equal({
          master: "FinanceOperations",
        });
      });
    }

    it("a declared prerequisite keeps its own settings and is not added twice", () => {
      const plan = planScenario({
        scenario: "existing-existing",
        maps: [
          { name: ACCOUNTS, initialSync: "skip" },
          { name: GROUPS, version: "1.0.0.1", initialSync: { master: "Dataverse" } },
        ],
      });
      expect(plan.maps.map((m) => m.name)).to.deep.equal([
        LEGAL_ENTITIES,
        CURRENCIES,
        GROUPS,
        ACCOUNTS,
      ]);
      const groups = plan.maps.find((m) => m.name === GROUPS)!;
      expect(groups).to.deep.include({
        declared: true,
        version: "1.0.0.1",
        initialSync: { master: "Dataverse" },
      });
      // The declared sync of customer groups brings the legal entities' sync (same master); the
      // currencies, which only the unsynced accounts need, stay live only.
      expect(plan.maps.find((m) => m.name === LEGAL_ENTITIES)!.initialSync).to.deep.equal({
        master: "Dataverse",
      });
      expect(plan.maps.find((m) => m.name === CURRENCIES)!.initialSync).to.equal(undefined);
    });
  });

  describe("declaration errors", () => {
    const base: ScenarioDeclaration = { scenario: "existing-existing", maps: [{ name: ACCOUNTS }] };
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      ["an unknown scenario", { ...base, scenario: "both-new" }, "scenario", /new-new/],
      ["no maps", { ...base, maps: [] }, "maps", /at least one map/],
      ["a map twice", { ...base, maps: [{ name: ACCOUNTS }, { name: ACCOUNTS }] }, "maps", /once/],
      [
        "a bad initial-sync master",
        { ...base, maps: [{ name: ACCOUNTS, initialSync: { master: "CRM" } }] },
        "maps",
        /maps\[0\]\.initialSync\.master/,
      ],
      [
        "initialSync that is neither skip nor an object",
        { ...base, maps: [{ name: ACCOUNTS, initialSync: "always" }] },
        "maps",
        /"skip"/,
      ],
      [
        "bootstrap with a new Dataverse",
        { ...base, scenario: "existing-new", bootstrapCompanies: ["USMF"] },
        "bootstrapCompanies",
        /new Dataverse/,
      ],
      [
        "several bootstrap companies without business units",
        { ...base, bootstrapCompanies: ["USMF", "DEMF"] },
        "bootstrapCompanies",
        /owningBusinessUnit/,
      ],
      [
        "a bootstrap company that is not linked",
        { ...base, legalEntities: ["USMF"], bootstrapCompanies: ["DEMF"] },
        "bootstrapCompanies",
        /not among legalEntities/,
      ],
      [
        "initial-sync results for a legal entity that is not linked",
        {
          ...base,
          legalEntities: ["USMF"],
          maps: [{ name: ACCOUNTS, initialSync: { master: "Dataverse", legalEntities: ["DEMF"] } }],
        },
        "maps",
        /DEMF is not among legalEntities\. An initial sync covers every legal entity of the link/,
      ],
      [
        "an over-long company code",
        { ...base, legalEntities: ["CONTOSO"] },
        "legalEntities",
        /at most 4/,
      ],
      [
        "a timeout that is not a duration",
        { ...base, timeouts: { create: "soon" } },
        "timeouts",
        /timeouts\.create must be a positive duration such as "90s", "30m", "2h"/,
      ],
      [
        "a timeout for an operation that does not exist",
        { ...base, timeouts: { refresh: "1h" } },
        "timeouts",
        /timeouts/,
      ],
      [
        "waitForCompletion that is not a boolean",
        { ...base, waitForCompletion: "no" },
        "waitForCompletion",
        /true or false/,
      ],
      [
        "an onDelete a link does not know",
        { ...base, onDelete: "stop" },
        "onDelete",
        /leave|reset/,
      ],
      [
        "adoptWithChanges that is not a boolean",
        { ...base, adoptWithChanges: 1 },
        "adoptWithChanges",
        /true or false/,
      ],
    ];
    for (const [title, declaration, property, says] of cases) {
      it(`refuses ${title}, naming ${property}`, () => {
        const errors = validateDeclaration(declaration);
        expect(errors.map((e) => e.property)).to.deep.equal([property]);
        expect(errors[0]!.message).to.match(says);
        expect(() => planScenario(declaration as unknown as ScenarioDeclaration)).to.throw(says);
      });
    }
    it("accepts each of the six scenarios", () => {
      for (const scenario of SCENARIOS)
        expect(validateDeclaration({ ...base, scenario })).to.deep.equal([]);
    });
  });

  describe("component wiring (Pulumi mocks)", () => {
    const registered: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    before(async () => {
      await pulumi.runtime.setMocks(
        {
          newResource: (args) => {
            registered.push({
              type: args.type,
              name: args.name,
              inputs: args.inputs as Record<string, unknown>,
            });
            return {
              id: `${args.name}-id`,
              state: {
                ...(args.inputs as Record<string, unknown>),
                observedState: "Running",
                linkedLegalEntities: ["USMF"],
                // A binding that synced records its results; the component gathers them.
                ...((args.inputs as Record<string, unknown>).initialSync !== undefined && {
                  lastInitialSync: { results: [{ legalEntity: "USMF", upserted: 1 }] },
                }),
              },
            };
          },
          call: () => ({}),
        },
        "scenario-test",
        "dev",
        true,
      );
    });

    it("creates the connection, bootstraps and bindings under the component; a binding's start is its initial sync", async () => {
      const setup = new DualWriteScenario("contoso", {
        scenario: "existing-existing",
        financeOperationsUrl: "https://contoso.operations.dynamics.com",
        dataverseUrl: "https://contoso.crm.dynamics.com",
        legalEntities: ["USMF"],
        bootstrapCompanies: [{ code: "USMF", owningBusinessUnit: "Contoso US" }],
        maps: [{ name: ACCOUNTS, initialSync: { master: "FinanceOperations" } }],
        initialSyncTrigger: "2026-11-24",
      });
      const states = await new Promise<Record<string, string>>((resolve) =>
        setup.mapStates.apply(resolve),
      );
      const results = await new Promise<Record<string, unknown[]>>((resolve) =>
        setup.initialSyncResults.apply(resolve),
      );
      expect(Object.keys(states)).to.deep.equal([LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS]);
      const byType = (suffix: string) => registered.filter((r) => r.type.endsWith(suffix));
      expect(byType("DualWriteScenario").map((r) => r.type)).to.deep.equal([
        DUALWRITE_SCENARIO_TYPE,
      ]);
      expect(byType(":DualWriteConnection").map((r) => r.name)).to.deep.equal(["contoso"]);
      expect(
        byType(":CompanyBootstrap").map((r) => [r.name, r.inputs.owningBusinessUnit]),
      ).to.deep.equal([["contoso-bootstrap-usmf", "Contoso US"]]);
      expect(byType(":EntityMapBinding").map((r) => r.inputs.mapName)).to.deep.equal([
        LEGAL_ENTITIES,
        CURRENCIES,
        GROUPS,
        ACCOUNTS,
      ]);
      expect(
        byType(":EntityMapBinding").every((r) => r.inputs.startPrerequisites === true),
      ).to.equal(true);
      // No separate run: each map is started once, with its initial sync (ADR 0006); the added
      // prerequisites sync too, with the accounts' master and the scenario's trigger.
      expect(byType(":InitialSyncRun")).to.deep.equal([]);
      expect(
        byType(":EntityMapBinding").map((r) => [r.inputs.mapName, r.inputs.initialSync]),
      ).to.deep.equal(
        [LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS].map((m) => [
          m,
          { master: "FinanceOperations", trigger: "2026-11-24" },
        ]),
      );
      expect(Object.keys(results)).to.deep.equal([LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS]);
      expect(results[ACCOUNTS]).to.deep.equal([{ legalEntity: "USMF", upserted: 1 }]);
      // Every dynamic resource carries its serialized provider, and none carries a credential.
      for (const r of registered.filter((x) => x.type.startsWith("pulumi-nodejs:dynamic"))) {
        expect(r.inputs.__provider).to.be.a("string");
        expect(Object.keys(r.inputs).some((k) => /secret|password|token/i.test(k))).to.equal(false);
      }
    });

    it("passes timeouts, adoptWithChanges, onDelete and waitForCompletion on to the resources it creates", async () => {
      const setup = new DualWriteScenario("ci", {
        scenario: "existing-existing",
        financeOperationsUrl: "https://contoso.operations.dynamics.com",
        dataverseUrl: "https://contoso.crm.dynamics.com",
        legalEntities: ["USMF"],
        maps: [
          { name: ACCOUNTS, initialSync: { master: "FinanceOperations" } },
          { name: CONTACTS, initialSync: "skip" },
        ],
        waitForCompletion: false,
        timeouts: { create: "6h", delete: "45m" },
        onDelete: "leave",
        adoptWithChanges: true,
      });
      await new Promise((resolve) => setup.mapStates.apply(resolve));
      const mine = registered.filter((r) => r.name === "ci" || r.name.startsWith("ci-"));
      const link = mine.find((r) => r.type.endsWith(":DualWriteConnection"))!;
      expect(link.inputs).to.deep.include({
        timeouts: { create: "6h", delete: "45m" },
        onDelete: "leave",
        adoptWithChanges: true,
      });
      const bindings = mine.filter((r) => r.type.endsWith(":EntityMapBinding"));
      // (Registered in the order their inputs resolve: compared by map name.)
      expect(bindings.map((b) => b.inputs.mapName).sort()).to.deep.equal(
        [LEGAL_ENTITIES, CURRENCIES, GROUPS, ACCOUNTS, CONTACTS].sort(),
      );
      for (const b of bindings)
        expect(b.inputs, String(b.inputs.mapName)).to.deep.include({
          timeouts: { create: "6h", delete: "45m" },
          // The link is left as it is, so its maps keep running.
          onDelete: "leave",
          adoptWithChanges: true,
        });
      // Not waiting applies to the synced map no other map needs; the maps whose data the
      // accounts look up are still waited for, so that their data is there when accounts start.
      const waits = Object.fromEntries(
        bindings.map((b) => [
          String(b.inputs.mapName),
          (b.inputs.initialSync as { waitForCompletion?: boolean } | undefined)?.waitForCompletion,
        ]),
      );
      expect(waits).to.deep.equal({
        [LEGAL_ENTITIES]: undefined,
        [CURRENCIES]: undefined,
        [GROUPS]: undefined,
        [ACCOUNTS]: false,
        [CONTACTS]: undefined,
      });
      // Bootstraps wait for nothing long: they take none of it.
      expect(mine.filter((r) => r.type.endsWith(":CompanyBootstrap"))).to.deep.equal([]);
    });

    it("a link reset on destroy has its maps stopped; without onDelete, ownership decides", async () => {
      const declare = (name: string, onDelete?: "reset") =>
        new DualWriteScenario(name, {
          scenario: "existing-existing",
          financeOperationsUrl: "https://contoso.operations.dynamics.com",
          dataverseUrl: "https://contoso.crm.dynamics.com",
          maps: [{ name: GROUPS, initialSync: "skip" }],
          ...(onDelete && { onDelete }),
        });
      await new Promise((resolve) => declare("reset", "reset").mapStates.apply(resolve));
      await new Promise((resolve) => declare("owned").mapStates.apply(resolve));
      const onDeleteOf = (prefix: string) =>
        registered
          .filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`))
          .filter((r) => /:(DualWriteConnection|EntityMapBinding)$/.test(r.type))
          .map((r) => [r.name, r.inputs.onDelete, r.inputs.timeouts, r.inputs.adoptWithChanges]);
      expect(onDeleteOf("reset").sort()).to.deep.equal([
        ["reset", "reset", undefined, undefined],
        ["reset-map-cdm-companies-legal-entities", "stop", undefined, undefined],
        ["reset-map-msdyn-customergroups-customer-groups", "stop", undefined, undefined],
      ]);
      expect(onDeleteOf("owned").map(([, ...rest]) => rest)).to.deep.equal([
        [undefined, undefined, undefined],
        [undefined, undefined, undefined],
        [undefined, undefined, undefined],
      ]);
    });

    it("refuses a bad declaration at construction, naming the property", () => {
      expect(
        () =>
          new DualWriteScenario("bad", {
            scenario: "existing-existing",
            financeOperationsUrl: "https://contoso.operations.dynamics.com",
            dataverseUrl: "https://contoso.crm.dynamics.com",
            maps: [],
          }),
      ).to.throw(/\[maps\] maps is empty/);
      expect(
        () =>
          new DualWriteScenario("bad-timeouts", {
            scenario: "existing-existing",
            financeOperationsUrl: "https://contoso.operations.dynamics.com",
            dataverseUrl: "https://contoso.crm.dynamics.com",
            maps: [{ name: ACCOUNTS }],
            timeouts: { create: "six hours" },
          }),
      ).to.throw(/\[timeouts\] timeouts\.create must be a positive duration/);
    });
  });
});
