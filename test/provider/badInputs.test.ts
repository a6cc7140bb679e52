/**
 * Bad inputs, table-driven, against the in-process emulator: each is answered by `check` with
 * exactly one failure that names the property at fault and says what to do, and the emulator's
 * request log shows that nothing was written (reads are allowed: some rules need the
 * environments, e.g. a scenario the data contradicts).
 */
import { expect } from "chai";
import { companyBootstrapLifecycle as bootstrap } from "../../provider/resources/companyBootstrap/companyBootstrap.handler";
import type { Lifecycle } from "../../provider/resources/common/handler";
import { dualWriteConnectionLifecycle as connection } from "../../provider/resources/dualWriteConnection/dualWriteConnection.handler";
import type { DualWriteConnectionOutputs } from "../../provider/resources/dualWriteConnection/dualWriteConnection.schema";
import { entityMapBindingLifecycle as binding } from "../../provider/resources/entityMapBinding/entityMapBinding.handler";
import { initialSyncRunLifecycle as run } from "../../provider/resources/initialSyncRun/initialSyncRun.handler";
import { startResourceHarness, type ResourceHarness } from "./harness";

interface BadInput {
  readonly title: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a table of differently typed lifecycles
  readonly lifecycle: Lifecycle<any, any>;
  readonly inputs: () => Record<string, unknown>;
  /** The property the failure must name. */
  readonly property: string;
  /** Something the reason must say (what is wrong or what to do). */
  readonly says: RegExp;
}

describe("bad inputs: one failure naming the property, zero writes (provider, emulator)", () => {
  let h: ResourceHarness;
  let link: DualWriteConnectionOutputs;

  before(async () => {
    h = await startResourceHarness({
      seed: [
        { scenario: "existing-existing", name: "ee" },
        { scenario: "existing-new", name: "en" },
        { scenario: "new-new", name: "nn" },
        { scenario: "new-new", name: "other" },
        { scenario: "existing-existing", name: "ex" },
      ],
    });
    link = (
      await connection.create(
        {
          scenario: "existing-existing",
          financeOperationsUrl: h.env("ee").financeOperationsUrl,
          dataverseUrl: h.env("ee").dataverseUrl,
          legalEntities: ["USMF"],
        },
        h.ctx(),
      )
    ).outs;
    // "other" F&O linked to its own Dataverse: declaring it with another Dataverse conflicts.
    await connection.create(
      {
        scenario: "new-new",
        financeOperationsUrl: h.env("other").financeOperationsUrl,
        dataverseUrl: h.env("other").dataverseUrl,
      },
      h.ctx(),
    );
  });
  after(() => h.close());

  const conn = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    scenario: "existing-existing",
    financeOperationsUrl: h.env("ee").financeOperationsUrl,
    dataverseUrl: h.env("ee").dataverseUrl,
    legalEntities: ["USMF"],
    ...extra,
  });
  const map = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    environmentId: link.environmentId,
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    mapName: "accounts - Customers V3",
    ...extra,
  });
  const boot = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    financeOperationsUrl: link.financeOperationsUrl,
    dataverseUrl: link.dataverseUrl,
    companyCode: "USMF",
    ...extra,
  });
  const sync = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    ...map(),
    master: "FinanceOperations",
    legalEntities: ["USMF"],
    ...extra,
  });
  const codes = (n: number): string[] =>
    Array.from({ length: n }, (_, i) => `C${String(i).padStart(3, "0")}`);

  const cases: BadInput[] = [
    // DualWriteConnection
    {
      title: "a non-HTTPS F&O URL",
      lifecycle: connection,
      inputs: () => conn({ financeOperationsUrl: "http://contoso.operations.dynamics.com" }),
      property: "financeOperationsUrl",
      says: /https/,
    },
    {
      title: "an F&O URL that is not a URL",
      lifecycle: connection,
      inputs: () => conn({ financeOperationsUrl: "contoso operations" }),
      property: "financeOperationsUrl",
      says: /not a URL/,
    },
    {
      title: "a Dataverse URL with credentials",
      lifecycle: connection,
      inputs: () => conn({ dataverseUrl: "https://user:pw@contoso.crm.dynamics.com" }),
      property: "dataverseUrl",
      says: /user name or password/,
    },
    {
      title: "a Dataverse URL with a query",
      lifecycle: connection,
      inputs: () => conn({ dataverseUrl: "https://contoso.crm.dynamics.com/?x=1" }),
      property: "dataverseUrl",
      says: /base URL/,
    },
    {
      title: "the same URL for both environments",
      lifecycle: connection,
      inputs: () => conn({ dataverseUrl: h.env("ee").financeOperationsUrl }),
      property: "dataverseUrl",
      says: /same address/,
    },
    {
      title: "an unknown scenario",
      lifecycle: connection,
      inputs: () => conn({ scenario: "old-old" }),
      property: "scenario",
      says: /existing-existing/,
    },
    {
      title: "an over-long company code",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: ["USMF", "CONTOSO"] }),
      property: "legalEntities",
      says: /at most 4/,
    },
    {
      title: "an empty company code",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: [""] }),
      property: "legalEntities",
      says: /empty/,
    },
    {
      title: "a company listed twice",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: ["USMF", "usmf"] }),
      property: "legalEntities",
      says: /once/,
    },
    {
      title: "more than 40 legal entities with initial writes",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: codes(41) }),
      property: "legalEntities",
      says: /at most 40/,
    },
    {
      title: "an unknown member of a legal entity",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: [{ code: "ABC", colour: "red" }] }),
      property: "legalEntities",
      says: /colour/,
    },
    {
      title: "a solution name that is not one",
      lifecycle: connection,
      inputs: () => conn({ solutions: ["core maps!"] }),
      property: "solutions",
      says: /unique name/,
    },
    {
      title: "a solution Dataverse has not installed",
      lifecycle: connection,
      inputs: () => conn({ solutions: ["msdyn_NotThere"] }),
      property: "solutions",
      says: /not installed/,
    },
    {
      title: "a flag that is not a boolean",
      lifecycle: connection,
      inputs: () => conn({ forceReset: "yes" }),
      property: "forceReset",
      says: /true or false/,
    },
    {
      title: "an input the resource does not have",
      lifecycle: connection,
      inputs: () => conn({ colour: "blue" }),
      property: "colour",
      says: /no input/,
    },
    {
      title: "an F&O environment the gateway does not know",
      lifecycle: connection,
      inputs: () => conn({ financeOperationsUrl: `https://127.0.0.201:${h.emulator.port}` }),
      property: "financeOperationsUrl",
      says: /knows no F&O environment/,
    },
    {
      title: "a legal entity F&O does not have",
      lifecycle: connection,
      inputs: () => conn({ legalEntities: ["USMF", "ZZZ"] }),
      property: "legalEntities",
      says: /createIfMissing/,
    },
    {
      title: "new-new against an F&O environment with customers",
      lifecycle: connection,
      inputs: () =>
        conn({
          scenario: "new-new",
          financeOperationsUrl: h.env("en").financeOperationsUrl,
          dataverseUrl: h.env("en").dataverseUrl,
        }),
      property: "scenario",
      says: /contradicts/,
    },
    {
      title: "existing-new against a Dataverse with accounts",
      lifecycle: connection,
      inputs: () =>
        conn({
          scenario: "existing-new",
          financeOperationsUrl: h.env("ex").financeOperationsUrl,
          dataverseUrl: h.env("ex").dataverseUrl,
        }),
      property: "scenario",
      says: /"existing-existing"/,
    },
    {
      title: "an F&O environment linked to another Dataverse",
      lifecycle: connection,
      inputs: () =>
        conn({
          scenario: "new-new",
          legalEntities: ["DAT"],
          financeOperationsUrl: h.env("other").financeOperationsUrl,
          dataverseUrl: h.env("nn").dataverseUrl,
        }),
      property: "dataverseUrl",
      says: /already linked/,
    },
    // EntityMapBinding
    {
      title: "an unknown map name",
      lifecycle: binding,
      inputs: () => map({ mapName: "accounts - Customer V3" }),
      property: "mapName",
      says: /did you mean "accounts - Customers V3"/,
    },
    {
      title: "an empty map name",
      lifecycle: binding,
      inputs: () => map({ mapName: " " }),
      property: "mapName",
      says: /empty/,
    },
    {
      title: "a version that is not one",
      lifecycle: binding,
      inputs: () => map({ version: "v2" }),
      property: "version",
      says: /"latest" or a four-part/,
    },
    {
      title: "a version the map does not have",
      lifecycle: binding,
      inputs: () => map({ version: "9.9.9.9" }),
      property: "version",
      says: /available: .*1\.0\.0\.5/,
    },
    {
      title: "an author with no version",
      lifecycle: binding,
      inputs: () => map({ author: "Nobody" }),
      property: "author",
      says: /available/,
    },
    {
      title: "a state that is not one",
      lifecycle: binding,
      inputs: () => map({ state: "Started" }),
      property: "state",
      says: /"Running", "Paused", "Stopped"/,
    },
    {
      title: "an integration key that is not a column",
      lifecycle: binding,
      inputs: () => map({ integrationKeys: ["account number"] }),
      property: "integrationKeys",
      says: /column name or lookup path/,
    },
    {
      title: "no connection",
      lifecycle: binding,
      inputs: () => map({ environmentId: "" }),
      property: "environmentId",
      says: /connection/,
    },
    // CompanyBootstrap
    {
      title: "an empty company code to bootstrap",
      lifecycle: bootstrap,
      inputs: () => boot({ companyCode: "" }),
      property: "companyCode",
      says: /empty/,
    },
    {
      title: "an over-long company code to bootstrap",
      lifecycle: bootstrap,
      inputs: () => boot({ companyCode: "USMF1" }),
      property: "companyCode",
      says: /at most 4/,
    },
    {
      title: "a table without a known company lookup",
      lifecycle: bootstrap,
      inputs: () => boot({ tables: ["accounts", "systemusers"] }),
      property: "tables",
      says: /systemusers/,
    },
    {
      title: "a business unit Dataverse does not have",
      lifecycle: bootstrap,
      inputs: () => boot({ owningBusinessUnit: "Contoso Mars" }),
      property: "owningBusinessUnit",
      says: /no business unit named "Contoso Mars"/,
    },
    // InitialSyncRun
    {
      title: "a master that is not one",
      lifecycle: run,
      inputs: () => sync({ master: "Both" }),
      property: "master",
      says: /"Dataverse", "FinanceOperations"/,
    },
    {
      title: "more than 40 legal entities in one initial sync",
      lifecycle: run,
      inputs: () => sync({ legalEntities: codes(41) }),
      property: "legalEntities",
      says: /at most 40/,
    },
    {
      title: "more than 40 legal entities from the link, with initial sync",
      lifecycle: run,
      inputs: () => sync({ legalEntities: undefined, linkedLegalEntities: codes(45) }),
      property: "legalEntities",
      says: /45 legal entities/,
    },
    {
      title: "a legal entity to report that the link does not have",
      lifecycle: run,
      inputs: () => sync({ legalEntities: ["USMF", "DEMF"] }),
      property: "legalEntities",
      says: /DEMF is not on the link \(it has USMF\)/,
    },
    {
      title: "an over-long trigger",
      lifecycle: run,
      inputs: () => sync({ trigger: "x".repeat(201) }),
      property: "trigger",
      says: /200 characters/,
    },
  ];

  it(`has at least 25 cases (${cases.length})`, () => {
    expect(cases.length).to.be.at.least(25);
  });

  for (const c of cases) {
    it(`${c.lifecycle.resource}: ${c.title} → ${c.property}`, async () => {
      const mark = await h.mark();
      const inputs = c.inputs();
      for (const [k, v] of Object.entries(inputs)) if (v === undefined) delete inputs[k];
      const failures = await c.lifecycle.check({}, inputs, h.ctx());
      expect(
        failures.map((f) => f.property),
        JSON.stringify(failures),
      ).to.deep.equal([c.property]);
      expect(failures[0]!.reason).to.match(c.says);
      expect(await h.writesSince(mark)).to.deep.equal([]);
    });
  }
});
